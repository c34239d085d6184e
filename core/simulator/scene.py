"""One simulated scene, end to end: surface -> instruments -> GeoTIFFs + truth.json."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from marsspec.core.errors import InputError
from marsspec.core.simulator import sensors
from marsspec.core.simulator.geo import Grid, mars_crs, scene_origin, write_geotiff
from marsspec.core.simulator.misregistration import random_footprint, random_misregistration
from marsspec.core.simulator.photometry import afternoon_sun, relative_shading
from marsspec.core.simulator.sites import get_site
from marsspec.core.simulator.spectra import ENDMEMBER_NAMES, ENDMEMBERS
from marsspec.core.simulator.terrain import make_terrain
from marsspec.core.simulator.units import UNIT_NAMES, make_surface

EVC_NM = (592.0, 533.0, 442.0)  # CRISM enhanced visible colour (R, G, B)
FC_NM = (2503.0, 1500.0, 1080.0)  # CRISM false colour / FAL (R, G, B)
PRODUCTS = ("ctx", "crism", "cassis", "hirise", "dem")


@dataclass(frozen=True)
class SceneConfig:
    seed: int = 0
    size: int = 512  # CTX pixels per side
    site: str = "jezero"
    crism_wavelengths_nm: tuple[float, ...] = EVC_NM + FC_NM
    products: tuple[str, ...] = PRODUCTS
    ctx_pixel_m: float = 6.0
    crism_pixel_m: float = 18.0
    cassis_pixel_m: float = 4.5
    hirise_pixel_m: float = 0.75
    hirise_size: int | None = None  # pixels per side; default min(size, 2048)
    dem_factor: int = 4  # DEM pixel = 4 CTX pixels (24 m), like a CTX stereo DTM
    # CRISM misregistration ranges in CRISM pixels: global shift, smooth-warp amplitude
    shift_crism_px: tuple[float, float] = (2.0, 5.0)
    warp_crism_px: tuple[float, float] = (0.3, 0.6)

    def validate(self) -> None:
        if self.size < 64:
            raise InputError(f"Scene size {self.size} px is too small; use --size 64 or more.")
        unknown = set(self.products) - set(PRODUCTS)
        if unknown:
            raise InputError(
                f"Unknown product(s) {sorted(unknown)}; choose from {', '.join(PRODUCTS)}."
            )
        for lam in self.crism_wavelengths_nm:
            if not 400.0 <= lam <= 2600.0:
                raise InputError(
                    f"CRISM wavelength {lam:g} nm is outside the simulated 400-2600 nm range."
                )
        if not 1 <= self.dem_factor <= 64:
            raise InputError(f"dem_factor {self.dem_factor} must be 1-64 CTX pixels per DEM pixel.")
        if not 0.25 <= self.hirise_pixel_m <= 1.0:
            raise InputError("hirise_pixel_m must be between 0.25 and 1.0 m (HiRISE-like).")
        for name in ("shift_crism_px", "warp_crism_px"):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high:
                raise InputError(f"{name} must be (min, max), 0 <= min <= max, not {low, high}.")
        get_site(self.site)


@dataclass
class SceneResult:
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    truth: dict = field(default_factory=dict)
    seconds: float = 0.0


def block_mean_dem(
    height: np.ndarray, factor: int, left: float, top: float, pixel_m: float
) -> tuple[np.ndarray, Grid]:
    """The terrain height averaged over ``factor`` x ``factor`` blocks (edge-padded): a DEM
    coarser than CTX, as stereo DTMs are, that a user warps onto the CTX grid."""
    rows, cols = (math.ceil(n / factor) * factor for n in height.shape)
    padded = np.pad(height, ((0, rows - height.shape[0]), (0, cols - height.shape[1])), "edge")
    blocks = padded.reshape(rows // factor, factor, cols // factor, factor)
    dem = blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32)
    return dem, Grid(left, top, pixel_m * factor, cols // factor, rows // factor)


def simulate_scene(config: SceneConfig, out_dir: str | Path) -> SceneResult:
    """Simulate one scene into ``out_dir`` (created if needed); deterministic per seed."""
    config.validate()
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    site = get_site(config.site)
    # one independent stream per stage, so choosing fewer products never changes the others
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(8)]

    n = config.size
    extent = n * config.ctx_pixel_m
    snap = max(config.ctx_pixel_m, config.crism_pixel_m)
    left, top = scene_origin(site.lat, site.lon, extent, snap)
    ctx = Grid(left, top, config.ctx_pixel_m, n, n)
    crs = mars_crs()

    terrain = make_terrain(streams[0], (n, n), config.ctx_pixel_m, site)
    surface = make_surface(streams[1], terrain, site, config.ctx_pixel_m)
    sun = afternoon_sun(streams[2], site.lat)
    shading = relative_shading(terrain.height, config.ctx_pixel_m, sun)
    common = {"MARSSPEC_SIMULATED": "yes", "SITE": site.name, "SEED": str(config.seed)}
    result = SceneResult(out)
    grids: dict[str, dict] = {}

    def save(key, name, data, grid, nodata, band_names, wavelengths, units):
        path = write_geotiff(
            out / name,
            data,
            grid,
            crs,
            nodata=nodata,
            band_names=band_names,
            wavelengths_nm=wavelengths,
            units=units,
            tags={**common, "PRODUCT": key},
        )
        result.files[key] = path
        grids[key] = {**asdict(grid), "file": name}

    if "ctx" in config.products:
        image = sensors.render_ctx(streams[3], surface, shading, sun)
        save("ctx", "ctx.tif", image, ctx, sensors.FLOAT_NODATA, ["CTX 500-700 nm"], [600.0], "I/F")

    if "dem" in config.products:
        dem, grid = block_mean_dem(terrain.height, config.dem_factor, left, top, config.ctx_pixel_m)
        save("dem", "dem.tif", dem, grid, sensors.FLOAT_NODATA, ["DEM height"], [None], "m")

    truth_crism = {}
    if "crism" in config.products:
        lams = [float(v) for v in config.crism_wavelengths_nm]
        n_crism = math.ceil(extent / config.crism_pixel_m)
        crism = Grid(left, top, config.crism_pixel_m, n_crism, n_crism)
        rng = streams[4]
        misreg = random_misregistration(
            rng,
            config.crism_pixel_m,
            (left, top),
            extent,
            config.shift_crism_px,
            config.warp_crism_px,
        )
        footprint = random_footprint(rng, (left + extent / 2, top - extent / 2), extent)
        signal = sensors.crism_signal(surface, shading, sun, lams)
        names = [f"CRISM {lam:g} nm" for lam in lams]
        product, artefacts = sensors.render_crism(rng, signal, ctx, crism, misreg, footprint, lams)
        save("crism", "crism.tif", product, crism, sensors.CRISM_NULL, names, lams, "I/F")
        target = sensors.crism_target(signal, ctx, misreg, footprint)
        del signal
        save(
            "crism_target", "crism_target.tif", target, ctx, sensors.CRISM_NULL, names, lams, "I/F"
        )
        truth_crism = {
            "wavelengths_nm": lams,
            "evc_nm": list(EVC_NM),
            "fc_nm": list(FC_NM),
            "noise_fraction": {f"{lam:g}": sensors.crism_noise_fraction(lam) for lam in lams},
            "misregistration": misreg.to_dict(config.crism_pixel_m),
            "footprint": footprint.to_dict(),
            "artefacts": artefacts.to_dict(),
            "target": "crism_target.tif: noise-free CRISM (18 m PSF) on the CTX grid, registered",
        }

    if "cassis" in config.products:
        m = round(extent / config.cassis_pixel_m)
        cassis = Grid(left, top, config.cassis_pixel_m, m, m)
        image = sensors.render_cassis(streams[5], surface, shading, sun, ctx, cassis)
        names = [
            f"CaSSIS {name} {centre:g} nm" for name, (centre, _) in sensors.CASSIS_FILTERS.items()
        ]
        lams = [centre for centre, _ in sensors.CASSIS_FILTERS.values()]
        save("cassis", "cassis.tif", image, cassis, sensors.FLOAT_NODATA, names, lams, "I/F")

    if "hirise" in config.products:
        h = config.hirise_size or min(n, 2048)
        span = h * config.hirise_pixel_m
        h_left = left + math.floor((extent - span) / 2 / snap) * snap
        h_top = top - math.floor((extent - span) / 2 / snap) * snap
        hirise = Grid(h_left, h_top, config.hirise_pixel_m, h, h)
        image = sensors.render_hirise(streams[6], surface, terrain, sun, ctx, hirise)
        save(
            "hirise",
            "hirise.tif",
            image,
            hirise,
            sensors.FLOAT_NODATA,
            ["HiRISE RED 570-830 nm"],
            [700.0],
            "I/F",
        )

    result.truth = {
        "simulator": "marsspec.core.simulator",
        "seed": config.seed,
        "config": asdict(config),
        "site": asdict(site),
        "crs_wkt": crs.to_wkt(),
        "grids": grids,
        "illumination": sun.to_dict(),
        "terrain": {
            "dune_azimuth_deg": terrain.dune_azimuth_deg,
            "crater_count": terrain.crater_count,
            "height_range_m": [float(terrain.height.min()), float(terrain.height.max())],
        },
        "units": list(UNIT_NAMES),
        "endmembers": {
            name: [asdict(a) for a in ENDMEMBERS[name].absorptions] for name in ENDMEMBER_NAMES
        },
        "mean_abundance": {
            name: float(surface.abundances[k].mean()) for k, name in enumerate(ENDMEMBER_NAMES)
        },
        "crism": truth_crism,
        "files": {key: path.name for key, path in result.files.items()},
    }
    result.seconds = time.perf_counter() - start
    result.truth["seconds"] = round(result.seconds, 3)
    _write_json(out / "truth.json", result.truth)
    result.files["truth"] = out / "truth.json"
    return result


def _write_json(path: Path, payload: dict) -> None:
    from marsspec.core.io.safety import atomic_output

    with atomic_output(path) as temp:
        temp.write_text(json.dumps(payload, indent=2, default=str))
