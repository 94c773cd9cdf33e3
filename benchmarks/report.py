"""How every benchmark saves its results: `<out>.json` holds every number, `<out>.md` the table a person reads.

Both are written to a temporary file and renamed, so an interrupted run never leaves half a result behind.
"""

from __future__ import annotations

import json
from pathlib import Path

from hrm.train.run import write_atomic


def write_report(out: str | Path, report: dict, text: str) -> None:
    """Write `report` to `<out>.json` and `text` to `<out>.md` (`out`'s own suffix is replaced)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out.with_suffix(".json"), json.dumps(report, indent=1) + "\n")
    write_atomic(out.with_suffix(".md"), text if text.endswith("\n") else text + "\n")
