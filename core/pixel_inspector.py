"""What a bin model thinks of one pixel: per band the bin probabilities and their confidence.

Paper 000 §5 (Fig. 16): a bin-classification model predicts, per pixel and band, a probability
for each of N_B value bins. A single sharp peak is a confident prediction; a broad peak or two
maxima hint at a faulty one. This module serves the QGIS bin-probability inspector (click a
pixel, see the bars) and the CLI alike.

It has no inference of its own: :func:`inspect_pixel` asks the spectral job's code for the
pixel (:func:`marsspec.core.spectral.window.predict_pixel`: the job's reader, DEM stacking,
full-image normalisation statistics with the model's clip, predictor, device and precision
rules, and the engine's patches and blending), so the value it shows is the value
``predict`` writes with the same parameters. The bars are the covering patches' bin
probabilities blended with the engine's weights; the value is the raster's (for the default
weighted reconstruction it is also the bars' weighted sum).

Networks, image statistics and predictors are kept between clicks
(:mod:`marsspec.core.spectral.window`): the first click on an image pays for its statistics
(one pass over the image), later clicks only for the few patches that cover the pixel
(about 0.4 s for a 256 px EfficientNet-B0 U-Net on one CPU core).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marsspec.core.errors import InputError
from marsspec.core.io.opening import open_raster
from marsspec.core.options import (
    DEFAULT_BLENDING,
    DEFAULT_DEVICE,
    DEFAULT_NORMALISATION,
    DEFAULT_PRECISION,
    DEFAULT_RECONSTRUCTION,
)

DEFAULT_MODEL_ID = "evc-bins20"


@dataclass(frozen=True)
class BandInspection:
    """The predictive distribution of one output band at the inspected pixel."""

    name: str
    wavelength_nm: float | None
    units: str
    centres: np.ndarray  # (N_B,) bin centres in the output's units (I/F or normalised)
    probabilities: np.ndarray  # (N_B,) sums to 1
    value: float  # what the predicted raster holds at the pixel
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
    size: int  # patch edge d of the run
    stride: int
    patches: tuple[tuple[int, int], ...]  # origins (row, col) of the patches covering it
    model_id: str
    model_label: str
    simulated: bool
    input_value: float
    bands: tuple[BandInspection, ...]
    device: str
    precision: str
    units_text: str
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
    value: float | None = None,
) -> BandInspection:
    """Weighted-sum (or the given ``value``) and argmax value, max probability, normalised
    entropy and modes."""
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
        value=float((p * centres).sum()) if value is None else float(value),
        argmax_value=float(centres[int(np.argmax(p))]),
        max_probability=float(p.max()),
        entropy=float(min(max(entropy, 0.0), 1.0)),
        modes=modes,
        multimodal=modes > 1,
    )


# ---- the click ----------------------------------------------------------------------------


def pixel_of(path: str | os.PathLike[str], x: float, y: float) -> tuple[int, int]:
    """Row and column of map coordinates ``(x, y)`` in the raster's own CRS."""
    with open_raster(path) as src:
        row, col = src.index(x, y)
        if not (0 <= row < src.height and 0 <= col < src.width):
            raise InputError(
                f"The point ({x:.1f}, {y:.1f}) lies outside {Path(path).name} "
                f"({src.width} x {src.height} px); click inside the layer."
            )
    return int(row), int(col)


def _band_meta(entry, index: int) -> tuple[str, float | None]:
    bands = entry.bands or ()
    if index < len(bands):
        meta = bands[index]
        wavelength = meta.get("wavelength_nm")
        name = meta.get("name") or (f"{wavelength:g} nm" if wavelength else f"band {index + 1}")
        return str(name), (float(wavelength) if wavelength else None)
    return f"band {index + 1}", None


def window_request(
    path: str | os.PathLike[str],
    *,
    band: int = 1,
    model_id: str = DEFAULT_MODEL_ID,
    device: str = DEFAULT_DEVICE,
    precision: str = DEFAULT_PRECISION,
    normalisation: str | None = None,
    stride_factor: int | None = None,
    blending: str = DEFAULT_BLENDING,
    reconstruction: str = DEFAULT_RECONSTRUCTION,
    target_stats=None,
    dem: str | os.PathLike[str] | None = None,
    manifest_path: str | os.PathLike[str] | None = None,
):
    """The job parameters of an inspection (the inspector's names; same defaults as
    ``predict``: image-wise normalisation, the model's stride factor, gaussian blending)."""
    from marsspec.core.spectral.window import WindowRequest

    return WindowRequest(
        input=path,
        model=model_id,
        band=band,
        stride_factor=stride_factor,
        blending=blending,
        normalisation=normalisation or DEFAULT_NORMALISATION,
        target_stats=target_stats,
        reconstruction=reconstruction,
        device=device,
        precision=precision,
        manifest=manifest_path,
        dem=dem,
    )


def inspect_pixel(
    path: str | os.PathLike[str], row: int, col: int, *, request=None, **parameters
) -> PixelInspection:
    """The bin distributions and the predicted value at ``(row, col)``, per band.

    ``parameters`` are :func:`window_request`'s (``band``, ``model_id``, ``device``,
    ``precision``, ``normalisation``, ``stride_factor``, ``blending``, ``reconstruction``,
    ``target_stats``, ``dem``, ``manifest_path``), or give a ready ``request``
    (:class:`~marsspec.core.spectral.window.WindowRequest`, e.g. ``WindowRequest.of`` the
    ``PredictRequest`` that made a raster).
    """
    from marsspec.core.spectral.job import load_entry
    from marsspec.core.spectral.window import predict_pixel

    if request is None:
        request = window_request(path, **parameters)
    elif parameters:
        raise TypeError("give either a request or parameters, not both")
    entry = load_entry(request)
    if entry.task != "spectra-bins":
        raise InputError(
            f"Model {entry.id!r} is a {entry.task} model; the inspector needs a bin model "
            "(task spectra-bins), e.g. evc-bins20."
        )
    result = predict_pixel(request, row, col)
    if not result.valid:
        raise InputError(
            f"Pixel (row {row}, column {col}) of {Path(path).name} is nodata; click a valid pixel."
        )
    centres = result.bins.centres().astype(np.float64)
    bands = []
    for s, value in enumerate(result.values):
        name, wavelength = _band_meta(entry, s)
        band_centres = centres
        if result.output_stats:  # bins are z-scores; show them in the raster's units
            stats = result.output_stats[s]
            band_centres = centres * stats.std + stats.mean
        bands.append(
            summarise_band(
                result.probabilities[:, s],
                band_centres,
                name=name,
                wavelength_nm=wavelength,
                units=result.units,
                value=float(value),
            )
        )
    return PixelInspection(
        path=str(path),
        row=row,
        col=col,
        size=result.patch_size,
        stride=result.stride,
        patches=tuple((p.row, p.col) for p in result.patches),
        model_id=entry.id,
        model_label=entry.label,
        simulated=bool(entry.simulated),
        input_value=result.input_value,
        bands=tuple(bands),
        device=result.device,
        precision=result.precision,
        units_text=result.units_text,
        seconds=result.seconds,
    )


def inspect_point(path: str | os.PathLike[str], x: float, y: float, **kwargs) -> PixelInspection:
    """:func:`inspect_pixel` at map coordinates ``(x, y)`` given in the raster's own CRS."""
    row, col = pixel_of(path, x, y)
    return inspect_pixel(path, row, col, **kwargs)


def clear_cache() -> None:
    """Forget built networks, image statistics and predictors (after re-exporting a model)."""
    from marsspec.core.spectral.window import clear_cache as clear

    clear()


def preload(
    model_id: str = DEFAULT_MODEL_ID,
    manifest_path: str | os.PathLike[str] | None = None,
    device: str = DEFAULT_DEVICE,
) -> None:
    """Import torch and build the network ahead of the first click (the dock calls this in a
    background thread when it opens), so even the first inspection stays interactive."""
    from marsspec.core.models.manifest import load_manifest
    from marsspec.core.spectral.window import network

    network(load_manifest(manifest_path).get(model_id), device)
