"""The linear assignment problem for the few faces of two frames, without SciPy's optimize package at start-up.

Shortest augmenting paths with dual potentials (the Hungarian method in Jonker & Volgenant's form, as SciPy's
`linear_sum_assignment` solves it): each row in turn is joined to the matching by the cheapest path in reduced
costs, O(rows^2 x columns). Importing `scipy.optimize` costs a noticeable share of `sphereapp run`'s start-up;
this module imports NumPy only.
"""

from __future__ import annotations

import numpy as np


def linear_sum_assignment(cost: np.ndarray, maximize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a complete matching of min(rows, columns) pairs with the least (or greatest) total
    cost; rows in increasing order, as `scipy.optimize.linear_sum_assignment` returns them. Unlike SciPy's,
    infinite costs (SciPy's "not allowed") are refused: callers mark such pairs with a large finite cost."""
    cost = np.asarray(cost, np.float64)
    if cost.ndim != 2:
        raise ValueError(f"expected a 2-d cost matrix, got shape {cost.shape}")
    if not np.isfinite(cost).all():
        raise ValueError("the cost matrix holds NaN or infinite entries")
    if maximize:
        cost = -cost
    transposed = cost.shape[0] > cost.shape[1]
    if transposed:
        cost = cost.T
    column_of_row = _assign_rows(cost)
    rows = np.arange(cost.shape[0])
    if transposed:
        order = np.argsort(column_of_row)
        return column_of_row[order], rows[order]
    return rows, column_of_row


def _assign_rows(cost: np.ndarray) -> np.ndarray:
    """For a cost matrix with rows <= columns, the column given to each row in a least-cost matching."""
    n_rows, n_columns = cost.shape
    row_potential = np.zeros(n_rows)
    column_potential = np.zeros(n_columns + 1)  # index n_columns: the virtual column each new row starts from
    row_of_column = np.full(n_columns + 1, -1)
    for row in range(n_rows):
        start = n_columns
        row_of_column[start] = row
        shortest = np.full(n_columns, np.inf)  # reduced-cost distance to each column so far
        came_from = np.full(n_columns, -1)  # the previous column on that shortest path
        done = np.zeros(n_columns + 1, bool)
        column = start
        while row_of_column[column] != -1:  # until the path reaches a free column
            done[column] = True
            current = row_of_column[column]
            reduced = cost[current] - row_potential[current] - column_potential[:-1]
            better = ~done[:-1] & (reduced < shortest)
            shortest[better] = reduced[better]
            came_from[better] = column
            candidates = np.where(done[:-1], np.inf, shortest)
            nearest = int(np.argmin(candidates))
            delta = candidates[nearest]
            matched = np.flatnonzero(done)  # update the potentials along the tree so far
            row_potential[row_of_column[matched]] += delta
            column_potential[matched] -= delta
            shortest[~done[:-1]] -= delta
            column = nearest
        while column != start:  # flip the path: each column takes the row of the one before it
            previous = came_from[column]
            row_of_column[column] = row_of_column[previous]
            column = previous
    column_of_row = np.empty(n_rows, np.int64)
    assigned = np.flatnonzero(row_of_column[:-1] >= 0)
    column_of_row[row_of_column[assigned]] = assigned
    return column_of_row
