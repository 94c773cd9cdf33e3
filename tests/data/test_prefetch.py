"""The background prefetcher hands out the loader's batches unchanged and resumes exactly."""

import numpy as np
import pytest

from hrm.data.augment import AUGMENTATIONS
from hrm.data.format import read_split
from hrm.data.loader import TrainLoader
from hrm.data.prefetch import Prefetcher
from hrm.data.sudoku import build_small_sudoku


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("prefetch") / "data"
    build_small_sudoku(root, 2, num_train=40, num_test=4, seed=3, min_blanks=8, max_blanks=12)
    return read_split(root, "train")


def batches(source, n):
    return [{k: v.numpy().copy() for k, v in next(source).items()} for _ in range(n)]


def same(a, b):
    return all(np.array_equal(x[k], y[k]) for x, y in zip(a, b) for k in x) and len(a) == len(b)


def test_same_batches_and_state_as_the_plain_loader(split):
    augment = AUGMENTATIONS.get("sudoku")
    plain = TrainLoader(split, 16, seed=5, augment=augment)
    ahead = Prefetcher(TrainLoader(split, 16, seed=5, augment=augment), depth=3)
    try:
        assert same(batches(plain, 7), batches(ahead, 7))
        # the thread has built more, but the state is that of the 7 batches handed out
        assert ahead.state_dict() == plain.state_dict()
        assert ahead.epochs_done == plain.epochs_done
    finally:
        ahead.close()
    assert ahead.loader.state_dict() == plain.state_dict()  # closing rewinds the loader


def test_resume_from_a_saved_state_continues_the_stream(split):
    reference = batches(TrainLoader(split, 16, seed=1), 9)
    first = Prefetcher(TrainLoader(split, 16, seed=1))
    assert same(batches(first, 4), reference[:4])
    saved = first.state_dict()
    first.close()
    second = Prefetcher(TrainLoader(split, 16, seed=1))
    second.load_state_dict(saved)
    try:
        assert same(batches(second, 5), reference[4:])
    finally:
        second.close()


def test_a_loader_error_reaches_the_training_thread(split):
    def broken(inputs, labels, rng):
        raise RuntimeError("augmentation failed")

    ahead = Prefetcher(TrainLoader(split, 16, seed=0, augment=broken))
    with pytest.raises(RuntimeError, match="augmentation failed"):
        next(ahead)
    with pytest.raises(ValueError, match="depth"):
        Prefetcher(TrainLoader(split, 16, seed=0), depth=0)
