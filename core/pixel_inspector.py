"""What a bin model thinks of one pixel: per band the bin probabilities and their confidence.

Paper 000 §5 (Fig. 16): a bin-classification model predicts, per pixel and band, a probability
for each of N_B value bins. A single sharp peak is a confident prediction; a broad peak or two
maxima hint at a faulty one. This module serves the QGIS bin-probability inspector (click a
pixel, see the bars) and the CLI alike: it reads the ``d x d`` window centred on the pixel
(mirrored past the raster border exactly like the tiled engine), normalises it the way the
model was trained, runs the network once, and summarises the centre pixel.

The network is built once per model and process (``functools.lru_cache``): the first click
pays for the sha256 check and the weights; later clicks only for one forward pass (well under
a second for a 256 x 256 U-Net/EfficientNet-B0 patch on a 2-core CPU).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from marsspec.core.errors import InputError, RasterIOError
from marsspec.core.tiling.plan import reflect_indices

DEFAULT_MODEL_ID = "evc-bins20"
CLIP_PERCENT = 0.01  # paper 000 App. A.1: 0.01 % percentile clip before normalising
_STATS_SAMPLE = 1024  # image statistics from a decimated read of at most this many px a side


@dataclass(frozen=True)
class BandInspection:
    """The predictive distribution of one output band at the inspected pixel."""

    name: str
    wavelength_nm: float | None
    units: str
    centres: np.ndarray  # (N_B,) bin centres in the model's output units
    probabilities: np.ndarray  # (N_B,) sums to 1
    value: float  # weighted-sum reconstruction (paper's default)
    argmax_value: float
    max_probability: float
    entropy: float  # normalised to [0, 1] (1 = uniform, no information)
    modes: int
    multimodal: bool

    @property
    def confidence(self) -> float:
        """One number in [0, 1]: 1 - normalised entropy (sharp single peak -> near 1)."""
        return 1.0 - self.entropy


@dataclass(frozen=True)
class PixelInspection:
    """Everything the inspector dock shows for one click."""

    path: str
    row: int
    col: int
    window_row: int  # origin of the d x d window (may be negative: mirrored)
    window_col: int
    size: int
    model_id: str
    model_label: str
    simulated: bool
    input_value: float
    bands: tuple[BandInspection, ...]
    seconds: float

    @property
    def multimodal(self) -> bool:
        return any(band.multimodal for band in self.bands)

    @property
    def max_probability(self) -> float:
        """Overall, as the ``binconfidence`` rasters define it: mean over bands."""
        return float(np.mean([band.max_probability for band in self.bands]))

    @property
    def entropy(self) -> float:
        """Overall normalised entropy: mean over bands (higher = less confident)."""
        return float(np.mean([band.entropy for band in self.bands]))

    @property
    def confidence(self) -> float:
        """Overall confidence in [0, 1]: 1 - mean normalised entropy."""
        return 1.0 - self.entropy


# ---- distribution summaries (same definitions as marsspec.core.models.confidence) -----------


def bin_centres(bins: dict | None) -> np.ndarray:
    """Bin centres of a manifest ``bins`` entry (uniform or SID spacing, paper 000 §3.2),
    from the bin models' own :class:`~marsspec.core.models.bins.BinSpec`."""
    from marsspec.core.models.bins import BinSpec

    return BinSpec.from_dict(bins).centres().astype(np.float64)


def count_modes(probabilities: np.ndarray) -> int:
    """Number of clear maxima of one bin distribution, by the bin models' own definition
    (:func:`marsspec.core.models.confidence.mode_count`), so the inspector and the
    ``binconfidence`` rasters always agree on what "multi-modal" means."""
    import torch

    from marsspec.core.models.confidence import mode_count

    p = torch.as_tensor(np.asarray(probabilities, dtype=np.float32)).view(1, -1, 1, 1, 1)
    return int(mode_count(p).item())


def summarise_band(
    probabilities: np.ndarray,
    centres: np.ndarray,
    *,
    name: str = "",
    wavelength_nm: float | None = None,
    units: str = "",
) -> BandInspection:
    """Weighted-sum and argmax value, max probability, normalised entropy and modes."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, None)
    total = p.sum()
    p = p / total if total > 0 else np.full_like(p, 1.0 / max(p.size, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = float(-np.nansum(np.where(p > 0, p * np.log(p), 0.0)))
    entropy = entropy / np.log(p.size) if p.size > 1 else 0.0
    modes = count_modes(p)
    return BandInspection(
        name=name,
        wavelength_nm=wavelength_nm,
        units=units,
        centres=np.asarray(centres, dtype=np.float64),
        probabilities=p,
        value=float((p * centres).sum()),
        argmax_value=float(centres[int(np.argmax(p))]),
        max_probability=float(p.max()),
        entropy=float(min(max(entropy, 0.0), 1.0)),
        modes=modes,
        multimodal=modes > 1,
    )


# ---- reading and normalising ---------------------------------------------------------------


def pixel_of(path: str | os.PathLike[str], x: float, y: float) -> tuple[int, int]:
    """Row and column of map coordinates ``(x, y)`` in the raster's own CRS."""
    with _open(path) as src:
        row, col = src.index(x, y)
        if not (0 <= row < src.height and 0 <= col < src.width):
            raise InputError(
                f"The point ({x:.1f}, {y:.1f}) lies outside {Path(path).name} "
                f"({src.width} x {src.height} px); click inside the layer."
            )
    return int(row), int(col)


def read_window(
    path: str | os.PathLike[str], band: int, row: int, col: int, size: int
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The ``size x size`` window of ``band`` centred on ``(row, col)``, mirrored past the
    raster border (as the tiled engine pads), with its validity mask and window origin."""
    with _open(path) as src:
        _check_band(src, band, path)
        if not (0 <= row < src.height and 0 <= col < src.width):
            raise InputError(f"Pixel ({row}, {col}) is outside {Path(path).name}.")
        r0, c0 = row - size // 2, col - size // 2
        rows = reflect_indices(r0, r0 + size, src.height)
        cols = reflect_indices(c0, c0 + size, src.width)
        window = Window(
            int(cols.min()),
            int(rows.min()),
            int(cols.max() - cols.min() + 1),
            int(rows.max() - rows.min() + 1),
        )
        try:
            block = src.read(band, window=window, out_dtype="float32")
            mask = src.read_masks(band, window=window)
        except rasterio.errors.RasterioError as exc:
            raise RasterIOError(f"Could not read {Path(path).name} ({exc}).") from exc
    local_rows, local_cols = rows - rows.min(), cols - cols.min()
    data = block[np.ix_(local_rows, local_cols)]
    valid = (mask[np.ix_(local_rows, local_cols)] != 0) & np.isfinite(data)
    return data, valid, r0, c0


EXACT_STATS_MAX_PIXELS = 4_000_000


@functools.lru_cache(maxsize=16)
def _image_statistics(path: str, band: int, mtime: float):
    """Image-wise statistics of ``band`` (paper 000 App. A.2), cached per file version.

    Up to ``EXACT_STATS_MAX_PIXELS`` the exact streaming statistics the prediction algorithm
    uses; on bigger rasters (a 5,000 x 50,000 CTX strip) a decimated read of at most
    ``_STATS_SAMPLE`` px a side, so the first click stays well under two seconds (the clip
    bounds and mean/std of a decimated CTX image differ from the full ones by far less than
    one bin width).
    """
    from marsspec.core.models.normalisation import array_stats, raster_stats

    del mtime  # part of the cache key only
    with _open(path) as src:
        if src.width * src.height <= EXACT_STATS_MAX_PIXELS:
            return raster_stats(path, (band,))[0]
        factor = max(1, int(np.ceil(max(src.width, src.height) / _STATS_SAMPLE)))
        shape = (max(1, src.height // factor), max(1, src.width // factor))
        data = src.read(band, out_shape=shape, out_dtype="float32", masked=True)
    values = data.compressed() if np.ma.isMaskedArray(data) else data.ravel()
    return array_stats(values, CLIP_PERCENT)


def normalise_window(
    data: np.ndarray, valid: np.ndarray, path: str, band: int, mode: str = "image"
) -> np.ndarray:
    """Scale the window as the model's training data were: image-wise (default), global
    (Table A1) or patch-wise z-scores after the 0.01 % clip; nodata pixels become 0."""
    from marsspec.core.models.normalisation import array_stats, check_mode, normalise, table_a1

    check_mode(mode)
    if mode == "patch":
        if not valid.any():
            raise InputError("The window around the clicked pixel is all nodata.")
        stats = array_stats(data[valid], CLIP_PERCENT)
    elif mode == "global":
        stats = table_a1("ctx")
    else:
        stats = _image_statistics(str(path), band, Path(path).stat().st_mtime)
    out = np.asarray(normalise(data.astype(np.float64), stats), dtype=np.float32)
    out[~valid] = 0.0
    return out


# ---- the model -----------------------------------------------------------------------------


def _entry(model_id: str, manifest_path: str | None):
    from marsspec.core.models.manifest import load_manifest

    entry = load_manifest(manifest_path).get(model_id)
    if entry.task != "spectra-bins":
        raise InputError(
            f"Model {model_id!r} is a {entry.task} model; the inspector needs a bin model "
            "(task spectra-bins), e.g. evc-bins20."
        )
    return entry


_BUILD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def _cached_network(model_id: str, manifest_path: str | None, device: str):
    return _entry(model_id, manifest_path).build(device)


def _network(model_id: str, manifest_path: str | None, device: str):
    """Build once per process: sha256 check and weights loading happen on the first click.
    The lock makes a click that arrives during the background preload wait for it instead
    of building a second copy."""
    with _BUILD_LOCK:
        return _cached_network(model_id, manifest_path, device)


def clear_cache() -> None:
    """Forget built networks and image statistics (after re-exporting a model, in tests)."""
    _cached_network.cache_clear()
    _image_statistics.cache_clear()


def bin_probabilities(logits, n_bands: int, n_bins: int) -> np.ndarray:
    """Softmax over bins of the bin head's logits ``(1, N_B, N_S, H, W)`` (SpectralNet's
    layout; a flat ``(1, N_B*N_S, H, W)`` is read the same way) -> ``(N_B, N_S, H, W)``."""
    import torch

    if logits.dim() == 4:
        batch, _, height, width = logits.shape
        logits = logits.reshape(batch, n_bins, n_bands, height, width)
    probs = torch.softmax(logits.float(), dim=1)
    return probs[0].cpu().numpy()


def _band_meta(entry, index: int) -> tuple[str, float | None, str]:
    bands = entry.bands or ()
    if index < len(bands):
        meta = bands[index]
        wavelength = meta.get("wavelength_nm")
        name = meta.get("name") or (f"{wavelength:g} nm" if wavelength else f"band {index + 1}")
        return str(name), (float(wavelength) if wavelength else None), meta.get("units", "")
    return f"band {index + 1}", None, ""


@contextlib.contextmanager
def _single_thread(device: str):
    """One intra-op thread for the single-patch CPU forward pass.

    Measured on the 2-core box while other jobs kept it busy (load ~7): a 256 x 256
    EfficientNet-B0 U-Net pass took 0.45 s with one thread and 6.8 s with two (OpenMP
    threads waiting on each other on oversubscribed cores). Inside QGIS the map renderer's
    threads compete the same way. The previous setting is restored right after.
    """
    import torch

    if not str(device).startswith("cpu"):
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def inspect_pixel(
    path: str | os.PathLike[str],
    row: int,
    col: int,
    *,
    band: int = 1,
    model_id: str = DEFAULT_MODEL_ID,
    size: int | None = None,
    device: str = "cpu",
    normalisation: str | None = None,
    manifest_path: str | None = None,
) -> PixelInspection:
    """Predict the window around ``(row, col)`` once and summarise the centre pixel per band."""
    import torch

    started = time.perf_counter()
    entry = _entry(model_id, manifest_path)
    size = int(size or entry.patch_size or 256)
    if size < 32 or size % 32:
        raise InputError(f"Window size {size} must be a multiple of 32 (>= 32) for the U-Net.")
    data, valid, r0, c0 = read_window(path, band, row, col, size)
    if not valid[size // 2, size // 2]:
        raise InputError(
            f"Pixel (row {row}, column {col}) of {Path(path).name} is nodata; click a valid pixel."
        )
    defaults = entry.normalisation or {}
    mode = normalisation or str(defaults.get("default") or defaults.get("mode") or "image")
    x = normalise_window(data, valid, str(path), band, mode)
    centres = bin_centres(entry.bins)
    n_bins = centres.size
    n_bands = len(entry.bands) if entry.bands else int(entry.out_channels)
    network = _network(entry.id, manifest_path, device)
    with torch.inference_mode(), _single_thread(device):
        logits = network(torch.from_numpy(x)[None, None].to(device))
    probs = bin_probabilities(logits, n_bands, n_bins)  # (N_B, N_S, H, W)
    centre = size // 2
    bands = tuple(
        summarise_band(
            probs[:, s, centre, centre],
            centres,
            name=_band_meta(entry, s)[0],
            wavelength_nm=_band_meta(entry, s)[1],
            units=_band_meta(entry, s)[2],
        )
        for s in range(n_bands)
    )
    return PixelInspection(
        path=str(path),
        row=row,
        col=col,
        window_row=r0,
        window_col=c0,
        size=size,
        model_id=entry.id,
        model_label=entry.label,
        simulated=bool(entry.simulated),
        input_value=float(data[centre, centre]),
        bands=bands,
        seconds=time.perf_counter() - started,
    )


def inspect_point(path: str | os.PathLike[str], x: float, y: float, **kwargs) -> PixelInspection:
    """:func:`inspect_pixel` at map coordinates ``(x, y)`` given in the raster's own CRS."""
    row, col = pixel_of(path, x, y)
    return inspect_pixel(path, row, col, **kwargs)


def _open(path: str | os.PathLike[str]):
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioError as exc:
        raise RasterIOError(f"Cannot open {path!s} ({exc}); is it a raster file?") from exc


def _check_band(src, band: int, path) -> None:
    if not 1 <= band <= src.count:
        raise InputError(
            f"Band {band} does not exist in {Path(path).name} ({src.count} band(s)); "
            f"choose a band between 1 and {src.count}."
        )


def preload(
    model_id: str = DEFAULT_MODEL_ID, manifest_path: str | None = None, device: str = "cpu"
) -> None:
    """Import torch and build the network ahead of the first click (the dock calls this in a
    background thread when it opens), so even the first inspection stays interactive."""
    _network(model_id, manifest_path, device)
