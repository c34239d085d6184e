"""Per-channel normalisation (paper 000 Appendix A.2) with the 0.01 % percentile clip (A.1).

Three modes: ``image`` (default; statistics of the whole input raster), ``global`` (the
dataset statistics of Table A1, reversible to I/F) and ``patch`` (statistics of each patch;
not reversible). Image-wise statistics of a raster of any size are computed in bounded memory:
one windowed pass for the range, one for a fine histogram (percentiles), one for the clipped
mean and standard deviation. Small in-memory arrays use the exact same definition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from marsspec.core.errors import InputError
from marsspec.core.options import NORMALISATIONS as MODES

CLIP_PERCENT = 0.01
HIST_BINS = 1 << 16

# Table A1: mean and std of each channel over the paper's whole dataset (I/F).
TABLE_A1: dict[str, tuple[float, float]] = {
    "ctx": (9.386e-2, 3.062e-2),
    "592": (1.706e-1, 3.596e-2),
    "533": (1.080e-1, 1.788e-2),
    "442": (6.185e-2, 7.651e-3),
    "2503": (2.070e-1, 6.476e-2),
    "1500": (2.106e-1, 6.158e-2),
    "1080": (1.994e-1, 5.927e-2),
}


@dataclass(frozen=True)
class ChannelStats:
    """Clip bounds and the mean/std of the clipped values of one channel."""

    low: float
    high: float
    mean: float
    std: float
    count: int = 0

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "mean": self.mean, "std": self.std}


def table_a1(key: str) -> ChannelStats:
    mean, std = TABLE_A1[key]
    return ChannelStats(-np.inf, np.inf, mean, std)


def _finish(low: float, high: float, total: float, total2: float, n: int) -> ChannelStats:
    mean = total / n
    var = max(total2 / n - mean * mean, 0.0)
    return ChannelStats(float(low), float(high), float(mean), float(max(np.sqrt(var), 1e-12)), n)


def array_stats(values: np.ndarray, clip_percent: float = CLIP_PERCENT) -> ChannelStats:
    """Exact statistics of a 1-D array of valid values (in memory); special values and
    non-finite numbers are left out, as in :func:`raster_stats`."""
    from marsspec.core.io.special_values import valid_float_mask

    values = np.asarray(values, np.float64).ravel()
    values = values[valid_float_mask(values)]
    if values.size == 0:
        raise InputError("No valid pixel to compute normalisation statistics from.")
    low, high = np.percentile(values, [clip_percent, 100.0 - clip_percent])
    clipped = np.clip(values, low, high)
    return _finish(low, high, clipped.sum(), np.square(clipped).sum(), values.size)


def masked_stats(data: np.ndarray, valid: np.ndarray, clip_percent: float = CLIP_PERCENT):
    """Per-channel stats of (C, H, W) ``data`` over ``valid`` (H, W) pixels."""
    return [array_stats(band[valid], clip_percent) for band in data]


def _windows(src, rows: int):
    from rasterio.windows import Window

    for row in range(0, src.height, rows):
        yield Window(0, row, src.width, min(rows, src.height - row))


def _read(src, bands: Sequence[int], window) -> tuple[np.ndarray, np.ndarray, int]:
    """Data, validity and the number of special pixels (ISIS specials, NaN, inf) not already
    nodata: those are excluded too, or one -3.4e38 would swamp the range and the mean."""
    from marsspec.core.io.reading import reading, window_text
    from marsspec.core.io.special_values import valid_float_mask

    with reading(src.name, window_text(window)):
        data = src.read(list(bands), window=window, out_dtype="float64")
        masks = src.read_masks(list(bands), window=window)
    unmasked = np.all(masks != 0, axis=0)
    valid = unmasked & np.all(valid_float_mask(data), axis=0)
    return data, valid, int(unmasked.sum() - valid.sum())


def raster_stats(
    path,
    bands: Sequence[int] = (1,),
    clip_percent: float = CLIP_PERCENT,
    *,
    rows: int = 512,
    cancel: Callable[[], bool] | None = None,
    warn: Callable[[str], object] | None = None,
) -> list[ChannelStats]:
    """Streaming image-wise statistics of ``bands`` (a pixel counts if all bands are valid).

    Memory: one window of ``rows`` rows plus a 65,536-bin histogram per band. Percentiles are
    exact to 1/65,536 of the value range, which is far below CTX's noise. Pixels holding ISIS
    special values or non-finite numbers are left out; ``warn`` hears how many there were.
    """
    from pathlib import Path

    from marsspec.core.errors import CancelledError
    from marsspec.core.io.opening import open_raster
    from marsspec.core.io.special_values import special_pixel_warning

    def check_cancel() -> None:
        if cancel is not None and cancel():
            raise CancelledError("Cancelled while computing normalisation statistics.")

    nb = len(bands)
    lo = np.full(nb, np.inf)
    hi = np.full(nb, -np.inf)
    n = 0
    special = 0
    with open_raster(path) as src:
        for window in _windows(src, rows):
            check_cancel()
            data, valid, window_special = _read(src, bands, window)
            special += window_special
            if valid.any():
                v = data[:, valid]
                lo = np.minimum(lo, v.min(axis=1))
                hi = np.maximum(hi, v.max(axis=1))
                n += int(valid.sum())
        name = Path(str(path)).name
        if n == 0:
            why = (
                f" ({special:,} of them hold ISIS special values or non-finite numbers)"
                if special
                else ""
            )
            raise InputError(
                f"{name} has no valid pixel in band(s) {list(bands)}: every pixel is "
                f"nodata{why}. Check the band number and the raster's nodata value."
            )
        if special and warn is not None:
            warn(special_pixel_warning(special, name))
        hist = np.zeros((nb, HIST_BINS), np.int64)
        span = np.where(hi > lo, hi - lo, 1.0)
        for window in _windows(src, rows):
            check_cancel()
            data, valid, _ = _read(src, bands, window)
            for b in range(nb):
                idx = ((data[b][valid] - lo[b]) / span[b] * (HIST_BINS - 1)).astype(np.int64)
                hist[b] += np.bincount(idx, minlength=HIST_BINS)
        lows, highs = np.empty(nb), np.empty(nb)
        for b in range(nb):
            lows[b], highs[b] = _hist_percentiles(hist[b], lo[b], span[b], clip_percent, n)
        total, total2 = np.zeros(nb), np.zeros(nb)
        for window in _windows(src, rows):
            check_cancel()
            data, valid, _ = _read(src, bands, window)
            v = np.clip(data[:, valid], lows[:, None], highs[:, None])
            total += v.sum(axis=1)
            total2 += np.square(v).sum(axis=1)
    return [_finish(lows[b], highs[b], total[b], total2[b], n) for b in range(nb)]


def _hist_percentiles(hist, lo, span, clip_percent, n) -> tuple[float, float]:
    """numpy's default (linear) percentile from a fine histogram, exact to one bin width."""
    cum = np.cumsum(hist)
    width = span / (HIST_BINS - 1)

    def order_statistic(rank: int) -> float:  # value of the rank-th smallest (0-based)
        k = int(np.searchsorted(cum, rank + 1))
        return lo + width * (k + 0.5)

    out = []
    for q in (clip_percent, 100.0 - clip_percent):
        rank = q / 100.0 * (n - 1)
        below = int(np.floor(rank))
        frac = rank - below
        value = order_statistic(below)
        if frac > 0:
            value += frac * (order_statistic(min(below + 1, n - 1)) - value)
        out.append(min(max(value, lo), lo + span))
    return out[0], out[1]


def normalise(x, stats: ChannelStats):
    """Clip and z-score (works on numpy arrays and torch tensors)."""
    if np.isfinite(stats.low):
        x = x.clip(stats.low, stats.high)
    return (x - stats.mean) / stats.std


def denormalise(z, stats: ChannelStats):
    return z * stats.std + stats.mean


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InputError(f"Unknown normalisation {mode!r}; use one of {', '.join(MODES)}.")
    return mode
