"""Site presets: where a scene is placed on Mars and what its geology looks like.

Compositions are per unit, as endmember fractions (see spectra.ENDMEMBER_NAMES); they follow
the published mineralogy of each site in broad strokes, not in detail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from marsspec.core.errors import InputError

_BASE_UNITS: dict[str, dict[str, float]] = {
    "plains": {"basalt_pyroxene": 0.6, "olivine": 0.15, "ferric_dust": 0.25},
    "dunes": {"basalt_pyroxene": 0.8, "olivine": 0.15, "ferric_dust": 0.05},
    "dust": {"ferric_dust": 0.9, "basalt_pyroxene": 0.1},
    "layered": {"hydrated_sulfate": 0.6, "ferric_dust": 0.25, "basalt_pyroxene": 0.15},
    "crater_floor": {"fe_mg_smectite": 0.55, "basalt_pyroxene": 0.25, "ferric_dust": 0.2},
}


def _units(**overrides: dict[str, float]) -> dict[str, dict[str, float]]:
    units = {name: dict(mix) for name, mix in _BASE_UNITS.items()}
    units.update(overrides)
    return units


@dataclass(frozen=True)
class SitePreset:
    name: str
    lat: float  # planetocentric degrees north
    lon: float  # degrees east, -180..180
    description: str
    crater_density: float = 1.0  # multiplies the number of craters
    dune_fraction: float = 0.2  # share of the scene covered by dune fields
    mesa_fraction: float = 0.15  # share covered by layered mesas
    dust_cover: float = 0.5  # 0..1, how strongly dust mantles the highs
    # unit -> {endmember: fraction}; units: plains, dunes, dust, layered, crater_floor
    units: dict[str, dict[str, float]] = field(default_factory=lambda: _units())


SITES: dict[str, SitePreset] = {
    preset.name: preset
    for preset in (
        SitePreset(
            "jezero",
            18.38,
            77.58,
            "Jezero crater: olivine-carbonate floor, smectite delta",
            dune_fraction=0.12,
            mesa_fraction=0.15,
            dust_cover=0.4,
            units=_units(
                plains={
                    "olivine": 0.4,
                    "carbonate": 0.25,
                    "basalt_pyroxene": 0.15,
                    "ferric_dust": 0.2,
                },
                layered={"fe_mg_smectite": 0.45, "carbonate": 0.25, "ferric_dust": 0.3},
            ),
        ),
        SitePreset(
            "gale",
            -5.37,
            137.81,
            "Gale crater: sulfate-bearing Mount Sharp units, Bagnold dunes",
            dune_fraction=0.3,
            mesa_fraction=0.25,
            dust_cover=0.35,
        ),
        SitePreset(
            "eberswalde",
            -23.9,
            -33.5,
            "Eberswalde delta: Fe/Mg smectite in layered fan deposits",
            dune_fraction=0.1,
            mesa_fraction=0.2,
            dust_cover=0.5,
            units=_units(
                layered={"fe_mg_smectite": 0.6, "ferric_dust": 0.25, "basalt_pyroxene": 0.15}
            ),
        ),
        SitePreset(
            "holden",
            -26.4,
            -34.0,
            "Holden crater: layered phyllosilicate-bearing floor deposits",
            crater_density=1.3,
            dune_fraction=0.15,
            mesa_fraction=0.2,
            dust_cover=0.45,
            units=_units(
                layered={"fe_mg_smectite": 0.5, "hydrated_sulfate": 0.1, "ferric_dust": 0.4}
            ),
        ),
        SitePreset(
            "mawrth_vallis",
            24.0,
            -19.0,
            "Mawrth Vallis: thick Fe/Mg-smectite layered plateau",
            dune_fraction=0.05,
            mesa_fraction=0.35,
            dust_cover=0.6,
            units=_units(
                layered={"fe_mg_smectite": 0.7, "ferric_dust": 0.3},
                plains={"fe_mg_smectite": 0.3, "basalt_pyroxene": 0.3, "ferric_dust": 0.4},
            ),
        ),
        SitePreset(
            "melas_chasma",
            -10.5,
            -73.0,
            "Melas Chasma: sulfate interior layered deposits",
            crater_density=0.5,
            dune_fraction=0.25,
            mesa_fraction=0.35,
            dust_cover=0.3,
            units=_units(
                layered={"hydrated_sulfate": 0.75, "ferric_dust": 0.15, "basalt_pyroxene": 0.1}
            ),
        ),
    )
}


def get_site(name: str) -> SitePreset:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in SITES:
        raise InputError(f"Unknown site '{name}'. Choose one of: {', '.join(sorted(SITES))}.")
    return SITES[key]
