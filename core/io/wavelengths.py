"""Wavelengths: nominal CRISM detector tables, product wavelength tables, band choice.

A model trained on 592 nm must get the band nearest 592 nm, and say which one it got; when the
nearest band is too far away the only honest answer is an error.

The shipped nominal tables (data/crism_trdr_{s,l}_nominal.csv) give a centre wavelength per
CRISM detector row; their headers state their source: a low-order polynomial in detector row
fitted to the public CRISM MRDR wavelength table T0897_MRRWV_05S113_0256_1.TAB (PDS data set
MRO-M-CRISM-5-RDR-MULTISPECTRAL-V1.0), accurate to ~1-2 nm; the exact per-observation table
is the CDR 'WA' file a TRDR label names, which marsspec prefers when a user supplies it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from marsspec.core.errors import InputError

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_MAX_DISTANCE_NM = 20.0


@dataclass(frozen=True)
class BandChoice:
    index: int  # 1-based band number, as GDAL/rasterio count
    wavelength_nm: float  # the band's actual centre
    requested_nm: float

    @property
    def distance_nm(self) -> float:
        return abs(self.wavelength_nm - self.requested_nm)


def select_band(
    wavelengths_nm, requested_nm: float, max_distance_nm: float = DEFAULT_MAX_DISTANCE_NM
) -> BandChoice:
    """The band nearest ``requested_nm``; InputError when none lies within ``max_distance_nm``."""
    known = [(i, w) for i, w in enumerate(wavelengths_nm, start=1) if w is not None]
    if not known:
        raise InputError(
            "This raster has no band wavelengths, so bands cannot be chosen by wavelength; "
            "choose bands by number, or give a product with a wavelength table."
        )
    index, wavelength = min(known, key=lambda item: abs(item[1] - requested_nm))
    choice = BandChoice(index, float(wavelength), float(requested_nm))
    if choice.distance_nm > max_distance_nm:
        raise InputError(
            f"No band near {requested_nm:g} nm: the nearest is band {index} at {wavelength:g} nm, "
            f"{choice.distance_nm:.1f} nm away (limit {max_distance_nm:g} nm). Use a product that "
            f"covers {requested_nm:g} nm, or allow max_distance_nm >= {choice.distance_nm:.0f}."
        )
    return choice


def select_bands(wavelengths_nm, requested_nm, max_distance_nm=DEFAULT_MAX_DISTANCE_NM):
    return [select_band(wavelengths_nm, r, max_distance_nm) for r in requested_nm]


@lru_cache(maxsize=4)
def detector_table(detector: str) -> tuple[np.ndarray, np.ndarray]:
    """(wavelength per detector row 0..479, rows of the standard TRDR channels) for 'S' or 'L'."""
    detector = detector.upper()
    if detector not in ("S", "L"):
        raise InputError(f"CRISM detector must be 'S' or 'L', not '{detector}'.")
    path = DATA_DIR / f"crism_trdr_{detector.lower()}_nominal.csv"
    if not path.exists():
        raise InputError(
            f"The nominal CRISM {detector} wavelength table '{path}' is missing from this install; "
            "reinstall marsspec."
        )
    table = np.loadtxt(path, delimiter=",", skiprows=_header_lines(path), ndmin=2)
    rows = table[:, 0].astype(int)
    wavelengths = np.full(480, np.nan)
    wavelengths[rows] = table[:, 1]
    return wavelengths, rows[table[:, 2] == 1]


def _header_lines(path: Path) -> int:
    with open(path, encoding="ascii") as handle:
        for count, line in enumerate(handle):
            if line.startswith("detector_row"):
                return count + 1
    return 0


def crism_nominal_wavelengths(detector: str, band_count: int, rows=None) -> list[float]:
    """Nominal centres for a TRDR cube: by its detector rows when known, else the standard set."""
    wavelengths, standard = detector_table(detector)
    if rows is None or len(rows) != band_count or np.any(np.asarray(rows) >= 480):
        rows = standard
    if len(rows) != band_count:
        raise InputError(
            f"No wavelength table for this CRISM {detector} cube of {band_count} bands: "
            "the nominal "
            f"table covers the standard {len(standard)}-channel cube only. Put the CDR WA file "
            "named in the label next to it, or give wavelengths explicitly."
        )
    return [round(float(wavelengths[r]), 2) for r in rows]


def read_crism_wavelength_tab(path: Path) -> list[float]:
    """A CRISM MRDR/TER wavelength table (.TAB: detector, row, wavelength nm per line)."""
    values = []
    for line in path.read_text(encoding="latin-1").splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) >= 3:
            try:
                values.append(float(fields[2]))
            except ValueError:
                continue
    if not values:
        raise InputError(f"'{path}' holds no wavelengths (expected 'detector, row, nm' lines).")
    return values


_NAME_NM = re.compile(r"^R(\d{3,4})$")


def wavelength_from_band_name(name: str) -> float | None:
    """CRISM browse band names such as 'R2529' carry their wavelength in nm."""
    match = _NAME_NM.match(name.strip().upper())
    return float(match.group(1)) if match else None
