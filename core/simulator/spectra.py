"""Mars endmember library: continuous reflectance functions of wavelength (400-2600 nm).

Each endmember is a smooth continuum times Gaussian absorptions at published band positions
(Bishop 2019 and Viviano-Beck 2014 spectral parameter definitions; CRISM summary products).
Continuous functions, not tabulated spectra, so any sensor's band response can be integrated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Absorption:
    center_nm: float
    width_nm: float  # Gaussian sigma
    depth: float  # fractional depth at the centre, 0..1


@dataclass(frozen=True)
class Endmember:
    """Continuum (logistic rise from ``blue`` to ``red`` around ``edge_nm``, then a linear
    near-infrared slope) multiplied by ``absorptions``."""

    name: str
    blue: float  # reflectance near 400 nm
    red: float  # reflectance at the top of the visible rise (~750 nm)
    edge_nm: float
    edge_width_nm: float
    nir_slope_per_um: float  # change of reflectance per micrometre beyond ~800 nm
    absorptions: tuple[Absorption, ...]

    def reflectance(self, wavelength_nm: np.ndarray | float) -> np.ndarray:
        lam = np.asarray(wavelength_nm, dtype=np.float64)
        rise = 1.0 / (1.0 + np.exp(-(lam - self.edge_nm) / self.edge_width_nm))
        continuum = self.blue + (self.red - self.blue) * rise
        continuum = continuum + self.nir_slope_per_um * np.clip(lam - 800.0, 0, None) / 1000.0
        factor = np.ones_like(lam)
        for band in self.absorptions:
            factor *= 1.0 - band.depth * np.exp(
                -0.5 * ((lam - band.center_nm) / band.width_nm) ** 2
            )
        return np.clip(continuum * factor, 0.005, 1.0)


A = Absorption
ENDMEMBERS: dict[str, Endmember] = {
    # Bright nanophase-ferric dust: steep visible slope, Fe3+ features near 530 and 860 nm.
    "ferric_dust": Endmember(
        "ferric_dust", 0.07, 0.33, 600.0, 45.0, -0.01, (A(530.0, 35.0, 0.12), A(860.0, 70.0, 0.06))
    ),
    # Dark basaltic sand / bedrock: low-Ca + high-Ca pyroxene bands near 1 and 2 um.
    "basalt_pyroxene": Endmember(
        "basalt_pyroxene",
        0.075,
        0.10,
        560.0,
        60.0,
        0.04,
        (A(950.0, 90.0, 0.16), A(2000.0, 230.0, 0.12)),
    ),
    # Olivine: broad composite band centred near 1.05 um, red-sloped NIR.
    "olivine": Endmember("olivine", 0.08, 0.14, 560.0, 60.0, 0.12, (A(1050.0, 170.0, 0.35),)),
    # Fe/Mg smectite (nontronite/saponite): OH/H2O at 1.41 and 1.91 um, metal-OH near 2.29 um.
    "fe_mg_smectite": Endmember(
        "fe_mg_smectite",
        0.12,
        0.24,
        580.0,
        55.0,
        0.06,
        (
            A(1410.0, 22.0, 0.10),
            A(1910.0, 40.0, 0.18),
            A(2290.0, 30.0, 0.13),
            A(2390.0, 30.0, 0.05),
        ),
    ),
    # Polyhydrated sulfate: H2O at 1.43 and 1.93 um and a drop-off band near 2.40 um.
    "hydrated_sulfate": Endmember(
        "hydrated_sulfate",
        0.17,
        0.30,
        570.0,
        50.0,
        0.05,
        (A(1430.0, 30.0, 0.10), A(1930.0, 50.0, 0.22), A(2400.0, 40.0, 0.12)),
    ),
    # Mg carbonate: C-O overtones near 2.31 and 2.51 um (plus weak 1.9 um hydration).
    "carbonate": Endmember(
        "carbonate",
        0.13,
        0.22,
        570.0,
        55.0,
        0.05,
        (A(1910.0, 35.0, 0.06), A(2310.0, 35.0, 0.14), A(2510.0, 40.0, 0.16)),
    ),
}
ENDMEMBER_NAMES: tuple[str, ...] = tuple(ENDMEMBERS)


def band_response(center_nm: float, fwhm_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian spectral response function sampled every nm (wavelengths, weights)."""
    sigma = fwhm_nm / 2.3548
    lam = np.arange(center_nm - 3 * sigma, center_nm + 3 * sigma + 1.0, 1.0)
    weights = np.exp(-0.5 * ((lam - center_nm) / sigma) ** 2)
    return lam, weights / weights.sum()


def boxcar_response(start_nm: float, stop_nm: float) -> tuple[np.ndarray, np.ndarray]:
    lam = np.arange(start_nm, stop_nm + 1.0, 1.0)
    return lam, np.full(lam.shape, 1.0 / lam.size)


def band_weights(response: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Each endmember's reflectance integrated over a band response (shape: endmembers)."""
    lam, weights = response
    return np.array(
        [float(np.sum(ENDMEMBERS[name].reflectance(lam) * weights)) for name in ENDMEMBER_NAMES],
        dtype=np.float32,
    )
