"""Training images for super-resolution: HR crops from simulated HiRISE-like scenes, the real
HiRISE browse strip in ../shared/data (greyscale, split by rows into train/held-out parts),
and synthetic slanted edges (so the net learns to restore the edges §3.1 measures).

Each image is normalised by its own robust 0.5/99.5 % percentiles, as inference does
(core/superres/normalise.py), so the network always sees the same value range.
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import torch

from marsspec.core.errors import InputError, MarsspecError, RasterIOError
from marsspec.core.superres.normalise import robust_range
from marsspec.training.superres.degrade import (
    DEFAULT_BLUR_SIGMA,
    SCALE,
    Degradation,
    degrade,
    random_degradation,
)

log = logging.getLogger("marsspec.training")

REAL_HIRISE_BROWSE = "hirise_rgb_esp011472_1225/ESP_011472_1225_RGB.NOMAP.browse.jpg"


def _normalise(image: np.ndarray) -> np.ndarray:
    valid = np.isfinite(image)
    lo, hi = robust_range(image[valid])
    out = (image - lo) / (hi - lo)
    out[~valid] = np.nan
    return out.astype(np.float32)


def read_raster_band(path: str | Path, band: int = 1) -> np.ndarray:
    """A float32 band with nodata as NaN (training images are small: whole reads are fine).

    A file GDAL cannot read is one line naming it (RasterioIOError is an OSError only)."""
    if Path(path).is_dir():
        raise InputError(f"HR image {str(path)!r} is a folder; give raster files (DIR/*.tif).")
    try:
        with rasterio.open(path) as src:
            data = src.read(band).astype(np.float32)
            if src.nodata is not None:
                data[data == src.nodata] = np.nan
    except MarsspecError:
        raise
    except (rasterio.errors.RasterioError, OSError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RasterIOError(
            f"HR image {str(path)!r} cannot be read ({text}); replace it with a raster GDAL "
            "can open or leave it out of the patterns."
        ) from exc
    return data


def read_real_hirise(data_root: str | Path, rows: tuple[float, float]) -> np.ndarray | None:
    """Greyscale (mean of RGB) of the real HiRISE browse, restricted to a fraction of its rows."""
    path = Path(data_root) / REAL_HIRISE_BROWSE
    if not path.is_file():
        log.warning("real HiRISE browse %s not found; training on simulated scenes only", path)
        return None
    from PIL import Image

    grey = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32).mean(axis=2)
    start, stop = (round(f * grey.shape[0]) for f in rows)
    return grey[start:stop]


def read_grey_crop(path: str | Path) -> np.ndarray:
    """A real HiRISE crop (JPEG stored as RGB with R=G=B) as normalised greyscale."""
    from PIL import Image

    with Image.open(path) as image:
        return _normalise(np.asarray(image.convert("L"), dtype=np.float32))


def remove_impulses(image: np.ndarray, k: float = 6.0, floor: float = 0.12) -> np.ndarray:
    """``image`` with isolated outlier pixels replaced by their 3x3 median: those further from
    it than ``k`` median absolute deviations and than ``floor`` (normalised units)."""
    from scipy.ndimage import median_filter

    median = median_filter(image, size=3, mode="reflect")
    deviation = image - median
    threshold = max(k * float(np.nanmedian(np.abs(deviation))), floor)
    return np.where(np.abs(deviation) > threshold, median, image).astype(np.float32)


def load_images(
    patterns: list[str],
    real: dict | None = None,
    key: str = "hr_patterns",
    extra: Sequence[np.ndarray] = (),
) -> list[np.ndarray]:
    """Normalised HR images from raster glob patterns (+ the real HiRISE part if configured,
    + ``extra`` images already read); none is an error naming the config ``key``, its patterns
    and how to get images."""
    images = list(extra)
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            images.append(_normalise(read_raster_band(path)))
    if real:
        grey = read_real_hirise(real["data_root"], tuple(real.get("rows", (0.0, 0.8))))
        if grey is not None:
            images.append(_normalise(grey))
    if not images:
        raise InputError(
            f"{key}: no HR image matches {patterns}; simulate scenes with the config's "
            "`simulate: {dir, seeds}` block (see training/configs/marsgan-psnr.yaml) or "
            "`marsspec simulate`, or fix the patterns."
        )
    return images


@dataclass
class SyntheticEdges:
    """Random slanted step edges, two grey levels, slightly blurred, with a little noise.

    ``spread`` is the range of HR-native edge widths (pixels, drawn uniformly). Only sharp
    edges teach the net that every edge is a sharp step, and it then over-sharpens soft ones
    (measured); a range reaching past 1 px makes it read the width from the LR instead.
    """

    spread: tuple[float, float] = (0.3, 0.8)

    def make(self, rng: np.random.Generator, size: int) -> np.ndarray:
        angle = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) - size / 2
        offset = rng.uniform(-size / 4, size / 4)
        distance = np.cos(angle) * xx + np.sin(angle) * yy - offset
        width = rng.uniform(*self.spread)  # HR-native edge spread (pixels)
        step = 0.5 * (1 + np.tanh(distance / (1.7 * width)))
        a, b = rng.uniform(0.05, 0.95, size=2)
        image = a + (b - a) * step
        return (image + rng.normal(0, 0.01, image.shape)).astype(np.float32)


class CropSampler:
    """Random HR crops (flips and 90-degree turns: SR has no preferred direction) -> LR pairs."""

    def __init__(
        self,
        images: list[np.ndarray],
        hr_size: int,
        *,
        seed: int = 0,
        edge_fraction: float = 0.15,
        blur_sigma: float = DEFAULT_BLUR_SIGMA,
        edge_spread: Sequence[float] = (0.3, 0.8),
        degradation: str = "paper",
        paper_fraction: float = 0.0,
    ) -> None:
        if hr_size % SCALE:
            raise InputError(f"HR crop size {hr_size} must be a multiple of {SCALE}.")
        self.images = [im for im in images if min(im.shape) >= hr_size]
        if not self.images:
            raise InputError(f"No training image is at least {hr_size} px on a side.")
        self.hr_size = hr_size
        self.rng = np.random.default_rng(seed)
        self.edge_fraction = edge_fraction
        self.blur_sigma = blur_sigma
        self.edges = SyntheticEdges(tuple(edge_spread))
        self.degradation = degradation
        self.paper_fraction = paper_fraction

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def _crop(self) -> np.ndarray:
        if self.rng.random() < self.edge_fraction:
            return self.edges.make(self.rng, self.hr_size)
        for _ in range(50):
            image = self.images[self.rng.integers(len(self.images))]
            r = self.rng.integers(0, image.shape[0] - self.hr_size + 1)
            c = self.rng.integers(0, image.shape[1] - self.hr_size + 1)
            crop = image[r : r + self.hr_size, c : c + self.hr_size]
            if np.isfinite(crop).all():
                crop = np.rot90(crop, self.rng.integers(4))
                return np.ascontiguousarray(crop[:, ::-1] if self.rng.random() < 0.5 else crop)
        return self.edges.make(self.rng, self.hr_size)

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(LR (n,1,h,w), HR (n,1,4h,4w)) float32 tensors on the CPU."""
        hr = torch.from_numpy(np.stack([self._crop() for _ in range(n)])[:, None])
        if self.degradation == "paper":
            return degrade(hr, self.blur_sigma), hr
        # "mix": every crop its own LR family and strength, drawn from the sampler's generator
        # (so a resumed run continues the same sequence); paper_fraction of them the paper's
        lr = [self._degradation().apply(hr[i : i + 1], self.rng) for i in range(n)]
        return torch.cat(lr), hr

    def _degradation(self) -> Degradation:
        if self.paper_fraction and self.rng.random() < self.paper_fraction:
            return Degradation(psf_sigma=self.blur_sigma)
        return random_degradation(self.rng)
