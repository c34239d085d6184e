"""CRISM's known misregistration relative to CTX, and CRISM's irregular footprint.

Convention (exact; also in truth.json and docs/simulator.md): d(P) = global shift + smooth
local warp, in metres (east, north), is a function of the map position P of a pixel centre
*in crism.tif*. The crism.tif pixel at map position P shows the ground that is at P - d(P)
on the CTX grid (ctx.tif, crism_target.tif). Equivalently, the ground at CTX-grid position Q
appears in crism.tif at Q + o(Q), where o(Q) = d(Q + o(Q)) (:meth:`Misregistration.offset_at`,
a fixed-point solve; o differs from d(Q) by far less than a CTX pixel because the warp is
smooth). A perfect co-registration moves CRISM content by -o(Q).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_TERM_KEYS = ("amp_east_m", "amp_north_m", "cycles_x", "cycles_y", "phase_rad")


@dataclass(frozen=True)
class Misregistration:
    shift_east_m: float
    shift_north_m: float
    warp_amplitude_m: float
    # each term: (amp_east_m, amp_north_m, cycles_x, cycles_y, phase_rad) over the extent
    warp_terms: tuple[tuple[float, float, int, int, float], ...] = field(default_factory=tuple)
    origin: tuple[float, float] = (0.0, 0.0)  # (left, top) of the scene
    extent_m: float = 1.0

    def displacement(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(east, north) displacement in metres at map coordinates (x, y)."""
        u = (x - self.origin[0]) / self.extent_m
        v = (self.origin[1] - y) / self.extent_m
        east = np.full(np.broadcast(u, v).shape, self.shift_east_m, np.float64)
        north = np.full_like(east, self.shift_north_m)
        for amp_e, amp_n, cx, cy, phase in self.warp_terms:
            wave = np.sin(2 * np.pi * (cx * u + cy * v) + phase)
            east += amp_e * wave
            north += amp_n * wave
        return east, north

    def offset_at(
        self, x: np.ndarray, y: np.ndarray, iterations: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """(east, north) metres o such that the ground at CTX-grid map position (x, y) shows
        in crism.tif at (x + o_east, y + o_north): solves o = d(Q + o) by fixed-point
        iteration (converges fast: the warp's slope is far below 1)."""
        qx, qy = np.asarray(x, np.float64), np.asarray(y, np.float64)
        east, north = self.displacement(qx, qy)
        for _ in range(iterations - 1):
            east, north = self.displacement(qx + east, qy + north)
        return east, north

    @classmethod
    def from_dict(cls, m: dict) -> Misregistration:
        """The inverse of :meth:`to_dict` (reads ``truth["crism"]["misregistration"]``)."""
        terms = tuple(
            (
                float(t["amp_east_m"]),
                float(t["amp_north_m"]),
                int(t["cycles_x"]),
                int(t["cycles_y"]),
                float(t["phase_rad"]),
            )
            for t in m["warp_terms"]
        )
        return cls(
            float(m["shift_east_m"]),
            float(m["shift_north_m"]),
            float(m["warp_amplitude_m"]),
            terms,
            (float(m["origin_left_top_m"][0]), float(m["origin_left_top_m"][1])),
            float(m["extent_m"]),
        )

    def to_dict(self, crism_pixel_m: float) -> dict:
        return {
            "convention": (
                "d(P) = global shift + local warp in metres (east, north), P = map position "
                "of a crism.tif pixel centre; the crism.tif pixel at P shows the ground at "
                "P - d(P) on the CTX grid. shift_col_px/shift_row_px are the global shift in "
                "CRISM pixels along columns (east) and rows (south). Use "
                "marsspec.core.simulator.misregistration.true_offset_ctx_px(truth, x, y)."
            ),
            "shift_east_m": self.shift_east_m,
            "shift_north_m": self.shift_north_m,
            "shift_col_px": self.shift_east_m / crism_pixel_m,
            "shift_row_px": -self.shift_north_m / crism_pixel_m,
            "warp_amplitude_m": self.warp_amplitude_m,
            "warp_terms": [dict(zip(_TERM_KEYS, t, strict=True)) for t in self.warp_terms],
            "warp_formula": (
                "d_local = sum(amp * sin(2*pi*(cycles_x*u + cycles_y*v) + phase)), "
                "u = (x - left)/extent_m, v = (top - y)/extent_m"
            ),
            "origin_left_top_m": list(self.origin),
            "extent_m": self.extent_m,
        }


def misregistration_from_truth(truth: dict | str | Path) -> Misregistration:
    """The scene's :class:`Misregistration` from a truth dict or the path of truth.json."""
    if not isinstance(truth, dict):
        truth = json.loads(Path(truth).read_text())
    try:
        return Misregistration.from_dict(truth["crism"]["misregistration"])
    except KeyError as error:
        from marsspec.core.errors import InputError

        raise InputError(
            f"The truth file has no CRISM misregistration ({error}); simulate with the "
            "'crism' product to get one."
        ) from error


def true_offset_m(truth, x, y) -> tuple[np.ndarray, np.ndarray]:
    """(east, north) metres: the ground at CTX-grid map position (x, y) (metres, scene CRS)
    appears in crism.tif at (x + east, y + north)."""
    return misregistration_from_truth(truth).offset_at(x, y)


def true_offset_ctx_px(truth, x, y, ctx_pixel_m: float | None = None):
    """(d_col, d_row) in CTX pixels: the ground at CTX-grid map position (x, y) appears in
    crism.tif at the position of CTX column + d_col, row + d_row (rows grow southwards)."""
    if not isinstance(truth, dict):
        truth = json.loads(Path(truth).read_text())
    pixel = ctx_pixel_m or float(truth["config"]["ctx_pixel_m"])
    east, north = true_offset_m(truth, x, y)
    return east / pixel, -north / pixel


def random_misregistration(
    rng,
    crism_pixel_m: float,
    origin,
    extent_m,
    shift_px: tuple[float, float] = (2.0, 5.0),
    warp_px: tuple[float, float] = (0.3, 0.6),
) -> Misregistration:
    """A global shift of ``shift_px`` CRISM pixels in a random direction plus a smooth warp
    whose amplitude is drawn from ``warp_px`` CRISM pixels (defaults: 2-5 px, <= 0.6 px)."""
    magnitude = rng.uniform(*shift_px) * crism_pixel_m
    angle = rng.uniform(0, 2 * math.pi)
    amplitude = rng.uniform(*warp_px) * crism_pixel_m
    terms = []
    for _ in range(2):
        direction = rng.uniform(0, 2 * math.pi)
        terms.append(
            (
                float(amplitude / 2 * math.cos(direction)),
                float(amplitude / 2 * math.sin(direction)),
                int(rng.integers(1, 3)),
                int(rng.integers(-2, 3)),
                float(rng.uniform(0, 2 * math.pi)),
            )
        )
    return Misregistration(
        float(magnitude * math.cos(angle)),
        float(magnitude * math.sin(angle)),
        float(amplitude),
        tuple(terms),
        (float(origin[0]), float(origin[1])),
        float(extent_m),
    )


@dataclass(frozen=True)
class Footprint:
    """A CRISM-like footprint: a rotated, slightly hourglass-shaped strip with wobbly edges,
    kept well inside the scene so that every CRISM pixel has ground under it."""

    center: tuple[float, float]
    half_length_m: float
    half_width_m: float
    rotation_deg: float
    pinch: float
    wobble: tuple[float, float, float]  # amplitude (fraction of width), cycles, phase

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        theta = math.radians(self.rotation_deg)
        dx, dy = x - self.center[0], y - self.center[1]
        along = -dx * math.sin(theta) + dy * math.cos(theta)
        across = dx * math.cos(theta) + dy * math.sin(theta)
        t = along / self.half_length_m
        amp, cycles, phase = self.wobble
        width = self.half_width_m * (1 - self.pinch * (1 - t**2) + amp * np.sin(cycles * t + phase))
        return (np.abs(t) <= 1.0) & (np.abs(across) <= width)

    def to_dict(self) -> dict:
        return {
            "center_m": list(self.center),
            "half_length_m": self.half_length_m,
            "half_width_m": self.half_width_m,
            "rotation_deg": self.rotation_deg,
            "hourglass_pinch": self.pinch,
        }


def random_footprint(rng, center, extent_m: float) -> Footprint:
    return Footprint(
        (float(center[0]), float(center[1])),
        float(extent_m * rng.uniform(0.33, 0.36)),
        float(extent_m * rng.uniform(0.28, 0.32)),
        float(rng.uniform(-8.0, 8.0)),
        float(rng.uniform(0.04, 0.12)),
        (float(rng.uniform(0.01, 0.03)), float(rng.uniform(3.0, 9.0)), float(rng.uniform(0, 6.3))),
    )
