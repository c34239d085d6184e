"""Parameters of a CRISM-to-CTX co-registration, in one place for the CLI and QGIS."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from marsspec.core.errors import InputError

MATCH_WAVELENGTH_NM = 592.0  # paper 000 A.1: EVC red, nearest CRISM band to CTX's passband


@dataclass(frozen=True)
class CoregConfig:
    """Window, max shift and grid spacing are in CRISM (target) pixels, whatever the matching
    grid's oversampling. Defaults follow planetary users' experience:
    a small window (64 px) and a large max shift (20 px) match CRISM more reliably."""

    crism_band: int | None = None  # 1-based; None = nearest 592 nm (needs wavelengths)
    reference_band: int = 1  # CTX band used for matching
    grid_spacing: int = 16  # tie-point grid spacing, matching-grid px
    window_size: int = 64  # matching window, matching-grid px
    max_shift: int = 20  # largest shift accepted, matching-grid px
    min_reliability: float = 60.0  # arosics reliability (%) below which a point is dropped
    filter_level: int = 3  # arosics tie-point filters: 1 reliability, 2 +SSIM, 3 +RANSAC
    min_points: int = 8  # fewer reliable tie points than this -> global shift only
    global_only: bool = False
    oversample: int = 2  # matching grid = CRISM pixel / oversample (never finer than CTX)
    cpus: int = 1  # arosics worker processes for the local grid
    despike: bool = True  # remove CRISM hot pixels from the matching band (phase correlation
    # whitens spectra, so a few spikes can drown the image's own signal)
    smoothing: float = 1.0  # thin-plate spline smoothing of the local shift field
    block_rows: int = 256  # rows per output window when resampling
    allow_non_mars: bool = False  # co-register products whose CRS is on another body

    def validate(self) -> None:
        checks = (
            (self.crism_band is None or self.crism_band >= 1, "CRISM band must be 1 or more"),
            (self.reference_band >= 1, "reference (CTX) band must be 1 or more"),
            (self.grid_spacing >= 2, "grid spacing must be at least 2 px"),
            (16 <= self.window_size <= 1024, "window size must be 16-1024 px"),
            (1 <= self.max_shift <= 500, "max shift must be 1-500 px"),
            (0.0 <= self.min_reliability <= 100.0, "minimum reliability must be 0-100 %"),
            (self.filter_level in (0, 1, 2, 3), "filter level must be 0, 1, 2 or 3"),
            (self.min_points >= 3, "minimum number of tie points must be 3 or more"),
            (self.cpus >= 1, "CPUs must be 1 or more"),
            (1 <= self.oversample <= 4, "oversampling must be 1-4"),
            (self.smoothing >= 0.0, "smoothing must be 0 or more"),
            (self.block_rows >= 16, "block rows must be 16 or more"),
        )
        for ok, message in checks:
            if not ok:
                raise InputError(f"Invalid co-registration parameter: {message}.")

    def to_dict(self) -> dict:
        return asdict(self)
