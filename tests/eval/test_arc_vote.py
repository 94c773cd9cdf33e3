"""ARC voting on hand-made predictions: majority, q tie-break, all-test-inputs rule, pass@2, de-augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from hrm.data.arc import ArcTask, Augmentation, build_arc_dataset, encode_grid, read_arc_dataset, variant_name
from hrm.errors import DatasetError
from hrm.eval.arc_vote import vote_arc

G = {  # small hand-made grids
    "in1": np.array([[1, 2], [3, 0]], np.uint8),
    "in2": np.array([[5, 5, 0]], np.uint8),
    "A": np.array([[4, 4], [0, 1]], np.uint8),
    "B": np.array([[7]], np.uint8),
    "C": np.array([[2, 0, 3]], np.uint8),
}


class Case:
    """A test split of un-augmented puzzles plus evaluated rows built one prediction at a time."""

    def __init__(self, tasks: dict[str, list[tuple[str, str]]]) -> None:
        self.identifiers = ["<blank>"]
        test_inputs, test_labels, test_ids = [], [], []
        for task, pairs in tasks.items():
            self.identifiers.append(task)
            for inp, label in pairs:
                test_inputs.append(encode_grid(G[inp]))
                test_labels.append(encode_grid(G[label]))
                test_ids.append(len(self.identifiers) - 1)
        self.truth = dict(test_inputs=np.stack(test_inputs), test_labels=np.stack(test_labels),
                          test_puzzle_identifiers=np.array(test_ids))
        self.rows: list[tuple[np.ndarray, np.ndarray, float, int]] = []

    def predict(self, task: str, inp: str, answer: str, q: float = 0.0, aug: Augmentation | None = None,
                times: int = 1) -> None:
        aug = aug or Augmentation.identity()
        name = variant_name(task, aug)
        if name not in self.identifiers:
            self.identifiers.append(name)
        row = (encode_grid(aug.apply(G[inp])), encode_grid(aug.apply(G[answer])), q, self.identifiers.index(name))
        self.rows.extend([row] * times)

    def vote(self, **kwargs) -> dict:
        inputs, predictions, q, ids = (np.array(column) for column in zip(*self.rows))
        return vote_arc(inputs=inputs, predictions=predictions, q_halt=q, puzzle_identifiers=ids,
                        identifiers=self.identifiers, **self.truth, **kwargs)


def test_majority_wins_over_confidence():
    case = Case({"t": [("in1", "A")]})
    case.predict("t", "in1", "A", q=-3.0, times=3)
    case.predict("t", "in1", "B", q=5.0, times=2)
    result = case.vote()
    assert result["pass@1"] == 1.0 and result["num_tasks"] == 1 and result["num_predictions"] == 5
    detail = result["tasks"]["t"]["test_inputs"][0]
    assert detail["rank"] == 1 and detail["num_votes"] == 5 and detail["num_candidates"] == 2
    assert [a["count"] for a in detail["attempts"]] == [3, 2]
    assert detail["attempts"][0]["grid"] == G["A"].tolist()


def test_tie_broken_by_mean_halting_confidence():
    case = Case({"t": [("in1", "A")]})
    case.predict("t", "in1", "B", q=-1.0, times=2)
    case.predict("t", "in1", "A", q=2.0)
    case.predict("t", "in1", "A", q=1.0)
    result = case.vote()
    assert result["tasks"]["t"]["test_inputs"][0]["rank"] == 1
    assert result["tasks"]["t"]["test_inputs"][0]["attempts"][0]["mean_q"] == pytest.approx(
        (1 / (1 + np.exp(-2.0)) + 1 / (1 + np.exp(-1.0))) / 2)
    case = Case({"t": [("in1", "B")]})  # same votes, the other answer is right: now it only makes pass@2
    case.predict("t", "in1", "B", q=-1.0, times=2)
    case.predict("t", "in1", "A", q=2.0, times=2)
    result = case.vote()
    assert result["pass@1"] == 0.0 and result["pass@2"] == 1.0


def test_probabilities_instead_of_logits():
    case = Case({"t": [("in1", "A")]})
    case.predict("t", "in1", "A", q=0.2)
    case.predict("t", "in1", "B", q=0.9)
    assert case.vote(q_halt_is_logit=False)["pass@1"] == 0.0  # one vote each: the 0.9 answer ranks first
    case.predict("t", "in1", "A", q=3.0)
    with pytest.raises(ValueError, match="outside"):
        case.vote(q_halt_is_logit=False)


def test_task_counts_only_when_every_test_input_is_right():
    case = Case({"both": [("in1", "A"), ("in2", "C")], "one": [("in1", "A"), ("in2", "C")]})
    case.predict("both", "in1", "A")
    case.predict("both", "in2", "C")
    case.predict("one", "in1", "A")
    case.predict("one", "in2", "B")
    result = case.vote(ks=(1, 2, 10))
    assert result["tasks"]["both"]["solved_at"] == {1: True, 2: True, 10: True}
    assert result["tasks"]["one"]["solved_at"] == {1: False, 2: False, 10: False}
    assert [d["rank"] for d in result["tasks"]["one"]["test_inputs"]] == [1, None]
    assert result["pass@1"] == result["pass@10"] == 0.5
    assert result["partial_pass@1"] == pytest.approx(0.75)  # TRM's average of per-task fractions
    assert result["num_test_inputs"] == 4


def test_pass_at_2_accepts_the_second_candidate():
    case = Case({"t": [("in1", "A")]})
    case.predict("t", "in1", "B", times=3)
    case.predict("t", "in1", "A", times=2)
    case.predict("t", "in1", "C", times=1)
    result = case.vote()
    assert result["pass@1"] == 0.0 and result["pass@2"] == 1.0
    assert result["tasks"]["t"]["test_inputs"][0]["rank"] == 2


def test_augmented_predictions_vote_for_the_original_answer():
    rng = np.random.default_rng(0)
    case = Case({"t": [("in1", "A"), ("in2", "C")]})
    augs = [Augmentation(tid, (0, *rng.permutation(np.arange(1, 10)).tolist())) for tid in range(8)]
    for aug in augs:
        case.predict("t", "in1", "A", aug=aug)
        case.predict("t", "in2", "C", aug=aug)
    # a wrong answer given twice under one augmentation must not outvote eight right ones
    case.predict("t", "in1", "B", aug=augs[3], times=2)
    result = case.vote()
    first, second = result["tasks"]["t"]["test_inputs"]
    assert first["rank"] == 1 and first["attempts"][0]["count"] == 8 and first["num_candidates"] == 2
    assert second["rank"] == 1 and second["num_candidates"] == 1 and second["num_votes"] == 8
    assert result["pass@1"] == 1.0
    # the augmented grids themselves would not match: voting relies on the inversion
    assert not np.array_equal(augs[1].apply(G["A"]), G["A"])


def test_padding_rows_ignored_and_missing_tasks_count_as_wrong():
    case = Case({"t": [("in1", "A")], "silent": [("in2", "C")]})
    case.predict("t", "in1", "A")
    case.rows.append((np.zeros(900, np.uint8), np.zeros(900, np.uint8), 9.0, 0))  # batch padding
    result = case.vote()
    assert result["num_predictions"] == 1 and result["num_tasks"] == 2 and result["pass@2"] == 0.5
    assert result["tasks"]["silent"]["test_inputs"][0]["num_votes"] == 0


def test_mismatched_predictions_raise():
    case = Case({"t": [("in1", "A")]})
    case.predict("t", "in2", "A")  # in2 is not a test input of t
    with pytest.raises(DatasetError, match="does not answer any test input"):
        case.vote()
    case = Case({"t": [("in1", "A")]})
    case.predict("t", "in1", "A")
    case.rows[0] = case.rows[0][:3] + (7,)
    with pytest.raises(DatasetError, match="identifiers.json has"):
        case.vote()


def test_perfect_predictions_on_a_built_dataset(tmp_path):
    rng = np.random.default_rng(1)

    def task(name, is_evaluation):
        pairs = [(rng.integers(0, 10, (3, 4)).astype(np.uint8), rng.integers(0, 10, (2, 5)).astype(np.uint8))
                 for _ in range(4)]
        return ArcTask(name=name, demos=pairs[:2], tests=pairs[2:], is_evaluation=is_evaluation)

    build_arc_dataset([task("a", False), task("b", True), task("c", True)], tmp_path / "d", num_aug=9, seed=0)
    dataset = read_arc_dataset(tmp_path / "d")
    test = dataset.test.sets["all"]
    ids = np.repeat(test.puzzle_identifiers, np.diff(test.puzzle_indices))
    labels = np.asarray(test.labels)
    result = vote_arc(inputs=test.inputs, predictions=labels, q_halt=np.zeros(len(ids)), puzzle_identifiers=ids,
                      identifiers=dataset.identifiers, test_inputs=test.inputs, test_labels=labels,
                      test_puzzle_identifiers=ids)
    assert result["pass@1"] == 1.0 and result["num_tasks"] == 2 and result["num_test_inputs"] == 4
    assert all(d["attempts"][0]["count"] == 10 for t in result["tasks"].values() for d in t["test_inputs"])
