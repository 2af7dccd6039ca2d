"""The linear assignment solver: the optimum SciPy finds, on square, wide, tall, tied and empty cost matrices."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment as scipy_assignment

from sphereapp.core.recognition.assignment import linear_sum_assignment

from helpers import REPO_ROOT


def random_costs(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows, columns = rng.integers(0, 10, 2)
    kind = seed % 3
    if kind == 0:
        return rng.random((rows, columns))
    if kind == 1:  # many ties
        return rng.integers(0, 4, (rows, columns)).astype(float)
    return np.where(rng.random((rows, columns)) < 0.6, 0.0, rng.random((rows, columns)))  # IoU-like: mostly 0


@pytest.mark.parametrize("maximize", [False, True])
def test_the_total_is_scipys_optimum(maximize):
    for seed in range(600):
        cost = random_costs(seed)
        rows, columns = linear_sum_assignment(cost, maximize=maximize)
        best_rows, best_columns = scipy_assignment(cost, maximize=maximize)
        assert len(rows) == len(best_rows) == min(cost.shape)
        assert list(rows) == sorted(set(rows)) and len(set(columns)) == len(columns)
        assert cost[rows, columns].sum() == pytest.approx(cost[best_rows, best_columns].sum(), abs=1e-9), seed
        if seed % 3 == 0:  # no ties: the one optimal matching
            assert np.array_equal(rows, best_rows) and np.array_equal(columns, best_columns), seed


def test_a_known_matching_and_bad_input():
    cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    assert [list(part) for part in linear_sum_assignment(cost)] == [[0, 1, 2], [1, 0, 2]]
    wide = np.array([[4.0, 2.0, 3.0], [1.0, 5.0, 2.0]])
    assert [list(part) for part in linear_sum_assignment(wide)] == [[0, 1], [1, 0]]
    assert [list(part) for part in linear_sum_assignment(wide.T)] == [[0, 1], [1, 0]]
    assert [list(part) for part in linear_sum_assignment(wide, maximize=True)] == [[0, 1], [0, 1]]
    assert [part.shape for part in linear_sum_assignment(np.zeros((0, 3)))] == [(0,), (0,)]
    with pytest.raises(ValueError, match="NaN or infinite"):
        linear_sum_assignment(np.array([[np.nan]]))


def test_the_run_command_does_not_import_scipys_optimize_package():
    code = ("import sys\nimport sphereapp.cli, sphereapp.commands, sphereapp.core.drivers.file\n"
            "assert 'scipy.optimize' not in sys.modules, 'scipy.optimize was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
