"""NEAT research modules (Titans memory, Transformer² SVF, BLT, MVoT) that compose with HRM/TRM.

Importing this package registers the modules' model extensions in `hrm.models.extensions.EXTENSIONS`
(BLT registers none: it is a byte-level front end and model used as the library `hrm.neat.blt`, see
docs/neat-blt.md). The core never imports this package; the CLI does.
"""
from hrm.neat import svf  # noqa: F401
from hrm.neat import titans  # noqa: F401
from hrm.neat import blt  # noqa: F401
