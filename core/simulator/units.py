"""Geologic units placed from the landforms, mixed into endmember abundances.

Units follow morphology (dunes are basaltic sand, dust mantles highs, mesas are light-toned
layered deposits, degraded crater floors hold clays) with soft boundaries, and an independent
low-frequency perturbation per endmember keeps albedo from predicting spectra exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, uniform_filter

from marsspec.core.simulator.noise import coarse_noise
from marsspec.core.simulator.spectra import ENDMEMBER_NAMES
from marsspec.core.simulator.terrain import Terrain

UNIT_NAMES: tuple[str, ...] = ("plains", "dunes", "dust", "layered", "crater_floor")


@dataclass
class Surface:
    abundances: np.ndarray  # (endmembers, rows, cols) float32, sums to 1
    albedo: np.ndarray  # multiplicative brightness perturbation, ~1
    unit_weights: np.ndarray  # (units, rows, cols) float32, sums to 1


def make_surface(rng, terrain: Terrain, site, pixel_m: float = 6.0) -> Surface:
    shape = terrain.height.shape
    scale = max(shape) / 6.0
    relief = terrain.height - uniform_filter(terrain.height, size=max(9, shape[0] // 16))
    # dust mantles gentle highs in patches (more of them where the site is dustier) and
    # slides off steep slopes, exposing what lies beneath
    d_row, d_col = np.gradient(gaussian_filter(terrain.height, 1.0), pixel_m)
    raw = relief / 25.0 + 0.9 * coarse_noise(rng, shape, scale)
    raw -= np.hypot(d_row, d_col) / 0.4
    threshold = float(np.quantile(raw[::4, ::4], 1.0 - site.dust_cover * 0.6))
    dust = np.clip((raw - threshold) / 0.4, 0.0, 1.0).astype(np.float32)

    dunes = terrain.dunes
    free = 1.0 - dunes
    layered = terrain.mesas * free * (1.0 - 0.5 * dust)
    floor = terrain.crater_floor * free * (1.0 - terrain.mesas)
    dust_w = dust * free * (1.0 - 0.6 * terrain.ejecta)
    plains = np.clip(1.0 - dunes - layered - floor - dust_w, 0.0, None) + 0.05
    weights = np.stack([plains, dunes, dust_w, layered, floor]).astype(np.float32)
    for unit in weights:  # gradual mixing at unit boundaries
        gaussian_filter(unit, sigma=2.0, output=unit)
    weights /= weights.sum(axis=0, keepdims=True)

    composition = np.zeros((len(UNIT_NAMES), len(ENDMEMBER_NAMES)), np.float32)
    for u, unit in enumerate(UNIT_NAMES):
        for name, fraction in site.units[unit].items():
            composition[u, ENDMEMBER_NAMES.index(name)] = fraction
    composition /= composition.sum(axis=1, keepdims=True)
    abundances = np.tensordot(composition.T, weights, axes=1).astype(np.float32)
    # morphology-linked composition inside units (learnable from context, not from albedo):
    # alternating strata of layered deposits, mafic-rich dust-free ejecta of fresh craters
    idx = {name: k for k, name in enumerate(ENDMEMBER_NAMES)}
    if terrain.strata is not None:
        lead = max(site.units["layered"], key=site.units["layered"].get)
        abundances[idx[lead]] *= 1.0 + 1.8 * (terrain.strata - 0.5) * weights[3]
    abundances[idx["olivine"]] += 0.8 * terrain.ejecta * (1.0 - terrain.dunes)
    abundances[idx["ferric_dust"]] *= 1.0 - 0.7 * terrain.ejecta
    for k in range(len(ENDMEMBER_NAMES)):  # not perfectly determined by the unit
        abundances[k] *= np.exp(0.18 * coarse_noise(rng, shape, scale / 2))
    abundances /= abundances.sum(axis=0, keepdims=True)

    albedo = np.exp(0.08 * coarse_noise(rng, shape, scale / 3)).astype(np.float32)
    return Surface(abundances, albedo, weights)


def reflectance(surface: Surface, weights: np.ndarray) -> np.ndarray:
    """Surface reflectance in one band, from per-endmember band-integrated reflectances."""
    band = np.tensordot(weights.astype(np.float32), surface.abundances, axes=1)
    return (band * surface.albedo).astype(np.float32)
