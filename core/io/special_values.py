"""ISIS special pixel values: which float pixels are data and which are markers.

ISIS writes its special pixels into 32-bit float cubes as the most negative floats (at every
map-projected cube's edges, for saturated and missing pixels), and GDAL exports keep them as
ordinary numbers unless a nodata value names one of them. Counted as data, one -3.4e38 wrecks
a mean, a standard deviation or a percentile range, so every statistic and every model input
must treat them as nodata. The ISIS constants (isis/src/base/objs/SpecialPixel/SpecialPixel.h):

======  ===========  ==========================
name    bits         value
======  ===========  ==========================
NULL    0xFF7FFFFB   -3.4028226550889045e+38
LRS     0xFF7FFFFC   -3.4028228579130005e+38
LIS     0xFF7FFFFD   -3.4028230607370965e+38
HIS     0xFF7FFFFE   -3.4028232635611926e+38
HRS     0xFF7FFFFF   -3.4028234663852886e+38
======  ===========  ==========================

Other software writes +-3.4028235e+38 (FLT_MAX) for the same purpose, and 64-bit cubes use
-1.79e308. No planetary measurement (reflectance, DN, elevation in metres, radiance) comes
near 1e38, so every value with ``|v| >= 1e38`` is a marker, as are NaN and +-inf.
"""

from __future__ import annotations

import numpy as np

ISIS_NULL = -3.4028226550889045e38
ISIS_LRS = -3.4028228579130005e38
ISIS_LIS = -3.4028230607370965e38
ISIS_HIS = -3.4028232635611926e38
ISIS_HRS = -3.4028234663852886e38
ISIS_SPECIAL_VALUES = (ISIS_NULL, ISIS_LRS, ISIS_LIS, ISIS_HIS, ISIS_HRS)

SPECIAL_THRESHOLD = 1e38
"""Float values at or beyond this magnitude are special pixels, not data."""


RESAMPLED_THRESHOLD = 1e30
"""For data GDAL resampled (averaged, interpolated) before marsspec saw it: one special value
among up to 10^8 averaged pixels still lands beyond this, and no measurement comes near it."""


def valid_float_mask(array: np.ndarray, threshold: float = SPECIAL_THRESHOLD) -> np.ndarray:
    """True where ``array`` holds a usable number: finite and ``|v| < threshold`` (1e38).

    Integer arrays are valid everywhere (their nodata is the raster's nodata value, which GDAL's
    masks already handle).
    """
    array = np.asarray(array)
    if array.dtype.kind not in "fc":
        return np.ones(array.shape, bool)
    with np.errstate(invalid="ignore"):
        return np.isfinite(array) & (np.abs(array) < threshold)


def special_pixel_warning(count: int, name: str) -> str:
    """The one warning a user gets when ``count`` pixels of ``name`` are special values."""
    return (
        f"{count:,} pixels of {name} hold ISIS special values or non-finite numbers "
        "(|value| >= 1e38, NaN or inf); they are treated as nodata. Set the raster's nodata "
        "value (e.g. gdal_edit.py -a_nodata -3.4028226550889045e+38) to mark them explicitly."
    )
