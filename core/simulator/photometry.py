"""Illumination: MRO's ~15:00 local-time sun on the height field, plus atmospheric haze."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Illumination:
    incidence_deg: float  # solar incidence on a flat surface
    azimuth_deg: float  # direction to the sun, clockwise from north
    haze_550: float  # additive path radiance (I/F) at 550 nm
    transmission: float  # two-way surface attenuation by dust
    diffuse_fraction: float = 0.35  # share of the irradiance scattered by the dusty sky

    def to_dict(self) -> dict:
        return {
            "incidence_deg": self.incidence_deg,
            "azimuth_deg": self.azimuth_deg,
            "haze_if_550nm": self.haze_550,
            "transmission": self.transmission,
            "diffuse_fraction": self.diffuse_fraction,
        }

    def haze(self, wavelength_nm: float) -> float:
        """Dust haze scatters most at short wavelengths (a weak power law)."""
        return float(self.haze_550 * (550.0 / wavelength_nm) ** 1.2)


def afternoon_sun(rng, latitude_deg: float) -> Illumination:
    """MRO is sun-synchronous near 15:00 local time: the sun is west of the meridian and,
    outside the tropics, toward the equator; incidence 40-65 degrees."""
    azimuth = 265.0 - 25.0 * np.sign(latitude_deg) * min(abs(latitude_deg) / 30.0, 1.0)
    azimuth += float(rng.uniform(-8.0, 8.0))
    return Illumination(
        incidence_deg=float(rng.uniform(40.0, 65.0)),
        azimuth_deg=float(azimuth % 360.0),
        haze_550=float(rng.uniform(0.008, 0.025)),
        transmission=float(rng.uniform(0.9, 0.96)),
        diffuse_fraction=float(rng.uniform(0.3, 0.45)),
    )


def relative_shading(height: np.ndarray, pixel_m: float, sun: Illumination) -> np.ndarray:
    """cos(local incidence) / cos(flat incidence): 1 on flat ground, Lambertian elsewhere."""
    d_row, d_col = np.gradient(height.astype(np.float32), pixel_m)
    dz_east, dz_north = d_col, -d_row
    inc, az = np.deg2rad(sun.incidence_deg), np.deg2rad(sun.azimuth_deg)
    sx, sy, sz = np.sin(inc) * np.sin(az), np.sin(inc) * np.cos(az), np.cos(inc)
    cos_local = (-dz_east * sx - dz_north * sy + sz) / np.sqrt(dz_east**2 + dz_north**2 + 1.0)
    direct = np.clip(cos_local, 0.0, None) / np.float32(sz)
    # Mars' dusty sky lights shadows and softens slopes: a diffuse share of the irradiance
    diffuse = np.float32(sun.diffuse_fraction)
    return ((1.0 - diffuse) * direct + diffuse).astype(np.float32)


def observed(reflectance: np.ndarray, shading: np.ndarray, sun: Illumination, wavelength_nm):
    """Photometrically corrected I/F as an orbiter sees it (before instrument effects)."""
    return (
        reflectance * shading * np.float32(sun.transmission) + np.float32(sun.haze(wavelength_nm))
    ).astype(np.float32)
