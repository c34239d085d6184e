"""arosics matching: one global shift (COREG), then a tie-point grid (COREG_LOCAL).

Conventions (checked on simulated pairs with a known shift): arosics' shift in map units is
the move to apply to the *target's* georeference, i.e. a feature the target shows at P lies
on the ground at P + shift. Tie-point coordinates (X_MAP, Y_MAP) are reference (ground)
positions. Both images here lie on one matching grid, so pixel shifts are matching-grid px.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from marsspec.core.coreg.config import CoregConfig
from marsspec.core.coreg.grid import NODATA, MatchGrid
from marsspec.core.coreg.quiet import quiet_arosics
from marsspec.core.errors import MissingDependencyError

_ABSENT = -9999  # arosics' marker for "no result at this point"


@dataclass(frozen=True)
class GlobalShift:
    x_m: float
    y_m: float
    x_px: float
    y_px: float
    reliability: float
    ssim_before: float
    ssim_after: float


@dataclass
class TiePoints:
    """Valid tie points (arosics found a shift), with arosics' own filter verdicts."""

    point_id: np.ndarray
    x_im: np.ndarray
    y_im: np.ndarray
    x_map: np.ndarray
    y_map: np.ndarray
    x_shift_px: np.ndarray
    y_shift_px: np.ndarray
    x_shift_m: np.ndarray
    y_shift_m: np.ndarray
    abs_shift_m: np.ndarray
    angle_deg: np.ndarray
    reliability: np.ndarray
    ssim_before: np.ndarray
    ssim_after: np.ndarray
    l1_outlier: np.ndarray
    l2_outlier: np.ndarray
    l3_outlier: np.ndarray
    outlier: np.ndarray
    grid_points: int = 0  # points arosics tried, valid or not

    def __len__(self) -> int:
        return int(self.x_map.size)

    def used(self, min_reliability: float) -> np.ndarray:
        """Points the correction is built from: not flagged by any filter, reliable enough."""
        return ~self.outlier & (self.reliability >= min_reliability)

    @classmethod
    def empty(cls, grid_points: int = 0) -> TiePoints:
        fields = {name: np.zeros(0) for name in cls.__dataclass_fields__ if name != "grid_points"}
        for name in ("l1_outlier", "l2_outlier", "l3_outlier", "outlier"):
            fields[name] = np.zeros(0, bool)
        return cls(**fields, grid_points=grid_points)


def _geoarray(image: np.ndarray, grid: MatchGrid):
    try:
        from geoarray import GeoArray
    except ImportError as error:  # pragma: no cover - arosics pulls geoarray in
        raise MissingDependencyError(
            "Co-registration needs arosics (pip install arosics==1.12.1); run "
            "'python -m marsspec check-deps' for the exact command."
        ) from error
    return GeoArray(image, grid.transform.to_gdal(), grid.wkt, nodata=NODATA)


def global_shift(
    reference: np.ndarray,
    target: np.ndarray,
    grid: MatchGrid,
    config: CoregConfig,
    log: Callable[[str], None],
) -> GlobalShift | None:
    """arosics COREG at the best window position; None (and a log line) when it finds none."""
    from arosics import COREG

    with quiet_arosics(log):
        try:
            coreg = COREG(
                _geoarray(reference, grid),
                _geoarray(target, grid),
                ws=(grid.px(config.window_size),) * 2,
                max_shift=grid.px(config.max_shift),
                binary_ws=False,
                nodata=(NODATA, NODATA),
                q=True,
                progress=False,
            )
            coreg.calculate_spatial_shifts()
        except Exception as error:  # arosics raises bare RuntimeError/AssertionError
            log(f"Global matching found no shift: {error}")
            return None
    if not coreg.success:
        log("Global matching found no shift.")
        return None
    return GlobalShift(
        float(coreg.x_shift_map),
        float(coreg.y_shift_map),
        float(coreg.x_shift_px),
        float(coreg.y_shift_px),
        float(coreg.shift_reliability or 0.0),
        float(coreg.ssim_orig if coreg.ssim_orig is not None else np.nan),
        float(coreg.ssim_deshifted if coreg.ssim_deshifted is not None else np.nan),
    )


def local_tie_points(
    reference: np.ndarray,
    target: np.ndarray,
    grid: MatchGrid,
    config: CoregConfig,
    log: Callable[[str], None],
) -> TiePoints:
    """arosics COREG_LOCAL on a regular grid; its reliability/SSIM/RANSAC filters mark outliers."""
    from arosics import COREG_LOCAL

    with quiet_arosics(log):
        try:
            local = COREG_LOCAL(
                _geoarray(reference, grid),
                _geoarray(target, grid),
                grid_res=grid.px(config.grid_spacing),
                window_size=(grid.px(config.window_size),) * 2,
                max_shift=grid.px(config.max_shift),
                min_reliability=config.min_reliability,
                tieP_filter_level=config.filter_level,
                binary_ws=False,
                nodata=(NODATA, NODATA),
                CPUs=config.cpus,
                progress=False,
                q=True,
            )
            table = local.CoRegPoints_table
        except Exception as error:  # arosics raises bare errors on empty grids
            log(f"Local matching failed: {error}")
            return TiePoints.empty()
    return _from_table(table, grid.oversample)


def _from_table(table, oversample: float) -> TiePoints:
    """arosics' table -> arrays; pixel columns converted from matching to target pixels."""
    total = len(table)
    valid = (table["X_SHIFT_M"] != _ABSENT).to_numpy()
    if not valid.any():
        return TiePoints.empty(total)
    t = table[valid]

    def column(name, dtype=float):
        return t[name].to_numpy().astype(dtype)

    def flag(name):
        return (
            np.array([bool(v) and v != _ABSENT for v in t[name]])
            if name in t
            else np.zeros(len(t), bool)
        )

    return TiePoints(
        point_id=column("POINT_ID", int),
        x_im=column("X_IM"),
        y_im=column("Y_IM"),
        x_map=column("X_MAP"),
        y_map=column("Y_MAP"),
        x_shift_px=column("X_SHIFT_PX"),
        y_shift_px=column("Y_SHIFT_PX"),
        x_shift_m=column("X_SHIFT_M"),
        y_shift_m=column("Y_SHIFT_M"),
        abs_shift_m=column("ABS_SHIFT"),
        angle_deg=column("ANGLE"),
        reliability=column("RELIABILITY"),
        ssim_before=column("SSIM_BEFORE"),
        ssim_after=column("SSIM_AFTER"),
        l1_outlier=flag("L1_OUTLIER"),
        l2_outlier=flag("L2_OUTLIER"),
        l3_outlier=flag("L3_OUTLIER"),
        outlier=flag("OUTLIER"),
        grid_points=total,
    )
