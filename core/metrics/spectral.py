"""Per-band agreement of a predicted band with the truth: PCC, cosine similarity, RMSE.

All take flat arrays of valid pixels (the caller masks nodata) and return Python floats, so
training validation, `marsspec eval` and the tests share one definition (paper 000 Table 2).
"""

from __future__ import annotations

import numpy as np


def _pair(pred, truth) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, np.float64).ravel()
    t = np.asarray(truth, np.float64).ravel()
    keep = np.isfinite(p) & np.isfinite(t)
    return p[keep], t[keep]


def pcc(pred, truth) -> float:
    """Pearson correlation; NaN when either side is constant or empty."""
    p, t = _pair(pred, truth)
    if p.size < 2:
        return float("nan")
    p, t = p - p.mean(), t - t.mean()
    denom = np.sqrt((p * p).sum() * (t * t).sum())
    return float((p * t).sum() / denom) if denom > 0 else float("nan")


def cosine(pred, truth) -> float:
    """Cosine similarity of the two value vectors."""
    p, t = _pair(pred, truth)
    denom = np.sqrt((p * p).sum() * (t * t).sum())
    return float((p * t).sum() / denom) if denom > 0 else float("nan")


def rmse(pred, truth) -> float:
    p, t = _pair(pred, truth)
    return float(np.sqrt(np.mean((p - t) ** 2))) if p.size else float("nan")


def spearman(a, b) -> float:
    """Spearman rank correlation (ties broken by order; fine for continuous values)."""
    x, y = _pair(a, b)
    if x.size < 2:
        return float("nan")
    rx = np.empty(x.size)
    ry = np.empty(y.size)
    rx[np.argsort(x, kind="stable")] = np.arange(x.size)
    ry[np.argsort(y, kind="stable")] = np.arange(y.size)
    return pcc(rx, ry)
