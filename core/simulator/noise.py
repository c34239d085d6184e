"""Seeded random fields: fractal (1/f^beta) noise by FFT, the basis of every texture."""

from __future__ import annotations

import numpy as np


def fractal_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    beta: float = 3.0,
    min_wavelength_px: float = 2.0,
    max_wavelength_px: float | None = None,
) -> np.ndarray:
    """Zero-mean, unit-std float32 noise with power spectrum ~ 1/f**beta, band-limited."""
    rows, cols = shape
    fy = np.fft.fftfreq(rows).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(cols).astype(np.float32)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    amplitude = f ** (-beta / 2.0)
    amplitude[f > 1.0 / min_wavelength_px] = 0.0
    if max_wavelength_px is not None:
        amplitude[f < 1.0 / max_wavelength_px] = 0.0
    amplitude[0, 0] = 0.0
    spectrum = (
        rng.standard_normal((rows, cols // 2 + 1), dtype=np.float32)
        + 1j * rng.standard_normal((rows, cols // 2 + 1), dtype=np.float32)
    ) * amplitude
    field = np.fft.irfft2(spectrum, s=shape).astype(np.float32)
    std = float(field.std())
    return field / std if std > 0 else field


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale_px: float) -> np.ndarray:
    """Smooth unit-std noise whose features are about ``scale_px`` across."""
    return fractal_noise(rng, shape, beta=4.0, min_wavelength_px=max(scale_px / 2, 2.0))


def coarse_noise(
    rng: np.random.Generator, shape: tuple[int, int], scale_px: float, factor: int = 4
) -> np.ndarray:
    """Like :func:`smooth_noise` but generated on a grid ``factor`` times coarser and
    interpolated up: several times faster for fields with no fine detail."""
    from scipy.ndimage import zoom

    small = (max(8, -(-shape[0] // factor)), max(8, -(-shape[1] // factor)))
    field = smooth_noise(rng, small, max(scale_px / factor, 2.0))
    up = zoom(
        field, (shape[0] / small[0], shape[1] / small[1]), order=1, grid_mode=True, mode="grid-wrap"
    )
    return up[: shape[0], : shape[1]].astype(np.float32)
