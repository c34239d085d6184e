"""Shared machinery of the bad-input suites (tests/test_bad_inputs_cli.py, *_qgis.py).

Every case runs in a fresh folder that holds copies of its inputs and a *sentinel* file at
every output path it names. The case's command must fail with one line that names the
problem, without a Python traceback, and leave the folder exactly as it was: no new file, no
``.marsspec-tmp-`` file, every pre-existing file byte-identical (issue 20, "Nothing lost,
ever").

Commands are subprocesses, so the cases of a module run two at a time (:class:`Batch`); each
test then only checks what its case left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.conftest import MARS_EQC, SHARED_DATA, write_mars_raster

TMP_TAG = ".marsspec-tmp-"
ISIS_NULL = -3.4028226550889045e38  # ISIS 32-bit NULL (the most negative special value)
ISIS_HIS = 3.4028234663852886e38  # ISIS high instrument saturation (the largest float32)
CASSIS_XML = SHARED_DATA / "cassis_framelets" / "CAS-MCO-2016-11-26T22.50.27.381-BLU-03005-B1.xml"
CRISM_ENVI = SHARED_DATA / "crism_mtrdr_browse_nili" / "frt00005acd_07_brtanj_mtr3"
NO_SHARED = f"real data folder {SHARED_DATA} is absent (a fresh clone); CI has it"


class StagingError(Exception):
    """Raised by a case's setup when the machine cannot stage the case (the test skips)."""


# ---- the inputs every case draws from --------------------------------------------------------
def make_materials(folder: Path) -> Path:
    """Small inputs, good and bad, made once per module; cases copy what they use."""
    import rasterio
    from rasterio.transform import from_origin

    from marsspec.core.simulator import SceneConfig, simulate_scene

    folder.mkdir(parents=True, exist_ok=True)
    simulate_scene(SceneConfig(seed=9100, size=128, site="gale", products=("ctx", "crism")), folder)
    with rasterio.open(folder / "ctx.tif") as src:
        ctx = src.read(1)
        nodata = src.nodata
    clean = np.where(ctx == nodata, np.nanmedian(ctx), ctx).astype("float32")

    # the CTX in Earth CRSs (a "CTX" exported with a wrong CRS)
    for name, crs, transform in (
        ("earth_4326.tif", "EPSG:4326", from_origin(137.40, -4.60, 1e-4, 1e-4)),
        ("earth_utm.tif", "EPSG:32633", from_origin(500_000.0, 5_000_000.0, 6.0, 6.0)),
    ):
        profile = dict(
            driver="GTiff", width=128, height=128, count=1, dtype="float32", crs=crs,
            transform=transform,
        )  # fmt: skip
        with rasterio.open(folder / name, "w", **profile) as dst:
            dst.write(clean[None])

    # broken files
    (folder / "zero.tif").write_bytes(b"")
    (folder / "text.tif").write_text("This is a text file, not a GeoTIFF.\n" * 20)
    full = write_mars_raster(
        folder / "full.tif", np.random.default_rng(1).random((256, 256)).astype("float32")
    )
    data = full.read_bytes()
    (folder / "truncated.tif").write_bytes(data[: len(data) // 2])
    (folder / "not_a_checkpoint.pt").write_text("not a checkpoint\n")

    # ISIS special values everywhere: nothing valid is left
    write_mars_raster(folder / "all_special.tif", np.full((96, 96), ISIS_NULL, "float32"))

    # ENVI: a header whose size does not match its data file (in both directions)
    envi = dict(
        driver="ENVI", width=128, height=128, count=1, dtype="float32", crs=MARS_EQC,
        transform=from_origin(4_600_020.0, -1_090_002.0, 6.0, 6.0),
    )  # fmt: skip
    for stem, samples in (("envi_wide", 140), ("envi_narrow", 100)):
        with rasterio.open(folder / f"{stem}.img", "w", **envi) as dst:
            dst.write(clean[None])
        header = folder / f"{stem}.hdr"
        text, count = re.subn(
            r"(?m)^samples\s*=\s*128\s*$", f"samples = {samples}", header.read_text()
        )
        assert count == 1, header.read_text()
        header.write_text(text)
        for extra in folder.glob(f"{stem}.img.aux.xml"):
            extra.unlink()

    # training configs
    (folder / "bad_yaml.yaml").write_text(
        "id: broken\ntask: spectra-regression\nbatch_size: [8, 16\nlr: 0.001\n"
    )
    (folder / "wrong_type.yaml").write_text(
        "id: typed\ntask: spectra-regression\nbatch_size: many\nmax_steps: 1\n"
    )
    return folder


# ---- one case ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """A bad input. ``argv`` may use ``{d}`` (the case folder) and ``{ro}`` (a read-only
    folder inside it, made by :func:`readonly_folder`); ``inputs`` are material names copied
    into the folder; ``sentinels`` the output paths (relative) given a sentinel before the
    run; ``expect`` a regular expression (case-insensitive) the error line must match."""

    id: str
    argv: tuple[str, ...]
    expect: str
    inputs: tuple[str, ...] = ()
    sentinels: tuple[str, ...] = ()
    setup: Callable[[Path, Path], None] | None = None  # (case folder, materials) -> None
    shared: bool = False  # needs ../shared/data

    @property
    def command(self) -> str:
        return self.argv[0]


@dataclass
class Outcome:
    case: Case
    folder: Path
    before: dict[str, tuple] = field(default_factory=dict)
    after: dict[str, tuple] = field(default_factory=dict)
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    skip: str | None = None
    setup_error: str | None = None
    seconds: float = 0.0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def sentinel_bytes(name: str) -> bytes:
    return f"marsspec sentinel for {name}: must survive every failure\n".encode() + os.urandom(64)


def prepare(case: Case, folder: Path, materials: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in case.inputs:
        target = folder / Path(name).name
        shutil.copyfile(materials / name, target)
    if case.setup is not None:
        case.setup(folder, materials)
    for name in case.sentinels:
        path = folder / name
        if not os.access(path.parent, os.W_OK):
            continue  # a read-only folder made by the setup (sentinels put in before)
        if not path.exists() and not path.is_symlink():
            path.write_bytes(sentinel_bytes(name))


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder`` (hidden ones too): files by sha256, links by target."""
    state: dict[str, tuple] = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = Path(root) / name
            rel = str(path.relative_to(folder))
            if path.is_symlink():
                state[rel] = ("link", os.readlink(path), _digest(path) if path.exists() else None)
            elif path.is_dir():
                state[rel] = ("dir",)
            else:
                state[rel] = ("file", _digest(path))
    return state


def _digest(path: Path) -> str | None:
    if path.is_dir():
        return "dir"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc}"


# ---- read-only folder (tests run as root, where chmod does not stop writing) -----------------
_CLEANUPS: dict[Path, list[Callable[[], None]]] = {}


def readonly_folder(path: Path, sentinels: tuple[str, ...] = ()) -> None:
    """A folder nobody can write to, holding sentinel files: a tmpfs mounted read-only when
    we are root (chmod does not stop root), else a folder with mode 0o500."""
    path.mkdir()
    if os.geteuid() != 0:
        for name in sentinels:
            (path / name).write_bytes(sentinel_bytes(name))
        path.chmod(0o500)
        _CLEANUPS.setdefault(path.parent, []).append(lambda: path.chmod(0o700))
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        # no mount allowed: point the folder at one the kernel refuses to root (no sentinel
        # can be put there, but the output folder is still one nobody can write to)
        path.rmdir()
        for candidate in ("/proc/sys", "/sys/fs", "/sys/kernel"):
            if os.path.isdir(candidate) and not os.access(candidate, os.W_OK):
                path.symlink_to(candidate, target_is_directory=True)
                return
        raise StagingError(
            "running as root, where chmod does not stop writing, a read-only tmpfs cannot be "
            f"mounted here ({mounted.stderr.strip()}) and no unwritable kernel folder exists"
        )
    _CLEANUPS.setdefault(path.parent, []).append(
        lambda: subprocess.run(["umount", "-l", str(path)], capture_output=True)
    )
    for name in sentinels:
        (path / name).write_bytes(sentinel_bytes(name))
    remount = subprocess.run(
        ["mount", "-o", "remount,ro", str(path)], capture_output=True, text=True
    )
    if remount.returncode != 0 or os.access(path, os.W_OK):
        raise StagingError(f"cannot make {path} read-only: {remount.stderr.strip()}")


def cleanup(folder: Path) -> None:
    for action in reversed(_CLEANUPS.pop(folder, [])):
        with contextlib.suppress(Exception):
            action()


# ---- running ----------------------------------------------------------------------------------
def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PROJ_DATA", "/usr/share/proj")
    env["PYTHONNOUSERSITE"] = "1"
    return env


def run_cli(argv: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "marsspec", *argv],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def execute(
    case: Case,
    root: Path,
    materials: Path,
    runner: Callable[[list[str], Path], subprocess.CompletedProcess],
) -> Outcome:
    import time

    folder = root / case.id
    outcome = Outcome(case, folder)
    if case.shared and not SHARED_DATA.is_dir():
        outcome.skip = NO_SHARED
        return outcome
    try:
        prepare(case, folder, materials)
        outcome.before = snapshot(folder)
        argv = [a.format(d=folder, ro=folder / "ro", m=materials) for a in case.argv]
        start = time.monotonic()
        try:
            completed = runner(argv, folder)
            outcome.returncode = completed.returncode
            outcome.stdout, outcome.stderr = completed.stdout, completed.stderr
        except subprocess.TimeoutExpired as exc:
            outcome.returncode = None
            outcome.stdout = _text(exc.stdout)
            outcome.stderr = _text(exc.stderr) + f"\n(timed out after {exc.timeout} s)"
        outcome.seconds = time.monotonic() - start
        outcome.after = snapshot(folder)
    except StagingError as skip:
        outcome.skip = str(skip)
    except Exception as exc:  # a broken case must fail its own test, not the whole batch
        import traceback

        outcome.setup_error = "".join(traceback.format_exception(exc))
    finally:
        cleanup(folder)
    return outcome


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class Batch:
    """Runs the selected cases of a module concurrently, the first time one is asked for."""

    def __init__(self, cases, root: Path, materials: Path, runner, selected: set[str], workers=2):
        self.cases = {c.id: c for c in cases}
        self.root, self.materials, self.runner = root, materials, runner
        self.selected = selected or set(self.cases)
        self.workers = workers
        self.outcomes: dict[str, Outcome] = {}

    def get(self, case_id: str) -> Outcome:
        if not self.outcomes:
            todo = [self.cases[i] for i in self.cases if i in self.selected]
            with ThreadPoolExecutor(self.workers) as pool:
                futures = {
                    c.id: pool.submit(execute, c, self.root, self.materials, self.runner)
                    for c in todo
                }
                self.outcomes = {i: f.result() for i, f in futures.items()}
        if case_id not in self.outcomes:
            self.outcomes[case_id] = execute(
                self.cases[case_id], self.root, self.materials, self.runner
            )
        return self.outcomes[case_id]


def selected_case_ids(request, test_name: str) -> set[str]:
    """The case ids of ``test_name`` that this pytest session collected (-k aware)."""
    ids = set()
    for item in request.session.items:
        if getattr(item, "originalname", None) == test_name and hasattr(item, "callspec"):
            case = item.callspec.params.get("case")
            if isinstance(case, Case):
                ids.add(case.id)
    return ids


# ---- the checks -------------------------------------------------------------------------------
def describe_changes(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    problems = []
    for name in sorted(set(after) - set(before)):
        kind = "temporary file" if TMP_TAG in name else "new file"
        problems.append(f"{kind} left: {name}")
    for name in sorted(set(before) - set(after)):
        problems.append(f"pre-existing file removed: {name}")
    for name in sorted(set(before) & set(after)):
        if before[name] != after[name]:
            problems.append(f"pre-existing file changed: {name} {before[name]} -> {after[name]}")
    return problems


def error_lines(outcome: Outcome, *, qgis: bool) -> list[str]:
    if qgis:
        # qgis_process repeats the exception text around one "ERROR:" line of its own;
        # "ERROR 1: ..." lines are GDAL's, printed by QGIS's own layer loading (the same
        # lines come from native:rasterlayerproperties), before marsspec runs
        return [line for line in outcome.output.splitlines() if line.startswith("ERROR:")]
    return [line for line in outcome.stderr.splitlines() if "error" in line.lower()]


def check(outcome: Outcome, *, qgis: bool = False) -> None:
    """The contract of issue 20 for one failed run."""
    import pytest

    if outcome.skip:
        pytest.skip(outcome.skip)
    case = outcome.case
    if outcome.setup_error:
        pytest.fail(f"[{case.id}] the case could not be staged:\n{outcome.setup_error}")
    shown = f"\n--- stdout\n{outcome.stdout[-3000:]}\n--- stderr\n{outcome.stderr[-3000:]}"
    problems: list[str] = []
    if outcome.returncode == 0:
        problems.append("exit status 0 (must fail)")
    elif outcome.returncode is None:
        problems.append("timed out")
    if qgis and outcome.returncode == 0 and "ERROR" in outcome.output:
        problems.pop()  # reported as failed; the exit status alone is not the contract
    if "Traceback" in outcome.output:
        problems.append("a Python traceback was printed")
    lines = error_lines(outcome, qgis=qgis)
    if len(lines) != 1:
        problems.append(f"{len(lines)} error lines (want exactly 1): {lines[:4]}")
    # match the words of the message, not the case's folder name ("...-missing/...")
    words = lines[0].replace(str(outcome.folder), "<folder>") if lines else ""
    if lines and not re.search(case.expect, words, re.IGNORECASE):
        problems.append(f"error line does not match /{case.expect}/: {lines[0]!r}")
    if lines and not qgis and not lines[0].startswith(f"marsspec {case.command}: error:"):
        problems.append(f"error line is not 'marsspec {case.command}: error: ...': {lines[0]!r}")
    after = dict(outcome.after)
    if qgis:
        for name in qgis_sidecars(outcome):
            after.pop(name)
    problems += describe_changes(outcome.before, after)
    if problems:
        pytest.fail(f"[{case.id}] " + "; ".join(problems) + shown, pytrace=False)


def qgis_sidecars(outcome: Outcome) -> list[str]:
    """New ``<input>.aux.xml`` files that QGIS itself writes when it loads an input layer
    (GDAL statistics for its default renderer; native:rasterlayerproperties writes the same):
    not an output of marsspec, so a QGIS case tolerates them and nothing else."""
    found = []
    for name in outcome.after:
        base = name[: -len(".aux.xml")]
        if (
            name.endswith(".aux.xml")
            and name not in outcome.before
            and outcome.before.get(base, ("",))[0] == "file"
            and base.split("/")[-1] in {Path(i).name for i in outcome.case.inputs}
            and (outcome.folder / name).is_file()
            and (outcome.folder / name).read_bytes().lstrip().startswith(b"<PAMDataset>")
        ):
            found.append(name)
    return found


def failure_line(outcome: Outcome, *, qgis: bool = False) -> str:
    """The one line a report shows for a case (its error line, or what went wrong)."""
    lines = error_lines(outcome, qgis=qgis)
    return lines[0] if lines else (outcome.stderr.strip().splitlines() or ["<no output>"])[-1]


@contextlib.contextmanager
def tmpfs(size: str) -> Iterator[Path]:
    """A fresh tmpfs of ``size`` (root only); skips the test with the reason if mounting fails."""
    import pytest

    folder = Path(tempfile.mkdtemp(prefix="marsspec-tmpfs-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a {size} tmpfs here: {mounted.stderr.strip() or 'not root'}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        with contextlib.suppress(OSError):
            folder.rmdir()
