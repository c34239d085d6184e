"""core.metrics: slanted-edge rise on edges blurred by a known PSF (paper 002 §3.1), PSNR, SSIM."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from marsspec.core.errors import InputError
from marsspec.core.metrics.edge import edge_factor, gaussian_rise, rise_distance
from marsspec.core.metrics.image import psnr, ssim


def blurred_edge(sigma: float, angle_deg: float, n: int = 48, oversample: int = 8) -> np.ndarray:
    """A hard slanted edge rendered 8x finer, blurred by a Gaussian PSF, box-averaged to pixels."""
    yy, xx = np.mgrid[0 : n * oversample, 0 : n * oversample] / oversample
    step = (xx - n / 2 - np.tan(np.radians(angle_deg)) * (yy - n / 2) > 0).astype(float)
    image = gaussian_filter(step, sigma * oversample)
    return image.reshape(n, oversample, n, oversample).mean(axis=(1, 3)) * 0.6 + 0.2


@pytest.mark.parametrize("sigma", [0.8, 1.5, 3.0])
@pytest.mark.parametrize("angle", [4.0, 11.0, -7.0])
def test_rise_of_a_known_gaussian_psf(sigma, angle):
    # Pixel aperture (box of 1 px) adds variance 1/12 to the PSF's.
    expected = gaussian_rise(np.sqrt(sigma**2 + 1 / 12))
    image = blurred_edge(sigma, angle)
    assert rise_distance(image) == pytest.approx(expected, rel=0.04)
    assert rise_distance(image.T) == pytest.approx(expected, rel=0.04)  # horizontal edge
    assert rise_distance(image[:, ::-1]) == pytest.approx(expected, rel=0.04)  # falling edge


def test_edge_factor_is_the_ratio_of_rises():
    factor = edge_factor(blurred_edge(3.0, 6.0), blurred_edge(1.0, 6.0))
    expected = gaussian_rise(np.sqrt(9 + 1 / 12)) / gaussian_rise(np.sqrt(1 + 1 / 12))
    assert factor == pytest.approx(expected, rel=0.05)


def test_edge_metric_bad_regions():
    with pytest.raises(InputError, match=r"no contrast|No edge"):
        rise_distance(np.ones((20, 20)))
    with pytest.raises(InputError, match="nodata"):
        image = blurred_edge(1.0, 5.0)
        image[3, 3] = np.nan
        rise_distance(image)


def test_psnr_and_ssim():
    rng = np.random.default_rng(0)
    ref = gaussian_filter(rng.random((64, 64)), 2)
    noisy = ref + rng.normal(0, 0.01, ref.shape)
    assert psnr(noisy, ref, 1.0) == pytest.approx(40.0, abs=0.3)  # MSE 1e-4
    assert psnr(ref, ref, 1.0) == float("inf")
    assert ssim(ref, ref, 1.0) == pytest.approx(1.0)
    assert ssim(noisy, ref, 1.0) < ssim(ref + 0.001 * (noisy - ref), ref, 1.0) < 1.0
    masked = noisy.copy()
    masked[:8] = np.nan  # nodata is ignored, not counted as error
    assert psnr(masked, ref, 1.0) == pytest.approx(psnr(noisy[8:], ref[8:], 1.0))
