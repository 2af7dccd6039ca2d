"""Open-set identification on LFW (Best-Rowden et al. 2014 style): the seeded split and the metrics (pure NumPy).

Split: every LFW person with 2+ images is known: one image (picked by the seed) goes to the gallery, the others
are known probes; every person with exactly 1 image is an unknown probe (never in the gallery).
Metrics: a known probe is detected and identified at threshold t when its best gallery score >= t and that best
is its own identity; FAR(t) is the fraction of unknown probes whose best score >= t; DIR@FAR is the DIR at the
lowest threshold whose FAR does not exceed the target (a quantile of the unknowns' best scores). Several seeded
draws of a small gallery can be pooled (their probes together), so its threshold does not hang on one set of people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sphereapp.core.errors import InputError

OPENSET_FARS = (0.001, 0.01, 0.1)
APP_FAR = 0.01  # the threshold recommended to the app: the one at FAR 1%
FAR_CURVE_POINTS = 32  # (threshold, FAR) points of the calibration written into a model file
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class OpenSetSplit:
    """Gallery images (row = identity) and probes with their gallery row, -1 for people not in the gallery."""

    gallery: list[Path]
    probes: list[Path]
    probe_labels: np.ndarray  # (P,) int64

    @property
    def n_known(self) -> int:
        return int(np.count_nonzero(self.probe_labels >= 0))

    @property
    def n_unknown(self) -> int:
        return int(np.count_nonzero(self.probe_labels < 0))


def _people(root: Path) -> dict[str, list[Path]]:
    """Sorted person folders of `root` with their sorted image files (folders without images are skipped)."""
    people = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if images:
            people[folder.name] = images
    return people


def _sample(rng: np.random.Generator, items: list, limit: int | None) -> list:
    """`limit` items drawn without replacement, in their original order (all of them when limit is None)."""
    if limit is None or limit >= len(items):
        return list(items)
    return [items[i] for i in sorted(rng.choice(len(items), size=limit, replace=False))]


def build_openset_split(
    root: str | Path,
    seed: int = 0,
    max_gallery: int | None = None,
    max_unknown: int | None = None,
    max_probes_per_person: int | None = None,
) -> OpenSetSplit:
    """The seeded open-set split of a folder-per-person tree (LFW layout); see the module docstring.

    With the seed's generator, in this order: `max_gallery` known people are drawn (all by default), then each
    drawn person's gallery image, then (with `max_probes_per_person`) their probes, then `max_unknown` unknowns.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"LFW folder not found: {root}")
    people = _people(root)
    known = [name for name, images in people.items() if len(images) >= 2]
    unknown = [name for name, images in people.items() if len(images) == 1]
    if not known or not unknown:
        raise InputError(f"{root}: open-set needs people with 2+ images and people with 1 image "
                         f"(found {len(known)} and {len(unknown)})")
    rng = np.random.default_rng(seed)
    gallery, probes, labels = [], [], []
    for row, name in enumerate(_sample(rng, known, max_gallery)):
        images = people[name]
        pick = int(rng.integers(len(images)))
        gallery.append(images[pick])
        rest = _sample(rng, images[:pick] + images[pick + 1:], max_probes_per_person)
        probes += rest
        labels += [row] * len(rest)
    for name in _sample(rng, unknown, max_unknown):
        probes.append(people[name][0])
        labels.append(-1)
    return OpenSetSplit(gallery, probes, np.array(labels, dtype=np.int64))


def best_matches(scores: np.ndarray, probe_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per probe of a (P, G) score matrix (column = gallery identity): best score and whether it is the right one."""
    scores = np.asarray(scores, dtype=np.float64)
    best = np.argmax(scores, axis=1)
    return scores[np.arange(len(scores)), best], best == np.asarray(probe_labels)


def far_threshold(unknown_best: np.ndarray, far: float) -> float:
    """Lowest threshold t with FAR(t) = mean(unknown_best >= t) <= far: just above the (k+1)-th highest score."""
    ranked = np.sort(np.asarray(unknown_best, dtype=np.float64))[::-1]
    allowed = int(np.floor(far * ranked.size + 1e-9))  # false accepts the target permits
    if allowed >= ranked.size:
        return float("-inf")
    return float(np.nextafter(ranked[allowed], np.inf))


def detection_identification_rate(known_best: np.ndarray, known_correct: np.ndarray, threshold: float) -> float:
    """DIR(t): fraction of known probes whose best score >= t and whose best is their own identity."""
    known_best = np.asarray(known_best, dtype=np.float64)
    return float(np.mean((known_best >= threshold) & np.asarray(known_correct, dtype=bool)))


def openset_curve(
    known_best: np.ndarray, known_correct: np.ndarray, unknown_best: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(far, dir, thresholds) at +inf and every distinct best score, thresholds descending."""
    known_best = np.asarray(known_best, dtype=np.float64)
    unknown = np.sort(np.asarray(unknown_best, dtype=np.float64))
    identified = np.sort(known_best[np.asarray(known_correct, dtype=bool)])
    thresholds = np.r_[np.inf, np.unique(np.r_[known_best, unknown])[::-1]]
    far = (unknown.size - np.searchsorted(unknown, thresholds, side="left")) / unknown.size
    dir_ = (identified.size - np.searchsorted(identified, thresholds, side="left")) / known_best.size
    return far, dir_, thresholds


def far_curve_points(unknown_best: np.ndarray, points: int = FAR_CURVE_POINTS) -> list[tuple[float, float]]:
    """At most `points` (threshold, FAR) points, thresholds rising, FARs log-spaced from 1 down to 1/N.

    Each threshold is one unknown's best score (the k-th highest, k log-spaced from N to 1), so its FAR is exact.
    """
    ranked = np.sort(np.asarray(unknown_best, dtype=np.float64))
    n = ranked.size
    ranks = np.unique(np.round(np.geomspace(1, n, points)).astype(np.int64))
    thresholds = np.unique(ranked[n - ranks])
    fars = (n - np.searchsorted(ranked, thresholds, side="left")) / n
    return [(float(t), float(f)) for t, f in zip(thresholds, fars)]


@dataclass
class OpenSetReport:
    """DIR at each FAR target (and its threshold), rank-1 rate, split sizes, the FAR and DIR-FAR curves."""

    dir_at_far: dict[str, float]
    threshold_at_far: dict[str, float]
    rank1: float
    n_gallery: int
    n_known: int
    n_unknown: int  # pooled over the draws, like n_known
    far_curve: list[tuple[float, float]] = field(default_factory=list)  # far_curve_points of the unknowns
    curve: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    draws: int = 1  # seeded galleries pooled

    @property
    def app_threshold(self) -> float:
        """The threshold recommended to the app: the one at FAR 1%."""
        return self.threshold_at_far[f"{APP_FAR:g}"]

    def to_dict(self) -> dict:
        """Every field except the DIR-FAR curve, plus `app_threshold`."""
        return {
            "dir_at_far": self.dir_at_far, "threshold_at_far": self.threshold_at_far, "rank1": self.rank1,
            "n_gallery": self.n_gallery, "n_known": self.n_known, "n_unknown": self.n_unknown,
            "app_threshold": self.app_threshold, "far_curve": self.far_curve, "draws": self.draws,
        }


def openset_report(
    scores: np.ndarray, probe_labels: np.ndarray, fars: tuple[float, ...] = OPENSET_FARS
) -> OpenSetReport:
    """The open-set report of a (P, G) probe-by-gallery score matrix; `probe_labels` = gallery column or -1."""
    return pooled_openset_report([(scores, probe_labels)], fars)


def pooled_openset_report(
    draws: Sequence[tuple[np.ndarray, np.ndarray]], fars: tuple[float, ...] = OPENSET_FARS
) -> OpenSetReport:
    """One report over several (scores, probe_labels) draws of equal-sized galleries, their probes pooled.

    The FAR-1% threshold of a small gallery depends on which people were drawn; pooling the draws' probes
    estimates it for a gallery of that size rather than for one set of people.
    """
    best, correct, known, sizes = [], [], [], set()
    for scores, probe_labels in draws:
        scores, probe_labels = np.asarray(scores), np.asarray(probe_labels)
        if scores.ndim != 2 or scores.shape[0] != probe_labels.size or scores.shape[1] == 0:
            raise ValueError(f"scores {scores.shape} do not fit {probe_labels.size} probes and a non-empty gallery")
        draw_best, draw_correct = best_matches(scores, probe_labels)
        best.append(draw_best)
        correct.append(draw_correct)
        known.append(probe_labels >= 0)
        sizes.add(scores.shape[1])
    if len(sizes) != 1:
        raise ValueError(f"pooled draws need one gallery size, got {sorted(sizes)}")
    best, correct, known = np.concatenate(best), np.concatenate(correct), np.concatenate(known)
    if not known.any() or known.all():
        raise ValueError("open-set evaluation needs both known and unknown probes")
    thresholds = {f"{far:g}": far_threshold(best[~known], far) for far in fars}
    far, dir_, _ = openset_curve(best[known], correct[known], best[~known])
    rates = {key: detection_identification_rate(best[known], correct[known], t) for key, t in thresholds.items()}
    return OpenSetReport(
        dir_at_far=rates,
        threshold_at_far=thresholds,
        rank1=float(np.mean(correct[known])),
        n_gallery=sizes.pop(),
        n_known=int(np.count_nonzero(known)),
        n_unknown=int(np.count_nonzero(~known)),
        far_curve=far_curve_points(best[~known]),
        curve=(far, dir_),
        draws=len(draws),
    )
