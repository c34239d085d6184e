"""Training pairs: (CTX, CRISM on the CTX grid, valid mask), normalised image-wise, and the
seeded patch sampler with the paper's augmentations (§4.3-§4.4).

Scenes are small enough (a CRISM footprint is ~2,000 px across) to be held in memory while
training; the inference path (core.spectral) streams instead.
"""

from __future__ import annotations

import contextlib
import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from marsspec.core.errors import InputError, MarsspecError, RasterIOError
from marsspec.core.io.wavelengths import wavelength_from_band_name
from marsspec.core.models.normalisation import masked_stats, normalise


@dataclass
class Pair:
    name: str
    x: np.ndarray  # (1, H, W) float32, normalised CTX (0 where invalid)
    y: np.ndarray  # (S, H, W) float32, normalised target (0 where invalid)
    valid: np.ndarray  # (H, W) bool
    x_raw: np.ndarray | None = None  # raw CTX I/F (for baselines)
    # the target before normalisation: per band (mean, std) over the valid pixels (after the
    # percentile clip), how many pixels, its units and band names (what the model predicts)
    target_stats: list[tuple[float, float]] | None = None
    target_count: int = 0
    target_units: str = ""
    target_names: list[str] | None = None


def expand_scenes(patterns: list[str]) -> list[Path]:
    out: list[Path] = []
    for pattern in patterns:
        hits = sorted(glob.glob(str(Path(pattern).expanduser())))
        out.extend(Path(h) for h in hits if Path(h).is_dir())
    return out


def band_wavelengths(src) -> list[float | None]:
    found: list[float | None] = []
    for band in range(1, src.count + 1):
        tags = {k.lower(): v for k, v in src.tags(band).items()}
        value = tags.get("wavelength_nm") or tags.get("wavelength")
        lam = float(value) if value else None
        if lam is not None and lam < 10:  # micrometres
            lam *= 1000.0
        if lam is None and src.descriptions[band - 1]:
            lam = wavelength_from_band_name(src.descriptions[band - 1])
        found.append(lam)
    return found


def target_bands(src, wanted_nm: list[float], tolerance_nm: float = 15.0) -> list[int]:
    lams = band_wavelengths(src)
    bands = []
    for want in wanted_nm:
        best = (
            min((abs(lam - want), i + 1) for i, lam in enumerate(lams) if lam is not None)
            if any(lam is not None for lam in lams)
            else None
        )
        if best is None or best[0] > tolerance_nm:
            raise InputError(
                f"{Path(src.name).name} has no band within {tolerance_nm:g} nm of {want:g} nm "
                f"({_shown(lams)}); set target_wavelengths_nm to the target raster's bands (or "
                "raise wavelength_tolerance_nm) in the training config."
            )
        bands.append(best[1])
    return bands


def _shown(lams: list[float | None]) -> str:
    known = [f"{lam:g}" for lam in lams if lam is not None]
    if not known:
        return "its bands have no WAVELENGTH_NM tag and no R<nm> name"
    return "bands at " + ", ".join(known[:12]) + (", ..." if len(known) > 12 else "") + " nm"


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """GDAL failing on a training raster (not a raster, truncated, a folder) becomes one line
    naming the file; RasterioIOError is an OSError only, so both families are caught."""
    import rasterio

    try:
        yield
    except MarsspecError:
        raise
    except (rasterio.errors.RasterioError, OSError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RasterIOError(
            f"Training raster {str(path)!r} cannot be read ({text}); replace it with a GeoTIFF "
            "GDAL can open, or remove its scene folder."
        ) from exc


def _read_valid(path: Path, bands: list[int]) -> tuple[np.ndarray, np.ndarray]:
    import rasterio

    with reading(path), rasterio.open(path) as src:
        data = src.read(bands, out_dtype="float32")
        masks = src.read_masks(bands)
        for k, band in enumerate(bands):  # physical values (a scaled uint8 product)
            scale, offset = src.scales[band - 1], src.offsets[band - 1]
            if (scale, offset) != (1.0, 0.0):
                data[k] = data[k] * np.float32(scale) + np.float32(offset)
    valid = np.all(masks != 0, axis=0) & np.all(np.isfinite(data), axis=0)
    return data, valid


def target_facts(src, bands: list[int]) -> tuple[str, list[str]]:
    """The units and band names of a target raster's ``bands``: the band's unit or ``units``
    tag ('' when none), its description or else R<wavelength> (e.g. 'R2529')."""
    lams = band_wavelengths(src)
    units, names = "", []
    for band in bands:
        tags = {k.lower(): v for k, v in src.tags(band).items()}
        units = units or (src.units[band - 1] or tags.get("units", "") or "").strip()
        name = (src.descriptions[band - 1] or "").strip()
        lam = lams[band - 1]
        if (not name or name.lower().startswith("band ")) and lam is not None:
            name = f"R{lam:.0f}"
        names.append(name or f"band {band}")
    return units, names


def load_pair(scene: Path, cfg, keep_raw: bool = False) -> Pair:
    """Read one pair folder (input, target on the same grid, optional mask) and normalise it."""
    import rasterio

    x_path, y_path = scene / cfg.input_name, scene / cfg.target_name
    for p in (x_path, y_path):
        if not p.is_file():
            raise InputError(
                f"Training pair file {str(p)!r} is missing; every scene folder needs "
                f"{cfg.input_name} and {cfg.target_name} (input_name/target_name in the config)."
            )
    if cfg.dem_name:  # the DEM goes through the same warped stack as at inference
        import tempfile

        from marsspec.core.io.stack import stack_with_dem

        with tempfile.TemporaryDirectory(prefix="marsspec-dem-") as folder:
            x, x_valid = _read_valid(
                stack_with_dem(x_path, 1, scene / cfg.dem_name, folder), [1, 2]
            )
    else:
        x, x_valid = _read_valid(x_path, [1])
    with reading(y_path), rasterio.open(y_path) as src:
        if (src.width, src.height) != (x.shape[2], x.shape[1]):
            raise InputError(
                f"{y_path.name} ({src.width}x{src.height}) is not on the grid of {x_path.name} "
                f"({x.shape[2]}x{x.shape[1]}); co-register it onto the CTX grid first."
            )
        bands = target_bands(
            src, list(cfg.target_wavelengths_nm), float(cfg.wavelength_tolerance_nm)
        )
        units, names = target_facts(src, bands)
    y, y_valid = _read_valid(y_path, bands)
    if cfg.mask_name:
        mask_path = scene / cfg.mask_name
        if not mask_path.is_file():
            raise InputError(f"Mask {str(mask_path)!r} (mask_name) is missing from its scene.")
        with reading(mask_path), rasterio.open(mask_path) as src:
            mask = src.read(1) > 0
        if mask.shape != y_valid.shape:
            raise InputError(
                f"Mask {str(mask_path)!r} is {mask.shape[1]}x{mask.shape[0]} px but its scene "
                f"is {y_valid.shape[1]}x{y_valid.shape[0]}; make it on the CTX grid."
            )
        y_valid &= mask
    return make_pair(
        scene.name, x, x_valid, y, y_valid, cfg, keep_raw, target_units=units, target_names=names
    )


def make_pair(
    name,
    x,
    x_valid,
    y,
    y_valid,
    cfg,
    keep_raw: bool = False,
    *,
    target_units: str = "",
    target_names: list[str] | None = None,
) -> Pair:
    """Normalise image-wise: CTX stats over the whole CTX raster (as at inference), target
    stats over the valid footprint, both after the percentile clip. The target's own
    statistics are kept (:func:`target_statistics` pools them over the training set)."""
    valid = x_valid & y_valid
    xs = masked_stats(x, x_valid, cfg.clip_percent)
    ys = masked_stats(y, valid, cfg.clip_percent)
    xn = np.stack([normalise(b, s) for b, s in zip(x, xs, strict=True)]).astype(np.float32)
    yn = np.stack([normalise(b, s) for b, s in zip(y, ys, strict=True)]).astype(np.float32)
    xn[:, ~x_valid] = 0.0
    yn[:, ~valid] = 0.0
    return Pair(
        name,
        xn,
        yn,
        valid,
        x if keep_raw else None,
        target_stats=[(float(s.mean), float(s.std)) for s in ys],
        target_count=int(valid.sum()),
        target_units=target_units,
        target_names=list(target_names) if target_names else None,
    )


def target_statistics(pairs: list[Pair], wavelengths_nm: list[float]) -> dict | None:
    """What the training set's targets were, for the checkpoint (``checkpoint["target"]``) and
    from there the exported manifest entry: ``{"stats": [[mean, std], ...], "units": str,
    "band_names": [...], "wavelengths_nm": [...]}``, one entry per predicted band.

    The model predicts each image's target as a z-score (image-wise normalisation), so the
    values that turn a prediction back into target units are a typical scene's: per band the
    pixel-weighted mean of the scenes' means and the root of the pixel-weighted mean of their
    variances (the within-scene spread, not inflated by differences between scenes). None when
    no pair carries its statistics."""
    known = [p for p in pairs if p.target_stats and p.target_count > 0]
    if not known:
        return None
    weights = np.array([p.target_count for p in known], np.float64)
    stats = np.array([p.target_stats for p in known], np.float64)  # (scenes, bands, 2)
    mean = (weights[:, None] * stats[:, :, 0]).sum(0) / weights.sum()
    std = np.sqrt((weights[:, None] * stats[:, :, 1] ** 2).sum(0) / weights.sum())
    units = next((p.target_units for p in known if p.target_units), "")
    names = next((p.target_names for p in known if p.target_names), None)
    if not names or len(names) != len(wavelengths_nm):
        names = [f"R{lam:.0f}" for lam in wavelengths_nm]
    return {
        "stats": [[float(m), float(s)] for m, s in zip(mean, std, strict=True)],
        "units": units,
        "band_names": list(names),
        "wavelengths_nm": [float(lam) for lam in wavelengths_nm],
        "scenes": len(known),
        "pixels": int(weights.sum()),
    }


class PatchSampler:
    """Seeded random d x d patches with >= ``min_valid`` valid pixels, augmented (§4.4)."""

    def __init__(self, pairs: list[Pair], cfg, seed: int) -> None:
        if not pairs:
            raise InputError("No training pairs found; check 'scenes' in the config.")
        self.pairs = pairs
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        self.d = cfg.patch_size

    def sample(self):
        d = self.d
        for _ in range(1000):
            pair = self.pairs[self.rng.integers(len(self.pairs))]
            h, w = pair.valid.shape
            r, c = self.rng.integers(0, h - d + 1), self.rng.integers(0, w - d + 1)
            m = pair.valid[r : r + d, c : c + d]
            if m.mean() >= self.cfg.min_valid:
                x = pair.x[:, r : r + d, c : c + d].copy()
                y = pair.y[:, r : r + d, c : c + d].copy()
                m = m.copy()
                if self.cfg.augment:
                    x, y, m = self.augment(x, y, m)
                return x, y, m
        raise InputError(
            f"No {d}x{d} patch with >= {self.cfg.min_valid:.0%} valid pixels in 1000 tries; "
            "use a smaller patch_size or larger scenes."
        )

    def batch(self, n: int):
        xs, ys, ms = zip(*(self.sample() for _ in range(n)), strict=True)
        return np.stack(xs), np.stack(ys), np.stack(ms)

    def augment(self, x, y, m):
        """Equal chance of: unchanged, rotated, cropped, erased. No flips (illumination)."""
        d = self.d
        choice = self.rng.integers(4)
        if choice == 1:
            angle = float(self.rng.uniform(-self.cfg.rotation_deg, self.cfg.rotation_deg))
            x = ndimage.rotate(x, angle, axes=(2, 1), reshape=False, order=1, mode="constant")
            y = ndimage.rotate(y, angle, axes=(2, 1), reshape=False, order=1, mode="constant")
            mf = ndimage.rotate(m.astype(np.float32), angle, reshape=False, order=1)
            m = mf > 0.999
        elif choice == 2:
            ch, cw = (int(self.rng.integers(3 * d // 5, 4 * d // 5 + 1)) for _ in range(2))
            r, c = int(self.rng.integers(0, d - ch + 1)), int(self.rng.integers(0, d - cw + 1))
            keep = np.zeros_like(m)
            keep[r : r + ch, c : c + cw] = True
            m = m & keep
            x = np.where(keep, x, 0.0).astype(np.float32)
        elif choice == 3:
            eh, ew = (int(self.rng.integers(d // 5, 2 * d // 5 + 1)) for _ in range(2))
            r, c = int(self.rng.integers(0, d - eh + 1)), int(self.rng.integers(0, d - ew + 1))
            m = m.copy()
            m[r : r + eh, c : c + ew] = False
            x = x.copy()
            x[:, r : r + eh, c : c + ew] = 0.0
        y = np.where(m, y, 0.0).astype(np.float32)
        return x.astype(np.float32), y, m


def grid_patches(pair: Pair, d: int):
    """Validation patches: a sliding window with stride d (paper §4.3), >= 20 % valid."""
    h, w = pair.valid.shape
    for r in range(0, h - d + 1, d):
        for c in range(0, w - d + 1, d):
            m = pair.valid[r : r + d, c : c + d]
            if m.mean() >= 0.2:
                yield pair.x[:, r : r + d, c : c + d], pair.y[:, r : r + d, c : c + d], m
