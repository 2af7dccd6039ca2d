"""What a cosine threshold means for strangers: the open-set FAR curve a model file can carry.

`sphereapp-train eval openset --into` stores (threshold, FAR) points measured on LFW: FAR(t) is the fraction of
unknown probes (people not in the gallery) whose best gallery score reaches t. Between points the FAR is
interpolated linearly in log(FAR), which follows the curve's tail better than in FAR itself. A gallery smaller
than the one measured with gives strangers fewer people to be mistaken for, so fewer of them are accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

FarCurve = tuple[tuple[float, float], ...]  # (threshold, FAR) points: thresholds rising, FARs in (0, 1] not rising


def check_far_curve(points: Iterable[Sequence[float]]) -> FarCurve:
    """The points as a FarCurve; ValueError unless they are (threshold, FAR) pairs in the FarCurve order."""
    try:
        curve = tuple((float(threshold), float(far)) for threshold, far in points)
    except (TypeError, ValueError):
        raise ValueError("far_curve must be a list of (threshold, FAR) pairs") from None
    values = np.array(curve, np.float64).reshape(-1, 2)
    thresholds, fars = values[:, 0], values[:, 1]
    if not (np.isfinite(values).all() and np.all(np.diff(thresholds) > 0) and np.all(np.diff(fars) <= 0)
            and np.all((fars > 0) & (fars <= 1))):
        raise ValueError("far_curve points must have rising thresholds and falling FARs in (0, 1]")
    return curve


def far_at(curve: FarCurve, threshold: float) -> float:
    """FAR at `threshold`, interpolated in log(FAR); the first/last point's FAR outside the measured range."""
    thresholds, fars = np.array(curve, np.float64).T
    return float(np.exp(np.interp(threshold, thresholds, np.log(fars))))


def describe_threshold(curve: FarCurve, threshold: float) -> str:
    """'≈1% of strangers accepted' ('<0.04% ...' above the last point); 'not calibrated' without a curve."""
    if not curve:
        return "not calibrated"
    if threshold > curve[-1][0]:
        return f"<{_percent(curve[-1][1])} of strangers accepted"
    return f"\u2248{_percent(far_at(curve, threshold))} of strangers accepted"


def _percent(fraction: float) -> str:
    """'12%', '1.4%', '0.038%': whole percents from 10% up, two significant digits below."""
    value = 100 * fraction
    return f"{value:.0f}%" if value >= 10 else f"{value:.2g}%"
