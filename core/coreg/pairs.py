"""Training pairs from a user's own products: CTX + CRISM in, one training scene out.

    from marsspec.core import jobs
    from marsspec.core.coreg.pairs import PairsRequest

    result = jobs.run(PairsRequest("ctx.tif", "crism.img", "pairs/", bands=("2529", "1330")))
    result.scene    # pairs/<name>/ holding ctx.tif, crism_target.tif, pair.json

The CRISM product is co-registered onto the CTX image with marsspec's co-registration
(:func:`marsspec.core.coreg.pipeline.register`, the same algorithm as ``coregister``); the
scene folder then holds what the spectral trainer reads (training/spectra/data.py):

- ``ctx.tif``: the CTX band used for matching, cut to the CRISM footprint's window, values,
  scale/offset and nodata unchanged;
- ``crism_target.tif``: the chosen CRISM bands resampled onto that CTX grid (float32, physical
  values), nodata (65535) outside the CRISM footprint; band descriptions, ``WAVELENGTH_NM``
  and ``units`` tags kept from the product;
- ``pair.json``: what was done (inputs, bands, co-registration facts and parameters).

All three are written through one :class:`~marsspec.core.io.safety.OutputSet`: published
together, or none (a failure or a cancel leaves no half scene; a folder the job made for it is
removed again when empty).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from marsspec.core.coreg.config import CoregConfig
from marsspec.core.errors import InputError
from marsspec.core.jobs import Feedback

CTX_NAME = "ctx.tif"
TARGET_NAME = "crism_target.tif"
PROVENANCE_NAME = "pair.json"
DEFAULT_TOLERANCE_NM = 15.0
_BAND_NUMBER = re.compile(r"^(?:b|band)\s*(\d+)$", re.IGNORECASE)


@dataclass
class PairsResult:
    """The scene folder, its files and what co-registration found."""

    scene: Path
    ctx_band: int
    target_bands: list[int]
    band_names: list[str]
    wavelengths_nm: list[float | None]
    units: str
    valid_fraction: float
    width: int
    height: int
    coregistration: object  # CoregResult
    seconds: float = 0.0
    outputs: dict[str, Path] = field(default_factory=dict)  # CTX, TARGET, PROVENANCE
    messages: list[str] = field(default_factory=list)

    @property
    def events(self) -> list[str]:
        return self.messages

    def summary(self) -> dict[str, object]:
        coreg = self.coregistration
        return {
            "scene": str(self.scene),
            "size": f"{self.width}x{self.height}",
            "ctx_band": self.ctx_band,
            "target_bands": ",".join(str(b) for b in self.target_bands),
            "band_names": ",".join(self.band_names),
            "units": self.units,
            "valid_fraction": round(self.valid_fraction, 6),
            "method": coreg.method,
            "used_points": coreg.used_points,
            "median_shift_m": round(coreg.median_shift_m, 4),
            "ssim_before": round(coreg.ssim_before, 4),
            "ssim_after": round(coreg.ssim_after, 4),
        }


def parse_band(item: str | int | float) -> str:
    """One ``--bands`` item, checked for form: a wavelength in nm (``2529``), a band number
    (``b3``) or a band name (``R2529``)."""
    text = str(item).strip()
    if not text:
        raise InputError("bands: an empty band; give wavelengths in nm (2529), b<N> or names.")
    if _BAND_NUMBER.match(text):
        if int(_BAND_NUMBER.match(text).group(1)) < 1:
            raise InputError(f"bands: {text!r}: band numbers start at 1 (b1).")
        return text
    try:
        value = float(text)
    except ValueError:
        return text  # a band name, resolved against the product when the job runs
    if not value > 0 or value != value:
        raise InputError(f"bands: {text!r} is not a wavelength in nm; give e.g. 2529 or b3.")
    return text


@dataclass(frozen=True)
class PairsRequest:
    """Make one training pair (scene folder ``out/<name>``) from ``ctx`` and ``crism``.

    ``bands``: the CRISM bands to keep as targets, each a wavelength in nm (nearest band within
    ``tolerance_nm``), ``b<N>`` (band number) or a band name (``R2529``); empty = every band.
    ``name``: the scene folder's name (default: the CRISM file's stem). ``replace``: overwrite a
    scene that exists. ``config``: the co-registration parameters (``reference_band`` is the
    CTX band written as ``ctx.tif``)."""

    ctx: str | Path
    crism: str | Path
    out: str | Path
    name: str | None = None
    bands: tuple[str, ...] = ()
    tolerance_nm: float = DEFAULT_TOLERANCE_NM
    replace: bool = False
    config: CoregConfig = field(default_factory=CoregConfig)

    def __post_init__(self) -> None:
        from marsspec.core.io.safety import same_file

        self.config.validate()
        bands = self.bands.split(",") if isinstance(self.bands, str) else self.bands or ()
        object.__setattr__(self, "bands", tuple(parse_band(b) for b in bands))
        if not (self.tolerance_nm >= 0):
            raise InputError(f"tolerance_nm {self.tolerance_nm!r} must be 0 nm or more.")
        if Path(self.ctx).exists() and same_file(self.ctx, self.crism):
            raise InputError(
                f"The CTX and the CRISM product are the same file ({Path(self.crism).name}); "
                "give the CRISM product as --crism."
            )
        check_scene_name(self.scene_name)
        out = Path(self.out).expanduser()
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {str(self.out)!r} is a file; give a folder for the pairs.")
        existing = out.absolute()
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise InputError(
                f"--out {str(self.out)!r} cannot be written ({str(existing)!r} is not a writable "
                "folder); choose a folder you can write to."
            )
        if self.scene.is_dir():
            self.output_set()  # outputs against inputs, overwriting only with replace

    @property
    def scene_name(self) -> str:
        if self.name is not None:
            return str(self.name)
        stem = Path(self.crism).name
        for suffix in (".lbl.txt", ".LBL.txt"):
            if stem.endswith(suffix):
                return stem[: -len(suffix)]
        return Path(stem).stem

    @property
    def scene(self) -> Path:
        return Path(os.path.abspath(Path(self.out).expanduser() / self.scene_name))

    def output_set(self):
        from marsspec.core.io.safety import OutputSet, check_output_path

        finals = {
            "CTX": self.scene / CTX_NAME,
            "TARGET": self.scene / TARGET_NAME,
            "PROVENANCE": self.scene / PROVENANCE_NAME,
        }
        if not self.replace:
            for key, path in finals.items():
                if path.exists():
                    check_output_path(key, path, "any")  # a folder there: its own message
                    raise InputError(
                        f"The scene {str(self.scene)!r} already holds {path.name}; give another "
                        "--name, or --replace to overwrite the pair."
                    )
        return OutputSet(
            finals,
            inputs=[self.ctx, self.crism],
            kinds={"CTX": "raster", "TARGET": "raster", "PROVENANCE": "json"},
        )


def check_scene_name(name: str) -> None:
    if (
        not name.strip()
        or name in (".", "..")
        or name.startswith(".")
        or any(sep in name for sep in ("/", "\\", os.sep))
    ):
        raise InputError(
            f"Scene name {name!r} cannot be a folder name; give --name a plain name such as "
            "frt0000a4b5 (no slashes, not starting with a dot)."
        )


def resolve_target_bands(target, wanted: tuple[str, ...], tolerance_nm: float) -> list[int]:
    """1-based band numbers of ``target`` for the request's ``bands`` (empty: all)."""
    if not wanted:
        return list(range(1, target.count + 1))
    names = [n.strip().upper() for n in target.band_names]
    found: list[int] = []
    for item in wanted:
        number = _BAND_NUMBER.match(item)
        if number:
            band = int(number.group(1))
            if band > target.count:
                raise InputError(
                    f"bands: {item} does not exist; {target.path.name} has {target.count} bands."
                )
        elif item.strip().upper() in names:
            band = names.index(item.strip().upper()) + 1
        else:
            try:
                wavelength = float(item)
            except ValueError:
                from marsspec.core.io.wavelengths import wavelength_from_band_name

                wavelength = wavelength_from_band_name(item)
                if wavelength is None:
                    shown = ", ".join(n for n in target.band_names if n) or "none"
                    raise InputError(
                        f"bands: {item!r} is not a band of {target.path.name} (names: {shown}); "
                        "give wavelengths in nm (2529) or band numbers (b3)."
                    ) from None
            known = [(i, w) for i, w in enumerate(target.wavelengths_nm, 1) if w is not None]
            if not known:
                raise InputError(
                    f"bands: {target.path.name} has no band wavelengths, so {item} cannot be "
                    "found; give band numbers (b1, b2, ...)."
                )
            band, lam = min(known, key=lambda k: abs(k[1] - wavelength))
            if abs(lam - wavelength) > tolerance_nm:
                shown = ", ".join(f"{w:g}" for _, w in known[:12])
                more = ", ..." if len(known) > 12 else ""
                raise InputError(
                    f"bands: {target.path.name} has no band within {tolerance_nm:g} nm of "
                    f"{wavelength:g} nm (nearest {lam:g} nm; bands at {shown}{more} nm); choose "
                    "another wavelength or raise the tolerance."
                )
        if band in found:
            raise InputError(f"bands: {item} names band {band} twice; list each band once.")
        found.append(band)
    return found


def make_pair(
    request: PairsRequest,
    *,
    progress: Callable[[float], object] | None = None,
    cancel: Callable[[], bool] | None = None,
    log: Callable[[str], object] | None = None,
) -> PairsResult:
    """Co-register and write one training scene as ``request`` says (module docstring)."""
    import numpy as np

    from marsspec.core.coreg import apply as apply_mod
    from marsspec.core.coreg.pipeline import _band_names, register

    start = time.perf_counter()
    feedback = Feedback(progress, cancel, log, "Pair cancelled; no scene was written.")
    messages, say, stage, is_cancelled = (
        feedback.messages,
        feedback.say,
        feedback.stage,
        feedback.cancelled,
    )

    from marsspec.core.io.product import open_product

    config = request.config
    # the bands first: a wrong band is refused before the (long) matching
    bands = resolve_target_bands(open_product(request.crism), request.bands, request.tolerance_nm)
    count = open_product(request.ctx).count
    if config.reference_band > count:
        raise InputError(
            f"CTX band {config.reference_band} does not exist; {Path(request.ctx).name} has "
            f"{count} band(s)."
        )
    solved = register(
        request.ctx, request.crism, config, say=say, stage=stage, algorithm="marsspec:pairs"
    )
    reference, target, window = solved.reference, solved.target, solved.window
    coreg = solved.result
    coreg.messages = messages
    all_names = _band_names(target)
    names = [all_names[b - 1] for b in bands]
    wavelengths = [target.wavelengths_nm[b - 1] for b in bands]
    units = target.units or "I/F"
    width, height = int(window.width), int(window.height)
    if min(width, height) < 32:
        say(
            f"The pair is only {width} x {height} CTX px; training patches need at least the "
            "config's patch_size (128 px by default)."
        )
    scene = request.scene
    created = _make_folders(scene)
    try:
        outputs = request.output_set()
        size = width * height * (4 * len(bands) + np.dtype(reference.dtype).itemsize)
        outputs.require_space(size, "the training pair", at_least=size // 20)
        tags = {**solved.tags, "MARSSPEC_PAIR": scene.name}
        with outputs:  # ctx.tif, crism_target.tif and pair.json published together
            valid = apply_mod.write_corrected_target(
                outputs.temp("TARGET"),
                reference,
                target,
                window,
                solved.correction,
                config.block_rows,
                {**tags, "MARSSPEC_ROLE": "training target: CRISM on the CTX grid"},
                all_names,
                lambda f: stage(0.65 + 0.3 * f),
                is_cancelled,
                bands=bands,
            )
            if valid <= 0.0:
                raise InputError(
                    f"The co-registered CRISM {target.path.name} covers no pixel of the CTX "
                    "window; check that both products show the same ground."
                )
            stage(0.95)
            apply_mod.write_reference_cutout(
                outputs.temp("CTX"),
                reference,
                window,
                config.block_rows,
                {**tags, "MARSSPEC_ROLE": "training input: CTX cut-out of the pair"},
                is_cancelled,
                bands=[config.reference_band],
            )
            result = PairsResult(
                scene=scene,
                ctx_band=config.reference_band,
                target_bands=bands,
                band_names=[_plain_name(n, w) for n, w in zip(names, wavelengths, strict=True)],
                wavelengths_nm=wavelengths,
                units=units,
                valid_fraction=valid,
                width=width,
                height=height,
                coregistration=coreg,
                messages=messages,
            )
            outputs.temp("PROVENANCE").write_text(
                json.dumps(_provenance(request, result, reference, target), indent=2) + "\n"
            )
            stage(0.99)
    except BaseException:
        _remove_empty(created)
        raise
    result.outputs = dict(outputs.finals)
    result.seconds = time.perf_counter() - start
    coreg.seconds = result.seconds
    coreg.valid_fraction = valid
    say(
        f"Pair {scene.name}: {width} x {height} px, {len(bands)} target band(s) "
        f"({', '.join(result.band_names)}), {valid:.0%} inside the CRISM footprint; "
        f"co-registration: {coreg.summary_text()}."
    )
    if progress is not None:
        progress(1.0)
    return result


def _plain_name(description: str, wavelength: float | None) -> str:
    """'R2529' stays; 'band 12 (2529.37 nm)' (a product without band names) becomes R2529."""
    if description.lower().startswith("band ") and wavelength is not None:
        return f"R{wavelength:.0f}"
    return description


def _make_folders(scene: Path) -> list[Path]:
    """Create the scene folder and missing parents; the ones made here, innermost last."""
    missing = []
    folder = scene
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    missing.reverse()
    for path in missing:
        try:
            path.mkdir()
        except OSError as exc:
            _remove_empty(missing[: missing.index(path)])
            raise InputError(
                f"Cannot create the scene folder {str(path)!r} ({exc.strerror or exc}); choose "
                "another --out."
            ) from exc
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()  # only when empty: nothing anyone put there is lost
        except OSError:
            break


def _provenance(request: PairsRequest, result: PairsResult, reference, target) -> dict:
    from marsspec.core.provenance import input_fingerprint
    from marsspec.core.version import __version__

    coreg = result.coregistration
    return {
        "marsspec_version": __version__,
        "algorithm": "marsspec:pairs (co-registration: marsspec:coregister)",
        "scene": result.scene.name,
        "files": {"input": CTX_NAME, "target": TARGET_NAME},
        "ctx": {
            "path": str(Path(request.ctx).absolute()),
            "fingerprint": input_fingerprint(reference.path),
            "band": result.ctx_band,
            "band_name": (reference.band_names[result.ctx_band - 1] or "")
            if result.ctx_band <= len(reference.band_names)
            else "",
        },
        "crism": {
            "path": str(Path(request.crism).absolute()),
            "fingerprint": input_fingerprint(target.path),
            "bands": result.target_bands,
            "requested_bands": list(request.bands),
            "tolerance_nm": request.tolerance_nm,
            "band_names": result.band_names,
            "wavelengths_nm": result.wavelengths_nm,
            "units": result.units,
        },
        "grid": {
            "width": result.width,
            "height": result.height,
            "crs": reference.crs.to_wkt(),
            "pixel_size_m": [abs(reference.transform.a), abs(reference.transform.e)],
        },
        "footprint": f"pixels outside the CRISM footprint are nodata (65535) in {TARGET_NAME}",
        "valid_fraction": result.valid_fraction,
        "coregistration": {
            k: (round(v, 6) if isinstance(v, float) else v)
            for k, v in coreg.summary().items()
            if k not in ("seconds", "valid_fraction")
        },
        "coregistration_parameters": request.config.to_dict(),
    }
