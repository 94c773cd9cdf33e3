"""Aider's edit formats: parsing and applying replies, and one clear reason for each malformed reply."""

import pytest

from hrm.codegen.edit_formats import (EDIT_FORMATS, MalformedEdit, apply_search_replace, apply_whole,
                                      parse_search_replace)

STUB = "class Game:\n    def roll(self, pins):\n        pass\n\n    def score(self):\n        pass\n"
FILES = {"game.py": STUB, "helpers/util.py": "def helper():\n    return 1\n"}


def diff(body: str, path: str = "game.py") -> str:
    return f"Some prose.\n\n{path}\n```python\n{body}```\n"


# ------------------------------------------------------------------------------------------------- whole

def test_whole_replaces_the_named_file():
    assert apply_whole("Here:\n\ngame.py\n```python\nprint(1)\n```\n", FILES) == {"game.py": "print(1)\n"}


def test_whole_maps_a_bogus_folder_to_the_file_of_that_name():
    assert apply_whole("path/to/util.py\n```\nx = 1\n```\n", FILES) == {"helpers/util.py": "x = 1\n"}


def test_whole_block_without_path_uses_the_mentioned_or_only_file():
    assert apply_whole("Edit `game.py` now:\n\n```\nx = 2\n```\n", FILES) == {"game.py": "x = 2\n"}
    assert apply_whole("```\nx = 3\n```\n", {"game.py": STUB}) == {"game.py": "x = 3\n"}


def test_whole_unterminated_last_block_still_counts():
    assert apply_whole("game.py\n```\nx = 4\n", FILES) == {"game.py": "x = 4\n"}


def test_whole_new_file_is_allowed_under_a_plain_relative_path():
    assert apply_whole("extra.py\n```\ny = 1\n```\n", FILES) == {"extra.py": "y = 1\n"}


@pytest.mark.parametrize("reply, reason", [
    ("I cannot do this.", "no file listing"),
    ("```\nx = 1\n```\n", "no file path"),
    ("../escape.py\n```\nx = 1\n```\n", "unusable path"),
    ("a/./b.py\n```\nx = 1\n```\n", "unusable path"),
    ("/etc/passwd\n```\nx = 1\n```\n", "unusable path"),
])
def test_whole_malformed_replies(reply, reason):
    with pytest.raises(MalformedEdit, match=reason):
        apply_whole(reply, FILES)


# ------------------------------------------------------------------------------------------ search/replace

def test_diff_exact_match():
    reply = diff("<<<<<<< SEARCH\n    def score(self):\n        pass\n=======\n    def score(self):\n"
                 "        return 0\n>>>>>>> REPLACE\n")
    assert apply_search_replace(reply, FILES)["game.py"].endswith("    def score(self):\n        return 0\n")


def test_diff_path_inside_the_fence_and_longer_markers():
    reply = ("```python\ngame.py\n<<<<<<<<< SEARCH\n    def score(self):\n        pass\n=========\n"
             "    def score(self):\n        return 1\n>>>>>>>>> REPLACE\n```\n")
    assert "return 1" in apply_search_replace(reply, FILES)["game.py"]


def test_diff_path_decorations_are_stripped():
    reply = "**game.py**:\n```\n<<<<<<< SEARCH\nclass Game:\n=======\nclass Bowling:\n>>>>>>> REPLACE\n```\n"
    assert apply_search_replace(reply, FILES)["game.py"].startswith("class Bowling:\n")


def test_diff_tolerates_uniformly_missing_indentation():
    reply = diff("<<<<<<< SEARCH\ndef roll(self, pins):\n    pass\n=======\ndef roll(self, pins):\n"
                 "    self.pins = pins\n>>>>>>> REPLACE\n")
    assert "    def roll(self, pins):\n        self.pins = pins\n" in apply_search_replace(reply, FILES)["game.py"]


def test_diff_drops_a_spurious_leading_blank_line():
    reply = diff("<<<<<<< SEARCH\n\n    def score(self):\n        pass\n=======\n    def score(self):\n"
                 "        return 2\n>>>>>>> REPLACE\n")
    assert "return 2" in apply_search_replace(reply, FILES)["game.py"]


def test_diff_ellipsis_stands_for_unchanged_lines():
    reply = diff("<<<<<<< SEARCH\nclass Game:\n...\n    def score(self):\n=======\nclass Bowling:\n...\n"
                 "    def total(self):\n>>>>>>> REPLACE\n")
    result = apply_search_replace(reply, FILES)["game.py"]
    assert result.startswith("class Bowling:\n    def roll") and "def total(self):" in result


def test_diff_empty_search_appends_or_creates():
    reply = diff("<<<<<<< SEARCH\n=======\nX = 1\n>>>>>>> REPLACE\n") + \
        diff("<<<<<<< SEARCH\n=======\nY = 2\n>>>>>>> REPLACE\n", path="new_module.py")
    written = apply_search_replace(reply, FILES)
    assert written["game.py"] == STUB + "X = 1\n" and written["new_module.py"] == "Y = 2\n"


def test_diff_later_block_reuses_the_previous_path_and_sees_earlier_edits():
    reply = diff("<<<<<<< SEARCH\n        pass\n\n=======\n        self.pins = pins\n\n>>>>>>> REPLACE\n"
                 "<<<<<<< SEARCH\n        pass\n=======\n        return 3\n>>>>>>> REPLACE\n")
    result = apply_search_replace(reply, FILES)["game.py"]
    assert "self.pins = pins" in result and "return 3" in result and "pass" not in result


def test_diff_block_that_fits_another_editable_file_is_applied_there():
    reply = diff("<<<<<<< SEARCH\n    return 1\n=======\n    return 5\n>>>>>>> REPLACE\n")
    assert apply_search_replace(reply, FILES) == {"helpers/util.py": "def helper():\n    return 5\n"}


def test_diff_shell_blocks_are_skipped():
    reply = "```bash\n<<<<<<< SEARCH\nrm -rf /\n```\n" + \
        diff("<<<<<<< SEARCH\nclass Game:\n=======\nclass G:\n>>>>>>> REPLACE\n")
    assert list(apply_search_replace(reply, FILES)) == ["game.py"]


def test_parse_search_replace_returns_the_blocks():
    blocks = parse_search_replace(diff("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n"))
    assert [(b.path, b.search, b.replace) for b in blocks] == [("game.py", "a\n", "b\n")]


@pytest.mark.parametrize("reply, reason", [
    ("Nothing to change.", "no SEARCH/REPLACE block"),
    ("<<<<<<< SEARCH\nclass Game:\n=======\nclass G:\n>>>>>>> REPLACE\n", "no file path"),
    (diff("<<<<<<< SEARCH\nclass Game:\n>>>>>>> REPLACE\n"), "expected `=======`"),
    (diff("<<<<<<< SEARCH\nclass Game:\n=======\nclass G:\n"), "expected `>>>>>>> REPLACE`"),
    (diff("<<<<<<< SEARCH\nnot in the file\n=======\nx\n>>>>>>> REPLACE\n"), "does not match any lines of game.py"),
    (diff("<<<<<<< SEARCH\nclass Game:\n...\n=======\nclass G:\n>>>>>>> REPLACE\n"), "does not match"),
    (diff("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", path="../../etc/passwd"), "unusable path"),
])
def test_diff_malformed_replies(reply, reason):
    with pytest.raises(MalformedEdit, match=reason):
        apply_search_replace(reply, FILES)


def test_registry_names_both_formats():
    assert EDIT_FORMATS.names() == ["diff", "whole"]
    with pytest.raises(KeyError, match="unknown edit format"):
        EDIT_FORMATS.get("udiff")
