"""Training stream: every group once per epoch, deterministic, resumable, rank slices; eval batches."""

import numpy as np
import pytest

from hrm.data.format import DatasetMetadata, PuzzleSet, read_split, staged_dataset, write_split
from hrm.data.loader import TrainLoader, eval_batches
from hrm.nn.losses import IGNORE_LABEL_ID


def make_dataset(root, num_groups=7, variants=3, examples=2, seq_len=5):
    """Group g, variant v, example e has input tokens all equal to a unique code."""
    inputs, puzzle_indices, group_indices, ids = [], [0], [0], []
    code = 0
    for g in range(num_groups):
        for v in range(variants):
            for e in range(examples):
                inputs.append(np.full(seq_len, 2 + code % 9))
                code += 1
            puzzle_indices.append(len(inputs))
            ids.append(1 + g * variants + v)
        group_indices.append(len(ids))
    inputs = np.array(inputs, dtype=np.uint8)
    labels = inputs.copy()
    labels[:, 0] = 0  # ignore_label_id
    meta = DatasetMetadata(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=11, seq_len=seq_len,
                           num_puzzle_identifiers=len(ids) + 1, total_groups=num_groups,
                           mean_puzzle_examples=float(examples), sets=["all"])
    puzzles = PuzzleSet(inputs, labels, np.array(ids, dtype=np.int32), np.array(puzzle_indices, dtype=np.int32),
                        np.array(group_indices, dtype=np.int32))
    with staged_dataset(root) as staging:
        write_split(staging / "train", meta, {"all": puzzles})
    return read_split(root, "train")


def test_epoch_visits_every_group_once_with_whole_puzzles(tmp_path):
    split = make_dataset(tmp_path / "d")
    loader = TrainLoader(split, global_batch_size=14, seed=3)  # one epoch = 7 groups x 2 examples = 14 rows
    examples, owners = loader.next_indices()
    puzzles = split.sets["all"]
    groups = np.searchsorted(puzzles.group_indices, owners, side="right") - 1
    assert sorted(np.unique(groups)) == list(range(7))
    for p in np.unique(owners):
        rows = examples[owners == p]
        assert sorted(rows) == list(range(puzzles.puzzle_indices[p], puzzles.puzzle_indices[p + 1]))
    batch = next(TrainLoader(split, 14, seed=3))
    assert (batch["labels"][:, 0] == IGNORE_LABEL_ID).all()
    assert batch["inputs"].dtype.is_floating_point is False


def test_stream_is_deterministic_and_resumes_exactly(tmp_path):
    split = make_dataset(tmp_path / "d")
    straight = TrainLoader(split, 4, seed=5)
    reference = [next(straight)["inputs"] for _ in range(12)]
    first = TrainLoader(split, 4, seed=5)
    for _ in range(5):
        next(first)
    resumed = TrainLoader(split, 4, seed=5)
    resumed.load_state_dict(first.state_dict())
    for k in range(5, 12):
        assert np.array_equal(next(resumed)["inputs"], reference[k])
    other_seed = TrainLoader(split, 4, seed=6)
    assert not all(np.array_equal(next(other_seed)["inputs"], r) for r in reference[:4])
    with pytest.raises(ValueError, match="different seed"):
        TrainLoader(split, 4, seed=9).load_state_dict(first.state_dict())


def test_ranks_split_the_global_batch(tmp_path):
    split = make_dataset(tmp_path / "d")
    whole = next(TrainLoader(split, 6, seed=1))
    parts = [next(TrainLoader(split, 6, seed=1, rank=r, world_size=3)) for r in range(3)]
    for key in whole:
        assert np.array_equal(np.concatenate([p[key] for p in parts]), whole[key])


def test_eval_batches_cover_the_set_once_and_pad(tmp_path):
    split = make_dataset(tmp_path / "d", num_groups=3, variants=1, examples=3)  # 9 examples
    seen = []
    for rank in range(2):
        for chunk in eval_batches(split, global_batch_size=4, rank=rank, world_size=2):
            assert chunk.batch["inputs"].shape[0] == 2
            pad = chunk.batch["puzzle_identifiers"][chunk.num_real:]
            assert (pad == 0).all() and (chunk.batch["labels"][chunk.num_real:] == IGNORE_LABEL_ID).all()
            seen.extend(chunk.example_ids.tolist())
    assert sorted(seen) == list(range(9))


def test_sudoku_augmentation_keeps_puzzles_valid_and_resumes(tmp_path):
    from hrm.data.augment import AUGMENTATIONS
    from hrm.data.sudoku import build_small_sudoku, is_solved_grid

    build_small_sudoku(tmp_path / "s", 2, num_train=30, num_test=4, seed=0, min_blanks=8, max_blanks=12)
    split = read_split(tmp_path / "s", "train")
    plain = next(TrainLoader(split, 16, seed=2))
    loader = TrainLoader(split, 16, seed=2, augment=AUGMENTATIONS.get("sudoku"))
    batches = [next(loader) for _ in range(3)]
    first = batches[0]
    assert not np.array_equal(first["inputs"], plain["inputs"])  # rows were transformed
    solutions = first["labels"].numpy() - 1
    assert is_solved_grid(solutions, 2).all()
    givens = first["inputs"].numpy() > 1
    assert np.array_equal(first["inputs"].numpy()[givens], first["labels"].numpy()[givens])
    assert np.array_equal((plain["inputs"] == 1).sum(1), (first["inputs"] == 1).sum(1))  # blanks per row kept
    resumed = TrainLoader(split, 16, seed=2, augment=AUGMENTATIONS.get("sudoku"))
    resumed.load_state_dict({**loader.state_dict(), "epoch": 0, "offset": 16})
    assert np.array_equal(next(resumed)["inputs"], batches[1]["inputs"])
    halves = [next(TrainLoader(split, 16, seed=2, rank=r, world_size=2, augment=AUGMENTATIONS.get("sudoku")))
              for r in range(2)]
    assert np.array_equal(np.concatenate([h["inputs"] for h in halves]), first["inputs"])


def test_dihedral_augmentation_keeps_maze_labels_shortest_paths(tmp_path):
    from hrm.data.augment import AUGMENTATIONS
    from hrm.data.maze import build_maze_dataset, maze_metrics

    build_maze_dataset(tmp_path / "m", train_size=12, test_size=2, size=10, min_path=14)
    split = read_split(tmp_path / "m", "train")
    plain = next(TrainLoader(split, 12, seed=0))
    batch = next(TrainLoader(split, 12, seed=0, augment=AUGMENTATIONS.get("dihedral")))
    assert not np.array_equal(batch["inputs"], plain["inputs"])
    inputs, labels = batch["inputs"].numpy(), batch["labels"].numpy()
    assert maze_metrics(inputs, labels, labels)["valid_shortest_path_accuracy"] == 1.0
