"""Which CRISM band to match against CTX (paper 000 A.1: the band nearest 592 nm)."""

from __future__ import annotations

from dataclasses import dataclass

from marsspec.core.coreg.config import MATCH_WAVELENGTH_NM
from marsspec.core.errors import InputError
from marsspec.core.io.product import Product
from marsspec.core.io.wavelengths import select_band


@dataclass(frozen=True)
class MatchingBands:
    target: int  # 1-based CRISM band
    reference: int  # 1-based CTX band
    target_wavelength_nm: float | None
    reason: str  # said in the log: how the band was chosen


def choose_bands(
    reference: Product, target: Product, crism_band: int | None, reference_band: int = 1
) -> MatchingBands:
    if not 1 <= reference_band <= reference.count:
        raise InputError(
            f"Reference band {reference_band} does not exist: '{reference.path.name}' has "
            f"{reference.count} band(s)."
        )
    if crism_band is not None:
        if not 1 <= crism_band <= target.count:
            raise InputError(
                f"CRISM band {crism_band} does not exist: '{target.path.name}' has "
                f"{target.count} band(s)."
            )
        wavelength = target.wavelengths_nm[crism_band - 1]
        return MatchingBands(crism_band, reference_band, wavelength, "chosen by the user")
    if all(w is None for w in target.wavelengths_nm):
        raise InputError(
            f"'{target.path.name}' has no band wavelengths ({target.count} band(s)), so the "
            f"band nearest {MATCH_WAVELENGTH_NM:g} nm cannot be found; give the CRISM band to "
            "match with (--crism-band N on the command line, 'CRISM matching band' in QGIS)."
        )
    # Any band is better than none for matching: no distance limit, but the log says how far.
    choice = select_band(target.wavelengths_nm, MATCH_WAVELENGTH_NM, max_distance_nm=1e9)
    reason = (
        f"nearest to {MATCH_WAVELENGTH_NM:g} nm ({choice.wavelength_nm:g} nm, "
        f"{choice.distance_nm:.0f} nm away)"
    )
    return MatchingBands(choice.index, reference_band, choice.wavelength_nm, reason)
