"""Instrument models: what CTX, CRISM, CaSSIS and HiRISE would record of one surface.

Every product is rendered from the same surface on the CTX grid (6 m) and resampled through
shared map coordinates, so products agree on the ground except for CRISM's known shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates, uniform_filter

from marsspec.core.simulator.geo import Grid
from marsspec.core.simulator.misregistration import Footprint, Misregistration
from marsspec.core.simulator.noise import fractal_noise
from marsspec.core.simulator.photometry import Illumination, observed, relative_shading
from marsspec.core.simulator.spectra import band_response, band_weights, boxcar_response
from marsspec.core.simulator.terrain import Terrain
from marsspec.core.simulator.units import Surface, reflectance

CRISM_NULL = 65535.0  # CRISM's own null value, kept so real-product readers apply unchanged
FLOAT_NODATA = -9999.0
CASSIS_FILTERS: dict[str, tuple[float, float]] = {  # name -> (centre nm, FWHM nm)
    "BLU": (499.0, 134.0),
    "PAN": (675.0, 231.0),
    "RED": (836.0, 98.0),
    "NIR": (937.0, 117.0),
}


def _grid_coords(dst: Grid, src: Grid, rows=None, cols=None):
    rows = np.arange(dst.height, dtype=np.float64)[:, None] if rows is None else rows
    cols = np.arange(dst.width, dtype=np.float64)[None, :] if cols is None else cols
    r, c = dst.index_in(src, rows, cols)
    return np.broadcast_arrays(r, c)


def resample(image: np.ndarray, src: Grid, dst: Grid, order: int = 1) -> np.ndarray:
    """Resample ``image`` (on ``src``) onto ``dst`` through shared map coordinates."""
    r, c = _grid_coords(dst, src)
    return map_coordinates(image, [r, c], order=order, mode="nearest").astype(np.float32)


# ---- CTX --------------------------------------------------------------------------------
def render_ctx(rng, surface: Surface, shading, sun: Illumination) -> np.ndarray:
    """500-700 nm broadband I/F with shot/read noise and faint column (even/odd) striping."""
    weights = band_weights(boxcar_response(500.0, 700.0))
    signal = observed(reflectance(surface, weights), shading, sun, 600.0)
    cols = signal.shape[1]
    gain = 1.0 + 0.002 * rng.standard_normal(cols).astype(np.float32)
    gain[1::2] *= 1.0015  # CTX-like even/odd column offset
    noisy = signal * gain[None, :]
    sigma = np.sqrt(0.0015**2 + 0.00002 * np.clip(noisy, 0, None))
    noisy += sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    return noisy.astype(np.float32)


# ---- CRISM ------------------------------------------------------------------------------
def crism_noise_fraction(wavelength_nm: float) -> float:
    """Relative noise: lowest mid-spectrum, highest at both ends and at the S/L detector seam."""
    lam = wavelength_nm
    return float(
        0.003
        + 0.02 * np.exp(-(lam - 380.0) / 70.0)
        + 0.03 * np.exp((lam - 2650.0) / 120.0)
        + 0.004 * np.exp(-(((lam - 1000.0) / 40.0) ** 2))
    )


def crism_signal(surface: Surface, shading, sun, wavelengths_nm) -> np.ndarray:
    """Noise-free CRISM I/F on the CTX grid, blurred by CRISM's 18 m point spread."""
    bands = []
    for lam in wavelengths_nm:
        weights = band_weights(band_response(lam, 10.0))
        band = observed(reflectance(surface, weights), shading, sun, lam)
        band = uniform_filter(band, size=3, mode="nearest")
        bands.append(gaussian_filter(band, 0.6, mode="nearest"))
    return np.stack(bands).astype(np.float32)


@dataclass
class CrismArtefacts:
    striped_columns: dict[int, list[int]]  # band index -> columns with a stripe
    hot_pixels: int

    def to_dict(self) -> dict:
        return {"striped_columns": self.striped_columns, "hot_pixel_count": self.hot_pixels}


def render_crism(
    rng,
    signal: np.ndarray,
    ctx: Grid,
    crism: Grid,
    misregistration: Misregistration,
    footprint: Footprint,
    wavelengths_nm,
) -> tuple[np.ndarray, CrismArtefacts]:
    """Sample the signal at misregistered positions, add CRISM noise, stripes, hot pixels."""
    rows = np.arange(crism.height, dtype=np.float64)[:, None]
    cols = np.arange(crism.width, dtype=np.float64)[None, :]
    x = crism.left + (cols + 0.5) * crism.pixel_m
    y = crism.top - (rows + 0.5) * crism.pixel_m
    x, y = np.broadcast_arrays(x, y)
    d_east, d_north = misregistration.displacement(x, y)
    ground_x, ground_y = x - d_east, y - d_north  # what the product pixel really sees
    src_r = (ctx.top - ground_y) / ctx.pixel_m - 0.5
    src_c = (ground_x - ctx.left) / ctx.pixel_m - 0.5
    inside = footprint.contains(x, y)
    out = np.empty((len(wavelengths_nm), crism.height, crism.width), np.float32)
    striped: dict[int, list[int]] = {}
    hot = 0
    for b, lam in enumerate(wavelengths_nm):
        band = map_coordinates(signal[b], [src_r, src_c], order=1, mode="nearest")
        sigma = crism_noise_fraction(lam) * np.clip(band, 0.02, None)
        band = band + sigma * rng.standard_normal(band.shape, dtype=np.float32)
        if rng.uniform() < 0.5:  # occasional detector-column stripes
            columns = rng.choice(crism.width, size=int(rng.integers(1, 4)), replace=False)
            band[:, columns] += rng.uniform(-0.03, 0.03, size=columns.size).astype(np.float32)
            striped[b] = sorted(int(c) for c in columns)
        n_hot = rng.binomial(band.size, 2e-4)
        if n_hot:
            flat = rng.choice(band.size, size=n_hot, replace=False)
            band.flat[flat] = rng.uniform(0.6, 1.2, size=n_hot).astype(np.float32)
            hot += int(n_hot)
        out[b] = np.where(inside, band, CRISM_NULL)
    return out, CrismArtefacts(striped, hot)


def crism_target(signal, ctx: Grid, misregistration: Misregistration, footprint: Footprint):
    """The perfectly registered CRISM on the CTX grid: noise-free, nodata outside the ground
    footprint (the product footprint moved back by the misregistration)."""
    rows = np.arange(ctx.height, dtype=np.float64)[:, None]
    cols = np.arange(ctx.width, dtype=np.float64)[None, :]
    x, y = np.broadcast_arrays(
        ctx.left + (cols + 0.5) * ctx.pixel_m, ctx.top - (rows + 0.5) * ctx.pixel_m
    )
    # the offset is smooth: solve it on a coarse grid and interpolate (millimetre-exact here)
    step = 8
    o_east, o_north = misregistration.offset_at(x[::step, ::step], y[::step, ::step])
    coarse_rows = np.arange(ctx.height, dtype=np.float64)[:, None] / step
    coarse_cols = np.arange(ctx.width, dtype=np.float64)[None, :] / step
    r, c = np.broadcast_arrays(coarse_rows, coarse_cols)
    o_east = map_coordinates(o_east, [r, c], order=1, mode="nearest")
    o_north = map_coordinates(o_north, [r, c], order=1, mode="nearest")
    inside = footprint.contains(x + o_east, y + o_north)
    return np.where(inside[None], signal, np.float32(CRISM_NULL)).astype(np.float32)


# ---- CaSSIS -----------------------------------------------------------------------------
def render_cassis(rng, surface: Surface, shading, sun, ctx: Grid, cassis: Grid) -> np.ndarray:
    """Four-filter colour at 4.5 m: resampled from the surface plus sub-CTX albedo texture."""
    texture = 1.0 + 0.03 * fractal_noise(rng, (cassis.height, cassis.width), beta=2.0)
    bands = []
    for centre, fwhm in CASSIS_FILTERS.values():
        weights = band_weights(band_response(centre, fwhm))
        signal = observed(reflectance(surface, weights), shading, sun, centre)
        band = resample(signal, ctx, cassis, order=1) * texture
        band += 0.004 * rng.standard_normal(band.shape, dtype=np.float32)
        bands.append(band)
    return np.stack(bands).astype(np.float32)


# ---- HiRISE -----------------------------------------------------------------------------
def render_hirise(
    rng, surface: Surface, terrain: Terrain, sun, ctx: Grid, hirise: Grid
) -> np.ndarray:
    """RED-filter (570-830 nm) greyscale at sub-metre scale: the CTX-scale relief plus fine
    relief, ripples on sand and boulders near fresh craters and mesa scarps, re-shaded."""
    shape = (hirise.height, hirise.width)
    px = hirise.pixel_m
    height = resample(terrain.height, ctx, hirise, order=3)
    height += 0.4 * fractal_noise(rng, shape, beta=2.6)
    sand = resample(terrain.dunes, ctx, hirise)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32) * np.float32(px)
    theta = np.deg2rad(terrain.dune_azimuth_deg + 90.0 + rng.uniform(-15, 15))
    ripple_wavelength = float(rng.uniform(3.0, 6.0))
    wobble = 0.5 * fractal_noise(rng, shape, beta=4.0, min_wavelength_px=8)
    ripples = np.sin(
        2 * np.pi * ((x * np.sin(theta) - y * np.cos(theta)) / ripple_wavelength) + wobble
    )
    height += 0.15 * ripples * np.clip(sand, 0, 1)
    rocky = resample(np.clip(terrain.ejecta + 2.0 * _edges(terrain.mesas), 0, 1), ctx, hirise)
    height += _boulders(rng, shape, px, 0.1 + 0.9 * rocky * (1 - sand))
    shading = relative_shading(height, px, sun)
    weights = band_weights(boxcar_response(570.0, 830.0))
    albedo = resample(reflectance(surface, weights), ctx, hirise)
    albedo *= 1.0 + 0.04 * fractal_noise(rng, shape, beta=2.2)
    image = observed(albedo, shading, sun, 700.0)
    image += 0.003 * rng.standard_normal(shape, dtype=np.float32)
    return image.astype(np.float32)


def _edges(mask: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(mask)
    return np.clip(np.hypot(gx, gy) * 4.0, 0, 1)


def _boulders(rng, shape, pixel_m: float, density: np.ndarray) -> np.ndarray:
    """Domes of 0.5-2 m radius, placed with probability following ``density``."""
    from scipy.signal import fftconvolve

    relief = np.zeros(shape, np.float32)
    area_m2 = shape[0] * shape[1] * pixel_m**2
    for radius_m, per_km2 in ((0.5, 4000.0), (1.0, 800.0), (2.0, 120.0)):
        count = rng.poisson(per_km2 * area_m2 / 1e6)
        if count == 0:
            continue
        r = rng.integers(0, shape[0], count)
        c = rng.integers(0, shape[1], count)
        keep = rng.uniform(0, 1, count) < density[r, c]
        impulses = np.zeros(shape, np.float32)
        np.add.at(impulses, (r[keep], c[keep]), 1.0)
        half = max(1, int(np.ceil(radius_m / pixel_m)))
        yy, xx = np.mgrid[-half : half + 1, -half : half + 1] * pixel_m
        dome = np.sqrt(np.clip(1 - (xx**2 + yy**2) / radius_m**2, 0, None)) * radius_m
        relief += fftconvolve(impulses, dome.astype(np.float32), mode="same").astype(np.float32)
    return relief
