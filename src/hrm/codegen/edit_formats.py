"""Aider's edit formats: turning a model's reply into new contents for an exercise's files.

Rules follow aider (`aider/coders/wholefile_coder.py`, `editblock_coder.py`); the code is written anew.

- `whole`: each file is its path alone on a line, then a fenced block holding the complete new file. Any line
  that starts with the fence opens or closes a block; a block with no path line takes the path mentioned as
  `path` earlier, or the only editable file; an unterminated last block still counts.
- `diff` (SEARCH/REPLACE): the path on one of the three lines before a `<<<<<<< SEARCH` line (looking back
  past fence lines; `#`, `*`, backticks and a trailing colon are stripped), else the previous block's path.
  Markers may use 5 to 9 characters. The SEARCH text must match the file: exactly, then ignoring a uniform
  change of leading whitespace, then without a spurious leading blank line, then with `...` lines standing
  for elided text; a block that matches no lines of its file is tried on the other editable files. An empty
  SEARCH appends (or creates a new file). Fenced shell blocks are skipped.
  Aider's fuzzy (edit distance) matching is disabled upstream and absent here.

A path resolves to an editable file by exact match, else by a unique file name; anything else is a new file
(it must be a plain relative path). Any reply problem raises MalformedEdit with one line saying why; unlike
aider, which applies the blocks that match and reports the rest, a malformed reply is not tested at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Callable, Mapping

from hrm.registry import Registry

FENCE = "```"
SEARCH_MARK = re.compile(r"^<{5,9} SEARCH>?\s*$")
DIVIDER_MARK = re.compile(r"^={5,9}\s*$")
REPLACE_MARK = re.compile(r"^>{5,9} REPLACE\s*$")
ELLIPSIS_LINE = re.compile(r"(^\s*\.\.\.\n)", re.MULTILINE)
SHELL_FENCES = tuple(FENCE + name for name in
                     ("bash", "sh", "shell", "cmd", "batch", "powershell", "ps1", "zsh", "fish", "ksh", "csh", "tcsh"))


class MalformedEdit(ValueError):
    """The reply cannot be turned into files; the message says why."""


EditFunction = Callable[[str, Mapping[str, str]], dict[str, str]]
"""(reply, {editable path: current content}) -> {path: new content} for every file the reply writes."""


def resolve_path(name: str, editable: Mapping[str, str]) -> str:
    """The editable file `name` means (exact path, else a unique file name), or `name` as a new file."""
    if name in editable:
        return name
    same_name = [path for path in editable if PurePosixPath(path).name == PurePosixPath(name).name]
    if len(same_name) == 1:
        return same_name[0]
    parts = name.split("/")
    if not name or name.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\0" in name \
            or len(name) > 255:
        raise MalformedEdit(f"reply writes to an unusable path {name!r}")
    return name


# ----------------------------------------------------------------------------------------------------- whole


def apply_whole(reply: str, editable: Mapping[str, str]) -> dict[str, str]:
    written: dict[str, str] = {}
    lines = reply.splitlines(keepends=True)
    mentioned: str | None = None
    current: str | None = None
    body: list[str] = []
    for index, line in enumerate(lines):
        if line.startswith(FENCE):
            if current is not None:
                written[current] = "".join(body)
                current, body = None, []
                continue
            current = _whole_block_path(lines[index - 1].strip() if index > 0 else "", mentioned, editable)
        elif current is not None:
            body.append(line)
        else:
            mentioned = _mentioned_path(line, editable) or mentioned
    if current is not None:
        written[current] = "".join(body)
    if not written:
        raise MalformedEdit("reply holds no file listing (a path line followed by a fenced block)")
    return written


def _whole_block_path(name: str, mentioned: str | None, editable: Mapping[str, str]) -> str:
    if name:
        return resolve_path(name, editable)
    if mentioned is not None:
        return mentioned
    if len(editable) == 1:
        return next(iter(editable))
    raise MalformedEdit(f"no file path before a {FENCE} block, and several files are editable")


def _mentioned_path(line: str, editable: Mapping[str, str]) -> str | None:
    """An editable path written as `path` in running text (aider's `saw_fname`)."""
    for word in line.strip().split():
        word = word.rstrip(".:,;!")
        for path in editable:
            if word == f"`{path}`":
                return path
    return None


# ------------------------------------------------------------------------------------------ search / replace


@dataclass(frozen=True)
class SearchReplace:
    path: str
    search: str
    replace: str


def parse_search_replace(reply: str) -> list[SearchReplace]:
    lines = reply.splitlines(keepends=True)
    blocks: list[SearchReplace] = []
    index, path = 0, None
    while index < len(lines):
        line = lines[index]
        if line.strip().startswith(SHELL_FENCES):
            index += 1
            while index < len(lines) and not lines[index].strip().startswith(FENCE):
                index += 1
            index += 1
            continue
        if not SEARCH_MARK.match(line.strip()):
            index += 1
            continue
        path = _path_before(lines[max(0, index - 3):index]) or path
        if path is None:
            raise MalformedEdit(f"SEARCH block at line {index + 1} has no file path before it")
        search, index = _collect(lines, index + 1, DIVIDER_MARK, "=======")
        replace, index = _collect(lines, index + 1, REPLACE_MARK, ">>>>>>> REPLACE")
        blocks.append(SearchReplace(path, search, replace))
        index += 1
    return blocks


def _collect(lines: list[str], index: int, end: re.Pattern, end_text: str) -> tuple[str, int]:
    start = index
    while index < len(lines) and not end.match(lines[index].strip()):
        index += 1
    if index >= len(lines) or not end.match(lines[index].strip()):
        raise MalformedEdit(f"expected `{end_text}` after line {start}")
    return "".join(lines[start:index]), index


def _path_before(lines: list[str]) -> str | None:
    """Aider's look-back: the nearest line that is not a fence, provided only fences lie between."""
    for line in reversed(lines):
        name = _clean_path(line)
        if name:
            return name
        if not line.startswith(FENCE):
            return None
    return None


def _clean_path(line: str) -> str | None:
    name = line.strip()
    if name == "..." or name.startswith(FENCE):
        return None
    name = name.rstrip(":").lstrip("#").strip().strip("`").strip("*").replace("\\_", "_")
    return name or None


def apply_search_replace(reply: str, editable: Mapping[str, str]) -> dict[str, str]:
    blocks = parse_search_replace(reply)
    if not blocks:
        raise MalformedEdit("reply holds no SEARCH/REPLACE block")
    written: dict[str, str] = {}
    for number, block in enumerate(blocks, start=1):
        path = resolve_path(block.path, editable)
        search = _unwrap(block.search, path)
        replace = _unwrap(block.replace, path)
        if not search.strip():
            written[path] = written.get(path, editable.get(path, "")) + replace
            continue
        # As aider: a block that fits no lines of its file is tried on the other editable files.
        for candidate in [path, *(other for other in editable if other != path)]:
            content = written.get(candidate, editable.get(candidate))
            updated = None if content is None else replace_text(content, search, replace)
            if updated is not None:
                written[candidate] = updated
                break
        else:
            raise MalformedEdit(f"block {number}: SEARCH text does not match any lines of {path}")
    return written


def _unwrap(text: str, path: str) -> str:
    """Drop a leading line naming the file and a surrounding fence pair, as aider's strip_quoted_wrapping."""
    if not text:
        return text
    lines = text.splitlines()
    if lines and lines[0].strip().endswith(PurePosixPath(path).name):
        lines = lines[1:]
    if len(lines) >= 2 and lines[0].startswith(FENCE) and lines[-1].startswith(FENCE):
        lines = lines[1:-1]
    unwrapped = "\n".join(lines)
    return unwrapped + "\n" if unwrapped and not unwrapped.endswith("\n") else unwrapped


def replace_text(content: str, search: str, replace: str) -> str | None:
    """Aider's matching order; None when nothing matches."""
    content, search, replace = (text if not text or text.endswith("\n") else text + "\n"
                                for text in (content, search, replace))
    whole = content.splitlines(keepends=True)
    part = search.splitlines(keepends=True)
    new = replace.splitlines(keepends=True)
    updated = _exact_or_reindented(whole, part, new)
    if updated is None and len(part) > 2 and not part[0].strip():
        updated = _exact_or_reindented(whole, part[1:], new)
    if updated is None:
        updated = _replace_with_ellipses(content, search, replace)
    return updated


def _exact_or_reindented(whole: list[str], part: list[str], new: list[str]) -> str | None:
    for start in range(len(whole) - len(part) + 1):
        if whole[start:start + len(part)] == part:
            return "".join(whole[:start] + new + whole[start + len(part):])
    return _reindented(whole, part, new)


def _reindented(whole: list[str], part: list[str], new: list[str]) -> str | None:
    """Match `part` ignoring a uniform difference in leading whitespace, and indent `new` the same way."""
    indents = [len(line) - len(line.lstrip()) for line in part + new if line.strip()]
    trim = min(indents) if indents else 0
    part = [line[trim:] if line.strip() else line for line in part]
    new = [line[trim:] if line.strip() else line for line in new]
    for start in range(len(whole) - len(part) + 1):
        window = whole[start:start + len(part)]
        if any(have.lstrip() != want.lstrip() for have, want in zip(window, part)):
            continue
        prefixes = {have[:len(have) - len(want)] for have, want in zip(window, part) if have.strip()}
        if len(prefixes) != 1:
            continue
        prefix = prefixes.pop()
        new = [prefix + line if line.strip() else line for line in new]
        return "".join(whole[:start] + new + whole[start + len(part):])
    return None


def _replace_with_ellipses(content: str, search: str, replace: str) -> str | None:
    """`...` lines stand for unchanged text: the same `...` lines on both sides, and each piece of SEARCH
    between them must occur exactly once."""
    search_pieces = ELLIPSIS_LINE.split(search)
    replace_pieces = ELLIPSIS_LINE.split(replace)
    if len(search_pieces) == 1 or len(search_pieces) != len(replace_pieces) or \
            search_pieces[1::2] != replace_pieces[1::2]:
        return None
    for old, new in zip(search_pieces[::2], replace_pieces[::2]):
        if not old:
            if new:
                content = (content if content.endswith("\n") else content + "\n") + new
            continue
        if content.count(old) != 1:
            return None
        content = content.replace(old, new, 1)
    return content


EDIT_FORMATS: Registry[EditFunction] = Registry("edit format")
EDIT_FORMATS.add("whole", apply_whole)
EDIT_FORMATS.add("diff", apply_search_replace)
