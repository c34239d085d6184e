"""Apply the correction: every CRISM band resampled bilinearly onto a CTX pixel window, and the
same CTX window cut out, so the two files form a training pair (same grid, same size).

Re-projection and correction are one resampling step: for each output pixel the field gives
where its ground lies in the target (reference CRS), that point is projected into the
target's own CRS and read from the original cube, by row blocks and band by band.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from marsspec.core.coreg.field import CorrectionField
from marsspec.core.errors import CancelledError, InputError
from marsspec.core.io.mars_crs import crs_equivalent
from marsspec.core.io.product import Product
from marsspec.core.io.safety import create_raster

OUT_NODATA = 65535.0  # CRISM's null value, kept so CRISM-aware readers treat it as null


def output_window(reference: Product, target_bounds, field: CorrectionField):
    """The reference pixel window covering the target's bounds moved by the correction."""
    from rasterio.windows import Window, from_bounds

    centre_x = (target_bounds[0] + target_bounds[2]) / 2
    centre_y = (target_bounds[1] + target_bounds[3]) / 2
    dx, dy = (float(v) for v in field.at(np.array(centre_x), np.array(centre_y)))
    left, bottom, right, top = target_bounds
    window = from_bounds(left - dx, bottom - dy, right - dx, top - dy, reference.transform)
    col0, row0 = math.floor(window.col_off + 1e-6), math.floor(window.row_off + 1e-6)
    col1 = math.ceil(window.col_off + window.width - 1e-6)
    row1 = math.ceil(window.row_off + window.height - 1e-6)
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, reference.width), min(row1, reference.height)
    if col1 <= col0 or row1 <= row0:
        raise InputError("After correction the target no longer overlaps the reference.")
    return Window(col0, row0, col1 - col0, row1 - row0)


def _geotiff_profile(width, height, count, dtype, crs, transform, nodata) -> dict:
    return {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": dtype,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 3 if np.dtype(dtype).kind == "f" else 2,
        "BIGTIFF": "IF_SAFER",
    }


class _ToTarget:
    """Reference-CRS map coordinates -> fractional target pixel indices (row, col)."""

    def __init__(self, reference: Product, target: Product) -> None:
        self._inverse = ~target.transform
        self._transformer = None
        if not crs_equivalent(reference.crs, target.crs):
            from pyproj import Transformer

            self._transformer = Transformer.from_crs(
                reference.crs.to_wkt(), target.crs.to_wkt(), always_xy=True
            )

    def __call__(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._transformer is not None:
            x, y = self._transformer.transform(x, y)
        col, row = self._inverse * (x, y)
        return np.asarray(row) - 0.5, np.asarray(col) - 0.5  # pixel-centre indices


def write_corrected_target(
    path,
    reference: Product,
    target: Product,
    window,
    field: CorrectionField,
    block_rows: int,
    tags: dict[str, str],
    band_names: list[str],
    progress: Callable[[float], None],
    cancel: Callable[[], bool],
    bands: list[int] | None = None,
) -> float:
    """Write the target ``bands`` (1-based; default all, in order) on the reference window;
    ``band_names`` has one name per target band. Returns the valid fraction."""
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform
    from scipy.ndimage import map_coordinates

    out_transform = window_transform(window, reference.transform)
    to_target = _ToTarget(reference, target)
    width, height = int(window.width), int(window.height)
    bands = list(bands) if bands else list(range(1, target.count + 1))
    profile = _geotiff_profile(
        width, height, len(bands), "float32", reference.crs, out_transform, OUT_NODATA
    )
    valid_pixels = 0
    with target.open() as source, create_raster(path, **profile) as dst:
        cols = np.arange(width) + 0.5
        for row0 in range(0, height, block_rows):
            if cancel():
                raise CancelledError("Co-registration cancelled; no output was written.")
            rows = np.arange(row0, min(row0 + block_rows, height)) + 0.5
            x = out_transform.c + cols[None, :] * out_transform.a
            y = out_transform.f + rows[:, None] * out_transform.e
            x, y = np.broadcast_arrays(x, y)
            dx, dy = field.at(x, y)
            src_row, src_col = to_target(x + dx, y + dy)
            block = np.full((len(bands), rows.size, width), OUT_NODATA, np.float32)
            r0 = max(int(np.floor(np.nanmin(src_row))) - 1, 0)
            c0 = max(int(np.floor(np.nanmin(src_col))) - 1, 0)
            r1 = min(int(np.ceil(np.nanmax(src_row))) + 2, target.height)
            c1 = min(int(np.ceil(np.nanmax(src_col))) + 2, target.width)
            if r1 > r0 and c1 > c0:
                src_window = Window(c0, r0, c1 - c0, r1 - r0)
                coords = [src_row - r0, src_col - c0]
                for k, band in enumerate(bands):
                    block[k] = _resample_band(
                        source, target, band, src_window, coords, map_coordinates
                    )
            valid_pixels += int((block[0] != OUT_NODATA).sum())
            dst.write(block, window=Window(0, row0, width, rows.size))
            progress((row0 + rows.size) / height)
        for out_band, band in enumerate(bands, start=1):
            dst.set_band_description(out_band, band_names[band - 1])
            wavelength = target.wavelengths_nm[band - 1]
            band_tags = {"units": target.units or "I/F"}
            if wavelength is not None:
                band_tags["WAVELENGTH_NM"] = f"{wavelength:g}"
            dst.update_tags(out_band, **band_tags)
            if target.units:
                dst.set_band_unit(out_band, target.units)
        dst.update_tags(**tags)
    return valid_pixels / float(width * height)


def _resample_band(source, target: Product, band, src_window, coords, map_coordinates):
    from marsspec.core.io.special_values import valid_float_mask

    raw = source.read(band, window=src_window)
    valid = np.ones(raw.shape, bool)
    if target.nodata is not None:
        valid &= ~np.isclose(raw, target.nodata) if raw.dtype.kind == "f" else raw != target.nodata
    data = raw.astype(np.float32)
    valid &= valid_float_mask(raw)  # NaN, inf and ISIS special values are nodata
    data = data * np.float32(target.scales[band - 1]) + np.float32(target.offsets[band - 1])
    data[~valid] = 0.0
    value = map_coordinates(data, coords, order=1, mode="constant", cval=0.0)
    weight = map_coordinates(valid.astype(np.float32), coords, order=1, mode="constant", cval=0.0)
    # a pixel touching the footprint edge or a null is null: no half-blended edge values
    return np.where(weight > 0.999, value, np.float32(OUT_NODATA)).astype(np.float32)


def write_reference_cutout(
    path,
    reference: Product,
    window,
    block_rows: int,
    tags: dict[str, str],
    cancel: Callable[[], bool],
    bands: list[int] | None = None,
) -> None:
    """The reference's pixels in ``window``, values and nodata unchanged: the ``bands``
    (1-based; default all, in order)."""
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    width, height = int(window.width), int(window.height)
    bands = list(bands) if bands else list(range(1, reference.count + 1))
    profile = _geotiff_profile(
        width,
        height,
        len(bands),
        reference.dtype,
        reference.crs,
        window_transform(window, reference.transform),
        reference.nodata,
    )
    with reference.open() as source, create_raster(path, **profile) as dst:
        for row0 in range(0, height, block_rows):
            if cancel():
                raise CancelledError("Co-registration cancelled; no output was written.")
            rows = min(block_rows, height - row0)
            src = Window(window.col_off, window.row_off + row0, width, rows)
            dst.write(source.read(bands, window=src), window=Window(0, row0, width, rows))
        for out_band, band in enumerate(bands, start=1):
            name = reference.band_names[band - 1] if band <= len(reference.band_names) else ""
            dst.set_band_description(out_band, name or f"band {band}")
            dst.update_tags(out_band, **source.tags(band))
        dst.scales = [reference.scales[band - 1] for band in bands]
        dst.offsets = [reference.offsets[band - 1] for band in bands]
        dst.update_tags(**tags)
