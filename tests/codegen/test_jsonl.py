"""JSON-lines reading: each kind of bad line is one DatasetError naming the file and the line."""

import gzip

import pytest

from hrm.codegen.jsonl import read_jsonl, require
from hrm.errors import DatasetError


def test_reads_objects_with_line_numbers_and_skips_blank_lines(tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (3, {"a": 2})]


def test_reads_gzip(tmp_path):
    path = tmp_path / "ok.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write('{"a": 1}\n')
    assert list(read_jsonl(path)) == [(1, {"a": 1})]


@pytest.mark.parametrize("content, message", [
    (b'{"a": 1}\n{"a": \n', r"bad.jsonl:2: not valid JSON"),
    (b'{"a": 1}\n[1, 2]\n', r"bad.jsonl:2: expected a JSON object, got list"),
    (b'{"a": 1}\n{"a": "\xff"}\n', r"bad.jsonl:2: not UTF-8"),
])
def test_corrupt_line_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message):
        list(read_jsonl(path))


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        list(read_jsonl(tmp_path / "absent.jsonl"))


def test_require_checks_presence_and_type():
    assert require({"k": "v"}, "k", str, "f:1") == "v"
    with pytest.raises(DatasetError, match="f:1: missing key 'k'"):
        require({}, "k", str, "f:1")
    with pytest.raises(DatasetError, match="f:1: key 'k' must be str, got int"):
        require({"k": 3}, "k", str, "f:1")
