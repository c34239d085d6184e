"""One smooth correction for the whole CRISM cube, from the tie points or the global shift.

The field answers "where, in the target (in reference-CRS map units), does the ground at
reference position (x, y) appear?": offset = -arosics shift. A thin-plate spline (smoothed,
with an affine trend) through the reliable tie points follows a smooth warp and averages
their noise; it is evaluated once on a coarse lattice and interpolated bilinearly per output
window, so applying it costs the same for 3 bands or 400.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marsspec.core.coreg.match import GlobalShift, TiePoints


@dataclass
class CorrectionField:
    method: str  # "local" (tie-point spline) or "global" (one shift)
    left: float  # lattice origin (x of column 0, y of row 0), reference CRS
    top: float
    step: float  # lattice spacing, map units
    offset_x: np.ndarray  # lattice of offsets (map units), rows north -> south
    offset_y: np.ndarray

    def at(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Offsets (dx, dy) in map units at map positions (x, y); constant beyond the lattice."""
        from scipy.ndimage import map_coordinates

        if self.offset_x.size == 1:
            shape = np.broadcast(x, y).shape
            return np.full(shape, self.offset_x.flat[0]), np.full(shape, self.offset_y.flat[0])
        col = (np.asarray(x) - self.left) / self.step
        row = (self.top - np.asarray(y)) / self.step
        col, row = np.broadcast_arrays(col, row)
        coords = [row.ravel(), col.ravel()]
        dx = map_coordinates(self.offset_x, coords, order=1, mode="nearest")
        dy = map_coordinates(self.offset_y, coords, order=1, mode="nearest")
        return dx.reshape(col.shape), dy.reshape(col.shape)


def global_field(shift: GlobalShift) -> CorrectionField:
    return CorrectionField(
        "global", 0.0, 0.0, 1.0, np.array([[-shift.x_m]]), np.array([[-shift.y_m]])
    )


def local_field(
    points: TiePoints,
    used: np.ndarray,
    bounds: tuple[float, float, float, float],
    step: float,
    smoothing: float,
) -> CorrectionField:
    """Thin-plate spline through the used points over ``bounds`` (left, bottom, right, top)."""
    from scipy.interpolate import RBFInterpolator

    left, bottom, right, top = bounds
    scale = max(right - left, top - bottom)
    xy = np.column_stack([(points.x_map[used] - left) / scale, (top - points.y_map[used]) / scale])
    values = -np.column_stack([points.x_shift_m[used], points.y_shift_m[used]])
    # smoothing is per point in squared normalised units: scaled with the point density so
    # the same number means "about as smooth" for a 10-point or a 2,000-point grid
    spline = RBFInterpolator(
        xy, values, kernel="thin_plate_spline", degree=1, smoothing=smoothing * 1e-3
    )
    nx = int(np.ceil((right - left) / step)) + 1
    ny = int(np.ceil((top - bottom) / step)) + 1
    gx, gy = np.meshgrid(np.arange(nx) * step / scale, np.arange(ny) * step / scale)
    lattice = np.column_stack([gx.ravel(), gy.ravel()])
    out = np.empty((lattice.shape[0], 2))
    for start in range(0, lattice.shape[0], 65536):  # bounded memory for big lattices
        out[start : start + 65536] = spline(lattice[start : start + 65536])
    return CorrectionField(
        "local", left, top, step, out[:, 0].reshape(ny, nx), out[:, 1].reshape(ny, nx)
    )
