"""Height field and landform masks: fractal relief, craters, dune fields, layered mesas.

All lengths are in metres on a grid of ``pixel_m``; the masks (0..1, smooth) tell the unit
model where each landform is, so geology follows morphology as it does on Mars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from marsspec.core.simulator.noise import fractal_noise, smooth_noise


@dataclass
class Terrain:
    height: np.ndarray  # metres, float32
    dunes: np.ndarray  # 0..1 dune-field membership
    mesas: np.ndarray  # 0..1 layered-deposit membership
    crater_floor: np.ndarray  # 0..1 floor fill of larger craters
    ejecta: np.ndarray  # 0..1 fresh ejecta blankets
    dune_azimuth_deg: float  # crest-normal direction of the dominant wind
    crater_count: int
    strata: np.ndarray | None = None  # 0..1: which layer of a layered mesa is exposed


def make_terrain(rng, shape, pixel_m, site) -> Terrain:
    rows, cols = shape
    extent_m = max(rows, cols) * pixel_m
    height = 40.0 * fractal_noise(rng, shape, beta=3.2)
    height += 4.0 * fractal_noise(rng, shape, beta=2.2)

    mesas = _mesas(rng, shape, site.mesa_fraction)
    k = mesas * 6.0  # terraced: six strata, each a flat bench and a short scarp
    frac = k - np.floor(k)
    steps = np.floor(k) + np.clip((frac - 0.6) / 0.4, 0, 1) ** 2
    height += gaussian_filter(60.0 * mesas + 8.0 * steps, sigma=1.5)

    crater_floor = np.zeros(shape, np.float32)
    ejecta = np.zeros(shape, np.float32)
    count = _add_craters(rng, height, crater_floor, ejecta, pixel_m, extent_m, site.crater_density)

    dunes, azimuth = _dune_mask(rng, shape, site.dune_fraction, mesas)
    height += _dune_relief(rng, shape, pixel_m, azimuth) * dunes
    strata = (0.5 + 0.5 * np.cos(np.pi * k)).astype(np.float32)  # alternating layers
    return Terrain(height, dunes, mesas, crater_floor, ejecta, azimuth, count, strata)


def _mesas(rng, shape, fraction: float) -> np.ndarray:
    """Plateaus where smooth noise exceeds the quantile that gives ``fraction`` cover."""
    base = smooth_noise(rng, shape, max(shape) / 4.0) + 0.3 * smooth_noise(
        rng, shape, max(shape) / 16
    )
    threshold = float(np.quantile(base[::4, ::4], 1.0 - fraction)) if fraction > 0 else np.inf
    return np.clip((base - threshold) / 0.25, 0.0, 1.0).astype(np.float32)


def _dune_mask(rng, shape, fraction: float, mesas: np.ndarray) -> tuple[np.ndarray, float]:
    base = smooth_noise(rng, shape, max(shape) / 3.0) - 2.0 * mesas  # sand collects in lows
    threshold = float(np.quantile(base[::4, ::4], 1.0 - fraction)) if fraction > 0 else np.inf
    mask = np.clip((base - threshold) / 0.3, 0.0, 1.0).astype(np.float32)
    azimuth = float(rng.uniform(0.0, 180.0))
    return mask, azimuth


def _dune_relief(rng, shape, pixel_m: float, azimuth_deg: float) -> np.ndarray:
    """Asymmetric transverse dunes (gentle stoss, steep lee) with sinuous crests."""
    rows, cols = shape
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32) * pixel_m
    theta = np.deg2rad(azimuth_deg)
    along = x * np.float32(np.sin(theta)) - y * np.float32(np.cos(theta))
    wavelength = float(rng.uniform(60.0, 140.0))
    sinuous = 0.15 * wavelength * smooth_noise(rng, shape, 600.0 / pixel_m)
    phase = np.mod((along + sinuous) / wavelength, 1.0)
    profile = np.where(phase < 0.75, phase / 0.75, (1.0 - phase) / 0.25)  # sawtooth
    return (profile * float(rng.uniform(5.0, 12.0))).astype(np.float32)


def _add_craters(rng, height, floor, ejecta, pixel_m, extent_m, density) -> int:
    """Bowl, raised rim, ejecta blanket decaying as r^-3, flat floor fill in large craters."""
    rows, cols = height.shape
    r_min, r_max = 4.0 * pixel_m, 0.18 * extent_m
    count = int(density * 18 * (extent_m / 6000.0) ** 2 + 6)
    # power-law sizes: many small, few large
    u = rng.uniform(0, 1, count)
    radii = r_min * (1 - u * (1 - (r_min / r_max) ** 1.8)) ** (-1 / 1.8)
    for radius in sorted(radii, reverse=True):
        cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
        rad_px = radius / pixel_m
        reach = int(np.ceil(rad_px * 2.5))
        y0, y1 = max(0, int(cy) - reach), min(rows, int(cy) + reach + 1)
        x0, x1 = max(0, int(cx) - reach), min(cols, int(cx) + reach + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        r = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2).astype(np.float32) / np.float32(rad_px)
        diameter = 2 * radius
        depth, rim = 0.2 * diameter, 0.04 * diameter
        degraded = radius > 0.05 * extent_m  # large craters are old and partly filled
        fill = 0.55 if degraded else 0.0
        bowl = np.where(r < 1.0, np.maximum((r**2 - 1.0) * depth, -depth * (1.0 - fill)), 0.0)
        rim_profile = np.where(r < 1.0, rim * r**3, rim * np.clip(r, 1.0, None) ** -3.0)
        height[y0:y1, x0:x1] += (bowl + rim_profile).astype(np.float32)
        if degraded:
            floor[y0:y1, x0:x1] = np.maximum(floor[y0:y1, x0:x1], np.clip((0.85 - r) / 0.2, 0, 1))
        else:
            blanket = np.clip(1.0 - np.abs(r - 1.6) / 0.9, 0, 1) * (radius > 6 * pixel_m)
            ejecta[y0:y1, x0:x1] = np.maximum(ejecta[y0:y1, x0:x1], blanket * 0.8)
    return count
