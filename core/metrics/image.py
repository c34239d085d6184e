"""Full-reference image quality (paper 002 §2.3): PSNR (Eq. 14) and mean SSIM (Eq. 15).

Both ignore non-finite pixels (nodata) and take the peak / data range explicitly: SR outputs
are float radiometry, not 8-bit, so a default of 255 would be meaningless.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def psnr(test: np.ndarray, reference: np.ndarray, peak: float) -> float:
    """``10 log10(peak^2 / MSE)`` over pixels finite in both; ``inf`` for identical images."""
    test = np.asarray(test, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    valid = np.isfinite(test) & np.isfinite(reference)
    if not valid.any():
        return float("nan")
    mse = float(np.mean((test[valid] - reference[valid]) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(peak * peak / mse))


def ssim(test: np.ndarray, reference: np.ndarray, data_range: float, sigma: float = 1.5) -> float:
    """Mean SSIM of two 2-D images (Wang et al. 2004: Gaussian window 1.5, K1 .01, K2 .03)."""
    x = np.asarray(test, dtype=np.float64)
    y = np.asarray(reference, dtype=np.float64)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"ssim needs two 2-D images of one shape, got {x.shape} and {y.shape}")
    valid = np.isfinite(x) & np.isfinite(y)
    x, y = np.where(valid, x, 0.0), np.where(valid, y, 0.0)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def smooth(a: np.ndarray) -> np.ndarray:
        return gaussian_filter(a, sigma, truncate=3.5)

    mx, my = smooth(x), smooth(y)
    vx = smooth(x * x) - mx * mx
    vy = smooth(y * y) - my * my
    cxy = smooth(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    # Only windows that lie wholly in valid data count (no edge or nodata artefacts).
    pad = int(3.5 * sigma + 0.5)
    inner = valid.copy()
    inner[:pad], inner[-pad:], inner[:, :pad], inner[:, -pad:] = False, False, False, False
    inner &= smooth(valid.astype(np.float64)) > 0.999
    return float(s[inner].mean()) if inner.any() else float("nan")
