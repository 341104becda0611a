"""The numbers behind opinion groups: a vote matrix, PCA, k-means and silhouette, in numpy.

`find_groups` takes a participant × statement matrix (1 agree, -1 disagree, 0 pass, NaN for a
statement the participant never voted on) and returns one group label per row. Everything is
seeded, so the same matrix always gives the same labels.

Steps, as in Pol.is, with changes found by testing on planted groups:

1. Fit only on statements with at least two votes and participants with enough votes
   (`MIN_VOTES_TO_FIT`, or every fitted statement when there are fewer); everyone else is
   still placed afterwards, in the group most likely to have voted as they did.
2. Centre each statement on its mean vote; an unseen vote becomes that mean (0 after
   centring). Scale each person's projection by sqrt(statements / statements voted on) so
   people who voted on little are not pulled into the middle.
3. PCA by SVD to `COMPONENTS` (3) components; the first two are the chart positions. Three
   rather than Pol.is's two, because four groups need three dimensions to sit apart.
4. Candidate groupings: k-means (k-means++ starts, `RESTARTS` seeded restarts) for k = 2 … 6,
   and each of those merged down pair by pair by Ward's criterion. k-means alone cuts a big
   group in half rather than separate a small one; merging the halves recovers it. The
   candidate with 2 … 5 groups and the best silhouette score wins.
5. Groups that differ significantly on no statement (z-tests on agree and disagree rates,
   Bonferroni-corrected) are merged: small rooms otherwise grow a spurious fifth group.
6. One group unless there is structure: a component stands above the same votes shuffled
   within each statement (Horn's parallel analysis), or the best silhouette beats the best
   one on shuffled votes by `SILHOUETTE_MARGIN`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from statistics import NormalDist

# These matrices are small: BLAS threads only contend (20× slower SVDs on a busy 2-CPU machine).
# Set before numpy is first imported; an operator's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float64]
Labels = NDArray[np.int64]
Mask = NDArray[np.bool_]

SEED = 20_240_611
MIN_VOTES_TO_FIT = 7
MIN_PARTICIPANTS = 4
MAX_GROUPS = 5
COMPONENTS = 3
RESTARTS = 8
NULL_SHUFFLES = 5
NULL_MARGIN = 1.03  # a component is signal when it beats every shuffle by 3 %
SILHOUETTE_MARGIN = 0.05
SILHOUETTE_SAMPLE = 1500  # above this many people, silhouettes are scored on a seeded sample


@dataclass(frozen=True)
class Fit:
    """Group labels (0 is the largest group), chart positions and how clear the split was."""

    labels: Labels
    positions: Matrix
    silhouette: float | None


def vote_matrix(
    votes: dict[tuple[str, str], int], people: list[str], statements: list[str]
) -> Matrix:
    """participants × statements: the vote, or NaN where there is none."""
    row = {p: i for i, p in enumerate(people)}
    column = {s: j for j, s in enumerate(statements)}
    matrix = np.full((len(people), len(statements)), np.nan)
    if votes:
        rows = np.fromiter((row[p] for p, _ in votes), dtype=np.int64, count=len(votes))
        cols = np.fromiter((column[s] for _, s in votes), dtype=np.int64, count=len(votes))
        matrix[rows, cols] = np.fromiter(votes.values(), dtype=np.float64, count=len(votes))
    return matrix


def count_votes(matrix: Matrix, labels: Labels, n_groups: int, value: float) -> Matrix:
    """groups × statements: how many in each group voted `value`."""
    hits = (matrix == value).astype(np.float64)
    return np.eye(n_groups)[labels].T @ hits if n_groups else np.zeros((0, matrix.shape[1]))


def find_groups(matrix: Matrix) -> Fit:
    """Group the rows of a vote matrix (NaN = not voted); see the module docstring."""
    n_rows = matrix.shape[0]
    one_group = np.zeros(n_rows, dtype=np.int64)
    voted = ~np.isnan(matrix)
    columns = voted.sum(axis=0) >= 2
    counts = voted[:, columns].sum(axis=1)
    rows = counts >= min(MIN_VOTES_TO_FIT, int(columns.sum()))
    if rows.sum() < MIN_PARTICIPANTS:
        rows = counts >= 1
    if rows.sum() < MIN_PARTICIPANTS:
        return Fit(one_group, np.zeros((n_rows, 2)), None)

    centred, scale = _centre(matrix[:, columns], rows)
    _, values, vt = np.linalg.svd(centred[rows], full_matrices=False)
    points = _pad(centred @ vt[:COMPONENTS].T * scale[:, None], COMPONENTS)
    positions = points[:, :2]
    if values[0] <= 1e-9:  # everyone voted alike
        return Fit(one_group, positions, None)

    rng = np.random.default_rng(SEED)
    best = _best_grouping(points[rows], rng)
    if best is None:
        return Fit(one_group, positions, None)
    silhouette, fitted = best
    if not _has_structure(centred[rows], voted[rows][:, columns], values, silhouette, rng):
        return Fit(one_group, positions, silhouette)
    fitted = _merge_alike(matrix[rows][:, columns], fitted)
    if fitted.max() == 0:
        return Fit(one_group, positions, silhouette)
    labels = np.zeros(n_rows, dtype=np.int64)
    labels[rows] = fitted
    labels[~rows] = _place_by_votes(matrix[~rows], matrix[rows], fitted)
    return Fit(_number_by_size(labels), positions, silhouette)


def _centre(matrix: Matrix, rows: Mask) -> tuple[Matrix, Matrix]:
    voted = ~np.isnan(matrix)
    fitted = matrix[rows]
    seen = (~np.isnan(fitted)).sum(axis=0)
    means = np.where(seen > 0, np.nansum(fitted, axis=0) / np.maximum(seen, 1), 0.0)
    centred = np.where(voted, matrix - means, 0.0)
    scale = np.sqrt(matrix.shape[1] / np.maximum(voted.sum(axis=1), 1))
    return centred, scale


def _pad(points: Matrix, width: int) -> Matrix:
    return np.pad(points, ((0, 0), (0, max(0, width - points.shape[1]))))


def _has_structure(
    centred: Matrix, voted: Mask, values: Matrix, silhouette: float, rng: np.random.Generator
) -> bool:
    """Clearer than the same votes shuffled within each statement?"""
    shuffles = [_shuffle_columns(centred, voted, rng) for _ in range(NULL_SHUFFLES)]
    null = max(np.linalg.svd(s, compute_uv=False)[0] for s in shuffles)
    if values[0] > null * NULL_MARGIN:
        return True
    scale = np.sqrt(voted.shape[1] / np.maximum(voted.sum(axis=1), 1))
    null_silhouette = -1.0
    for shuffled in shuffles[:2]:
        _, _, vt = np.linalg.svd(shuffled, full_matrices=False)
        points = _pad(shuffled @ vt[:COMPONENTS].T * scale[:, None], COMPONENTS)
        found = _best_grouping(points, rng)
        null_silhouette = max(null_silhouette, found[0] if found else -1.0)
    return silhouette >= null_silhouette + SILHOUETTE_MARGIN


def _shuffle_columns(centred: Matrix, voted: Mask, rng: np.random.Generator) -> Matrix:
    shuffled = np.zeros_like(centred)
    for j in range(centred.shape[1]):
        where = np.flatnonzero(voted[:, j])
        shuffled[where, j] = rng.permutation(centred[where, j])
    return shuffled


def _best_grouping(points: Matrix, rng: np.random.Generator) -> tuple[float, Labels] | None:
    """The candidate grouping with the best silhouette, or None when there is nothing to split."""
    distinct = np.unique(points.round(9), axis=0).shape[0]
    top = min(MAX_GROUPS + 1, distinct - 1)
    if top < 2:
        return None
    sample = _sample(points.shape[0], rng)
    distances = _pairwise(points[sample])
    best: tuple[float, Labels] | None = None
    for k in range(2, top + 1):
        labels = _kmeans(points, k, rng)
        for candidate in [labels, *_ward_merges(points, labels)]:
            groups = int(candidate.max()) + 1
            if groups > MAX_GROUPS:
                continue
            score = _silhouette(distances, candidate[sample], groups)
            if best is None or score > best[0] + 1e-9:
                best = (score, candidate)
    return best


def _sample(n: int, rng: np.random.Generator) -> NDArray[np.int64]:
    if n <= SILHOUETTE_SAMPLE:
        return np.arange(n)
    return np.sort(rng.choice(n, SILHOUETTE_SAMPLE, replace=False))


def _pairwise(points: Matrix) -> Matrix:
    squares = (points**2).sum(axis=1)
    d2 = squares[:, None] + squares[None, :] - 2 * points @ points.T
    return np.sqrt(np.maximum(d2, 0.0))


def _squared_distances(points: Matrix, centres: Matrix) -> Matrix:
    return ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)


def _kmeans(points: Matrix, k: int, rng: np.random.Generator) -> Labels:
    """Labels 0 … k-1 from the lowest-inertia of `RESTARTS` seeded k-means++ runs."""
    best: tuple[float, Labels] | None = None
    for _ in range(RESTARTS):
        centres = _plus_plus(points, k, rng)
        for _ in range(100):
            labels = _squared_distances(points, centres).argmin(axis=1)
            moved = np.array(
                [
                    points[labels == j].mean(axis=0) if (labels == j).any() else centres[j]
                    for j in range(k)
                ]
            )
            if np.allclose(moved, centres):
                break
            centres = moved
        d2 = _squared_distances(points, centres)
        labels = d2.argmin(axis=1)
        inertia = float(d2.min(axis=1).sum())
        if best is None or inertia < best[0] - 1e-9:
            best = (inertia, labels)
    assert best is not None
    return np.unique(best[1], return_inverse=True)[1].astype(np.int64)


def _plus_plus(points: Matrix, k: int, rng: np.random.Generator) -> Matrix:
    centres = [points[rng.integers(points.shape[0])]]
    for _ in range(1, k):
        d2 = _squared_distances(points, np.array(centres)).min(axis=1)
        total = d2.sum()
        index = rng.choice(points.shape[0], p=d2 / total) if total > 0 else 0
        centres.append(points[index])
    return np.array(centres)


def _ward_merges(points: Matrix, labels: Labels) -> list[Labels]:
    """The grouping merged pair by pair (cheapest Ward cost first) down to two groups."""
    merged: list[Labels] = []
    labels = labels.copy()
    while labels.max() + 1 > 2:
        sizes = np.bincount(labels).astype(np.float64)
        centres = _centres(points, labels)
        d2 = _squared_distances(centres, centres)
        cost = sizes[:, None] * sizes[None, :] / (sizes[:, None] + sizes[None, :]) * d2
        cost[np.tril_indices_from(cost)] = np.inf
        keep, drop = np.unravel_index(int(np.argmin(cost)), cost.shape)
        labels = np.where(labels == drop, keep, labels)
        labels = np.unique(labels, return_inverse=True)[1].astype(np.int64)
        merged.append(labels)
    return merged


def _centres(points: Matrix, labels: Labels) -> Matrix:
    onehot = np.eye(int(labels.max()) + 1)[labels]
    return (onehot.T @ points) / onehot.sum(axis=0)[:, None]


def _silhouette(distances: Matrix, labels: Labels, k: int) -> float:
    """Mean silhouette; a point alone in its group scores 0 (Rousseeuw's convention)."""
    onehot = np.eye(k)[labels]
    sizes = onehot.sum(axis=0)
    if (sizes > 0).sum() < 2:
        return -1.0
    sums = distances @ onehot
    own_size = sizes[labels]
    own = sums[np.arange(labels.size), labels] / np.maximum(own_size - 1, 1)
    elsewhere = onehot.astype(bool) | (sizes == 0)[None, :]
    nearest = np.where(elsewhere, np.inf, sums / np.maximum(sizes, 1)).min(axis=1)
    spread = np.maximum(own, nearest)
    safe = np.where(spread > 0, spread, 1.0)
    score = np.where((own_size > 1) & (spread > 0), (nearest - own) / safe, 0.0)
    return float(score.mean())


def _merge_alike(votes: Matrix, labels: Labels) -> Labels:
    """Merge groups that differ significantly on no statement, the most alike pair first.

    Two-proportion z-tests on agree and on disagree rates, statement by statement, Bonferroni-
    corrected at 5 %: a group must hold some view the other does not to count as its own.
    """
    critical = NormalDist().inv_cdf(1 - 0.025 / max(1, 2 * votes.shape[1]))
    while labels.max() > 0:
        onehot = np.eye(int(labels.max()) + 1)[labels]
        seen = onehot.T @ ~np.isnan(votes)
        least: tuple[float, int, int] | None = None
        for a in range(onehot.shape[1]):
            for b in range(a + 1, onehot.shape[1]):
                z = max(_largest_z(onehot, votes, seen, a, b, value) for value in (1.0, -1.0))
                if least is None or z < least[0]:
                    least = (z, a, b)
        assert least is not None
        z, a, b = least
        if z >= critical:
            break
        labels = np.unique(np.where(labels == b, a, labels), return_inverse=True)[1]
    return labels.astype(np.int64)


def _largest_z(onehot: Matrix, votes: Matrix, seen: Matrix, a: int, b: int, value: float) -> float:
    hits = onehot[:, [a, b]].T @ (votes == value)
    n = seen[[a, b]]
    usable = (n >= 2).all(axis=0)
    if not usable.any():
        return 0.0
    hits, n = hits[:, usable], n[:, usable]
    pooled = hits.sum(axis=0) / n.sum(axis=0)
    spread = np.sqrt(pooled * (1 - pooled) * (1 / n[0] + 1 / n[1]))
    gap = np.abs(hits[0] / n[0] - hits[1] / n[1])
    return float(np.where(spread > 0, gap / np.where(spread > 0, spread, 1), 0).max())


def _place_by_votes(votes: Matrix, fitted: Matrix, labels: Labels) -> Labels:
    """The group most likely to have voted as each of these people did (few votes, or none).

    Each group's chance of agree, disagree and pass on each statement (Laplace-smoothed), times
    the group's share of the room: naive Bayes. With no votes, that is the largest group.
    """
    groups = int(labels.max()) + 1
    onehot = np.eye(groups)[labels]
    score = np.log(onehot.sum(axis=0) / labels.size)[None, :].repeat(votes.shape[0], axis=0)
    counts = [onehot.T @ (fitted == value) for value in (1.0, -1.0, 0.0)]
    total = sum(counts) + 3.0
    for value, count in zip((1.0, -1.0, 0.0), counts, strict=True):
        score += (votes == value).astype(np.float64) @ np.log((count + 1.0) / total).T
    return score.argmax(axis=1).astype(np.int64)


def _number_by_size(labels: Labels) -> Labels:
    """Renumber so group 0 is the largest; ties go to the group with the earliest row."""
    present = [int(g) for g in np.unique(labels)]
    order = sorted(present, key=lambda g: (-int((labels == g).sum()), int(np.argmax(labels == g))))
    mapping = np.zeros(max(present) + 1, dtype=np.int64)
    for new, old in enumerate(order):
        mapping[old] = new
    return mapping[labels]
