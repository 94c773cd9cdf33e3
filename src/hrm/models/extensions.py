"""Model extensions: optional modules (e.g. the NEAT components in `hrm.neat`) that attach to a built
reasoner, chosen by configuration:

    model:
      name: trm
      extensions:
        titans: {num_memory_tokens: 4}     # options are validated by the extension's own config class

Each extension registers an `ExtensionSpec` here; `build_model` applies them in the order given. The core
never imports the research packages: they register themselves when imported (the CLI imports them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from hrm.registry import Registry


@dataclass(frozen=True)
class ExtensionSpec:
    config: type  # a @dataclass(kw_only=True) of the extension's options
    apply: Callable[[Any, Any], None]  # (reasoner, options instance) -> None; mutates the reasoner


EXTENSIONS: Registry[ExtensionSpec] = Registry("model extension")
