"""Open the CTX reference and the CRISM target and refuse pairs arosics cannot register.

Every refusal names the problem and the fix: a missing CRS, rasters of different planets
(a Mars CRS against an Earth one means one file was mislabelled), or no common ground.
"""

from __future__ import annotations

from dataclasses import dataclass

from marsspec.core.errors import InputError
from marsspec.core.io.mars_crs import check_mars_body, crs_info
from marsspec.core.io.product import Product, open_product


@dataclass(frozen=True)
class Overlap:
    """Common ground of the two rasters, in the reference (CTX) CRS."""

    left: float
    bottom: float
    right: float
    top: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.top - self.bottom


def open_pair(reference_path, target_path, allow_non_mars: bool = False) -> tuple[Product, Product]:
    reference = open_product(reference_path)
    target = open_product(target_path)
    for role, product in (("reference (CTX)", reference), ("target (CRISM)", target)):
        if product.crs is None or product.transform is None:
            raise InputError(
                f"The {role} '{product.path.name}' is not georeferenced (no CRS or no "
                "geotransform); co-registration needs map-projected products. Map-project it "
                "first (ISIS cam2map / the CRISM CAT tools) or give the projected product."
            )
        if product.transform.b != 0 or product.transform.d != 0:
            raise InputError(
                f"The {role} '{product.path.name}' has a rotated geotransform; warp it north-up "
                "first (gdalwarp)."
            )
    body_ref, body_tgt = crs_info(reference.crs).body, crs_info(target.crs).body
    if body_ref != body_tgt:
        raise InputError(
            f"The reference '{reference.path.name}' has a {body_ref} CRS but the target "
            f"'{target.path.name}' has a {body_tgt} CRS; both must be on the same body. A Mars "
            "product labelled with an Earth CRS (e.g. EPSG:4326) must be re-labelled with its "
            "Mars CRS (e.g. IAU_2015:49900) first."
        )
    for role, product in (("The reference (CTX)", reference), ("The target (CRISM)", target)):
        check_mars_body(product.crs, f"{role} '{product.path.name}'", allow_non_mars=allow_non_mars)
    return reference, target


def overlap_in_reference_crs(reference: Product, target: Product) -> Overlap:
    """Bounds of the target, in the reference CRS, clipped to the reference; error if empty."""
    ref_bounds = _bounds(reference)
    tgt_bounds = target_bounds_in_reference_crs(reference, target)
    left, right = max(ref_bounds[0], tgt_bounds[0]), min(ref_bounds[2], tgt_bounds[2])
    bottom, top = max(ref_bounds[1], tgt_bounds[1]), min(ref_bounds[3], tgt_bounds[3])
    if left >= right or bottom >= top:
        raise InputError(
            f"The target '{target.path.name}' and the reference '{reference.path.name}' do not "
            "overlap on the ground (their footprints share no area); choose a CTX image that "
            "covers the CRISM observation."
        )
    return Overlap(left, bottom, right, top)


def target_bounds_in_reference_crs(reference: Product, target: Product):
    """The target raster's bounds (left, bottom, right, top) in the reference CRS."""
    from rasterio.transform import array_bounds
    from rasterio.warp import transform_bounds

    return transform_bounds(
        target.crs,
        reference.crs,
        *array_bounds(target.height, target.width, target.transform),
        densify_pts=21,
    )


def _bounds(product: Product) -> tuple[float, float, float, float]:
    from rasterio.transform import array_bounds

    west, south, east, north = array_bounds(product.height, product.width, product.transform)
    return west, south, east, north
