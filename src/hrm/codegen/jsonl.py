"""Reading JSON-lines files (problem sets, model samples) with one clear error per bad line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Iterator

from hrm.errors import DatasetError


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line of a .jsonl (or .jsonl.gz) file; a line that is not
    a JSON object raises DatasetError naming the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DatasetError(f"{path}:{line_number}: not UTF-8 ({error.reason} at byte {error.start})") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{path}:{line_number}: not valid JSON ({error.msg} at column {error.colno})") \
                    from None
            if not isinstance(record, dict):
                raise DatasetError(f"{path}:{line_number}: expected a JSON object, got {type(record).__name__}")
            yield line_number, record


def require(record: dict, key: str, kind: type | tuple[type, ...], where: str) -> object:
    """record[key], checked for presence and type; `where` is "file:line" for the error message."""
    if key not in record:
        raise DatasetError(f"{where}: missing key '{key}'")
    value = record[key]
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DatasetError(f"{where}: key '{key}' must be {names}, got {type(value).__name__}")
    return value
