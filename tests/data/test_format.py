"""The authors' on-disk format: validation errors are single clear lines; writes are atomic."""

import json

import numpy as np
import pytest

from hrm.data.format import DatasetMetadata, read_split, single_puzzle_set, staged_dataset, write_split
from hrm.errors import DatasetError


def write_small(root, **meta_changes):
    inputs = np.array([[1, 2, 3], [3, 2, 1]], dtype=np.uint8)
    meta = DatasetMetadata(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=4, seq_len=3,
                           num_puzzle_identifiers=1, total_groups=2, mean_puzzle_examples=1.0, sets=["all"])
    for k, v in meta_changes.items():
        setattr(meta, k, v)
    with staged_dataset(root, overwrite=True) as staging:
        write_split(staging / "train", meta, {"all": single_puzzle_set(inputs, inputs.copy())})


def test_round_trip(tmp_path):
    write_small(tmp_path / "d")
    split = read_split(tmp_path / "d", "train")
    assert split.sets["all"].num_examples == 2 and split.metadata.seq_len == 3


@pytest.mark.parametrize("damage,message", [
    (lambda d: (d / "train" / "all__inputs.npy").write_bytes((d / "train" / "all__inputs.npy").read_bytes()[:90]),
     "corrupt or truncated"),
    (lambda d: (d / "train" / "all__labels.npy").unlink(), "missing"),
    (lambda d: (d / "train" / "dataset.json").write_text("{"), "not valid JSON"),
    (lambda d: np.save(d / "train" / "all__inputs.npy", np.array([[1, 2, 9], [3, 2, 1]], dtype=np.uint8)),
     "outside vocab"),
    (lambda d: np.save(d / "train" / "all__puzzle_indices.npy", np.array([0, 3, 2], dtype=np.int32)),
     "non-decreasing"),
    (lambda d: np.save(d / "train" / "all__group_indices.npy", np.array([0, 1], dtype=np.int32)),
     "there are 2 puzzles"),
    (lambda d: np.save(d / "train" / "all__labels.npy", np.zeros((2, 4), dtype=np.uint8)), "do not match"),
])
def test_corrupt_dataset_raises_one_clear_error(tmp_path, damage, message):
    write_small(tmp_path / "d")
    damage(tmp_path / "d")
    with pytest.raises(DatasetError, match=message) as err:
        read_split(tmp_path / "d", "train")
    assert "\n" not in str(err.value)


def test_missing_metadata_field(tmp_path):
    write_small(tmp_path / "d")
    path = tmp_path / "d" / "train" / "dataset.json"
    meta = json.loads(path.read_text())
    del meta["seq_len"]
    path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="lacks field"):
        read_split(tmp_path / "d", "train")


def test_interrupted_build_leaves_nothing_that_looks_complete(tmp_path):
    out = tmp_path / "d"
    with pytest.raises(RuntimeError):
        with staged_dataset(out) as staging:
            (staging / "train").mkdir()
            raise RuntimeError("killed")
    assert not out.exists()
    assert not list(tmp_path.iterdir())
    write_small(out)
    with pytest.raises(DatasetError, match="already exists"):
        with staged_dataset(out):
            pass
