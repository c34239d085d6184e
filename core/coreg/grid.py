"""The matching grid: CRISM's resolution in the CTX CRS, over the common ground.

arosics refuses CRS definitions that are equivalent but not identical (ENVIRONMENT.md), so
both matching images are warped (rasterio WarpedVRT, only the one band each) onto one grid
that carries the reference CRS: arosics then sees the same WKT twice. CTX is averaged down to
CRISM's pixel size (arosics would match at the coarser resolution anyway, and averaging does
not alias); CRISM is resampled bilinearly. Both arrays are as small as the CRISM product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from marsspec.core.coreg.inputs import Overlap
from marsspec.core.errors import InputError
from marsspec.core.io.product import Product

NODATA = -9999.0  # nodata of the matching arrays (float32)


@dataclass(frozen=True)
class MatchGrid:
    crs: object  # rasterio CRS (the reference's)
    transform: object  # affine.Affine, north-up
    width: int
    height: int
    target_pixel: float  # one target (CRISM) pixel in reference CRS units

    @property
    def pixel_m(self) -> float:
        return float(self.transform.a)

    @property
    def oversample(self) -> float:
        """Matching pixels per target pixel (user parameters are in target pixels)."""
        return self.target_pixel / self.pixel_m

    def px(self, target_px: float) -> int:
        """A length in target pixels as a whole number of matching pixels."""
        return max(1, round(target_px * self.oversample))

    @property
    def wkt(self) -> str:
        return self.crs.to_wkt()


def target_pixel_size(reference: Product, target: Product) -> float:
    """Size of one target pixel measured in reference CRS units (square)."""
    from rasterio.transform import array_bounds
    from rasterio.warp import calculate_default_transform

    transform, _, _ = calculate_default_transform(
        target.crs,
        reference.crs,
        target.width,
        target.height,
        *array_bounds(target.height, target.width, target.transform),
    )
    return float(math.sqrt(abs(transform.a * transform.e)))


def matching_grid(
    reference: Product, target: Product, overlap: Overlap, min_size: int, oversample: int = 1
) -> MatchGrid:
    """A grid at the target's resolution / ``oversample`` (never finer than the reference) over
    ``overlap``, its origin on a reference pixel edge. Oversampling reduces arosics' sub-pixel
    bias (its peak interpolation pulls shifts towards whole pixels)."""
    from affine import Affine

    target_pixel = target_pixel_size(reference, target)
    pixel = max(target_pixel / oversample, abs(reference.transform.a))
    ref = reference.transform
    left = ref.c + math.floor((overlap.left - ref.c) / ref.a) * ref.a
    top = ref.f - math.floor((ref.f - overlap.top) / abs(ref.e)) * abs(ref.e)
    width = math.ceil((overlap.right - left) / pixel)
    height = math.ceil((top - overlap.bottom) / pixel)
    if min(width, height) * pixel < min_size * target_pixel:
        raise InputError(
            f"The common ground of the two rasters is only {width * pixel / target_pixel:.0f} x "
            f"{height * pixel / target_pixel:.0f} target pixels, smaller than the {min_size} px "
            "matching window; use a smaller window size or a reference that covers more of "
            "the target."
        )
    transform = Affine(pixel, 0.0, left, 0.0, -pixel, top)
    return MatchGrid(reference.crs, transform, width, height, target_pixel)


def warp_band(product: Product, band: int, grid: MatchGrid, resampling: str) -> np.ndarray:
    """One band warped onto ``grid`` as float32 with NODATA outside the product's valid data."""
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    options = {
        "crs": grid.crs,
        "transform": grid.transform,
        "width": grid.width,
        "height": grid.height,
        "resampling": Resampling[resampling],
    }
    if product.nodata is None:
        options["add_alpha"] = True
    else:
        options.update(src_nodata=product.nodata, nodata=product.nodata)
    from marsspec.core.io.reading import reading
    from marsspec.core.io.special_values import RESAMPLED_THRESHOLD, valid_float_mask

    with (
        product.open() as dataset,
        WarpedVRT(dataset, **options) as vrt,
        reading(product.path, f"band {band} (warped onto the matching grid)"),
    ):
        raw = vrt.read(band)
        valid = vrt.read(vrt.count) == 255 if product.nodata is None else vrt.read_masks(band) > 0
    # ISIS special values are nodata; averaged into their neighbours they stay beyond 1e30
    valid &= valid_float_mask(raw, RESAMPLED_THRESHOLD)
    data = raw.astype(np.float32)
    data = data * np.float32(product.scales[band - 1]) + np.float32(product.offsets[band - 1])
    data[~valid] = NODATA
    return data


def despike(image: np.ndarray, threshold: float = 6.0) -> tuple[np.ndarray, int]:
    """Replace isolated hot/cold pixels (CRISM's hot pixels, bad detector elements) by the
    3x3 median: phase correlation whitens the spectrum, so a few spikes can hide the image."""
    from scipy.ndimage import median_filter

    valid = image != NODATA
    if not valid.any():
        return image, 0
    filled = np.where(valid, image, np.median(image[valid])).astype(np.float32)
    median = median_filter(filled, size=3, mode="nearest")
    residual = filled - median
    mad = float(np.median(np.abs(residual[valid])))
    low, high = np.percentile(image[valid], [1, 99])
    # a spike stands out from its neighbours by far more than the noise AND by a good part of
    # the image's range (so quantised 8-bit products do not turn texture into "spikes")
    limit = max(threshold * 1.4826 * mad, 0.25 * float(high - low), 1e-12)
    spikes = valid & (np.abs(residual) > limit)
    out = image.copy()
    out[spikes] = median[spikes]
    return out, int(spikes.sum())
