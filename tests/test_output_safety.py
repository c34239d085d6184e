"""Output safety (issue 20, "Nothing lost, ever"): a full disk, SIGTERM and Ctrl-C leave no
temporary file and every pre-existing output as it was; core.io.safety's OutputSet refuses
unsafe output paths up front and publishes all outputs or none; and no job writes a raster or
vector file except through it (a static check over the sources)."""

from __future__ import annotations

import ast
import hashlib
import importlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs import TMP_TAG, cli_env, snapshot, tmpfs
from tests.conftest import REPO_ROOT, write_mars_raster


def texture(size: int, seed: int = 0) -> np.ndarray:
    """A smooth random float32 'CTX' (no simulator needed for a big scene)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    return (0.1 + 0.3 * gaussian_filter(rng.random((size, size)), 3)).astype("float32")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TMP_TAG in p.name or ".marsspec-" in p.name)


# ---- disk full -------------------------------------------------------------------------------
def test_predict_onto_a_full_disk_keeps_the_old_output(tmp_path):
    scene = write_mars_raster(tmp_path / "ctx512.tif", texture(512))
    with tmpfs("200k") as disk:
        out = disk / "evc.tif"
        out.write_bytes(b"the previous result, which must survive\n" * 20)
        before = snapshot(disk)
        completed = subprocess.run(
            [sys.executable, "-m", "marsspec", "predict", str(scene), str(out), "--device", "cpu"],
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        after = snapshot(disk)
    text = completed.stdout + completed.stderr
    assert completed.returncode != 0, text
    assert "Traceback" not in text, text
    errors = [line for line in completed.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, completed.stderr
    assert errors[0].startswith("marsspec predict: error:"), errors[0]
    assert any(w in errors[0].lower() for w in ("space", "disk", "full")), errors[0]
    assert after == before, f"{before} -> {after}"  # sentinel byte-identical, nothing left


def test_gdal_short_write_on_a_full_disk_is_an_error(tmp_path):
    """Past any up-front check: GDAL only *logs* a short write; create_raster must raise."""
    from marsspec.core.errors import RasterIOError
    from marsspec.core.io.safety import OutputSet, create_raster

    with tmpfs("200k") as disk:
        out = disk / "big.tif"
        out.write_bytes(b"sentinel\n" * 10)
        before = snapshot(disk)
        profile = {**_profile(), "width": 512, "height": 512}
        data = np.random.default_rng(0).random((1, 512, 512)).astype("float32")
        with (
            pytest.raises(RasterIOError, match=r"(?i)space|disk|full"),
            OutputSet({"OUTPUT": out}) as outputs,
            create_raster(outputs.temp("OUTPUT"), **profile) as dst,
        ):
            dst.write(data)
        assert snapshot(disk) == before


# ---- SIGTERM and SIGINT during a run ---------------------------------------------------------
def _reader(stream, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    stream.close()


def test_sigterm_and_sigint_during_predict_leave_nothing(tmp_path):
    scene = write_mars_raster(tmp_path / "ctx1536.tif", texture(1536, seed=3))
    runs = {}
    for name, sig, code in (("term", signal.SIGTERM, 143), ("int", signal.SIGINT, 130)):
        folder = tmp_path / name
        folder.mkdir()
        out, browse = folder / "evc.tif", folder / "browse.tif"
        out.write_bytes(b"previous evc result\n" * 50)
        browse.write_bytes(b"previous browse\n" * 50)
        before = snapshot(folder)
        proc = subprocess.Popen(
            [sys.executable, "-m", "marsspec", "predict", str(scene), str(out), "--browse",
             str(browse), "--device", "cpu", "--batch-size", "2"],
            env={**cli_env(), "OMP_NUM_THREADS": "1"},  # two at once: one core each
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stderr, lines), daemon=True).start()
        runs[name] = dict(
            proc=proc, sig=sig, code=code, folder=folder, before=before, lines=lines, err=[]
        )
    # wait until both show progress (they are tiling, temporaries open), then signal each
    deadline = time.monotonic() + 120
    pending = set(runs)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            run = runs[name]
            try:
                line = run["lines"].get(timeout=0.1)
            except queue.Empty:
                if run["proc"].poll() is not None:
                    pytest.fail(f"{name}: predict ended before the signal: {run['err']}")
                continue
            run["err"].append(line)
            if "%" in line and line.startswith("predict"):
                time.sleep(0.5)
                run["staged"] = leftovers(run["folder"])
                run["proc"].send_signal(run["sig"])
                pending.discard(name)
    assert not pending, f"no progress within 120 s: {[runs[n]['err'] for n in pending]}"
    for name, run in runs.items():
        proc = run["proc"]
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"{name}: predict did not stop within 60 s of the signal")
        time.sleep(0.2)  # the reader thread drains the rest
        while not run["lines"].empty():
            run["err"].append(run["lines"].get())
        stderr = "".join(run["err"]) + proc.stdout.read()
        assert proc.returncode == run["code"], (name, proc.returncode, stderr)
        assert "Traceback" not in stderr, stderr
        assert leftovers(run["folder"]) == [], (name, leftovers(run["folder"]))
        assert snapshot(run["folder"]) == run["before"], name
        # the signal really came while outputs were being written
        assert run["staged"], f"{name}: no temporary file existed when the signal was sent"


# ---- OutputSet ------------------------------------------------------------------------------
@pytest.fixture()
def raster(tmp_path) -> Path:
    return write_mars_raster(tmp_path / "in.tif", texture(32))


def _profile():
    from rasterio.transform import Affine

    return dict(
        driver="GTiff", width=32, height=32, count=1, dtype="float32",
        crs="+proj=eqc +R=3396190 +units=m +no_defs", transform=Affine(6, 0, 0, 0, -6, 0),
    )  # fmt: skip


def _write(path: Path, value: float = 1.0) -> None:
    from marsspec.core.io.safety import create_raster

    with create_raster(path, **_profile()) as dst:
        dst.write(np.full((1, 32, 32), value, "float32"))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda d, r: {"OUTPUT": r}, "is the input"),
        (lambda d, r: {"OUTPUT": _hardlink(r, d / "hard.tif")}, "is the input"),
        (lambda d, r: {"OUTPUT": _symlink(r, d / "soft.tif")}, "is the input"),
        (lambda d, r: {"OUTPUT": d / "a.tif", "BROWSE": d / "a.tif"}, "same file"),
        (lambda d, r: {"OUTPUT": d / "a.tif", "BROWSE": _symlink(d / "a.tif", d / "b.tif")},
         "same file"),
        (lambda d, r: {"OUTPUT": _folder(d / "dir.tif")}, "folder"),
        (lambda d, r: {"OUTPUT": d / "a.png"}, "extension"),
        (lambda d, r: {"OUTPUT": d / "a"}, "no extension"),
        (lambda d, r: {"OUTPUT": d / "missing" / "a.tif"}, "does not exist"),
        (lambda d, r: {"OUTPUT": d / "a.tif", "POINTS": d / "p.shp"}, "GeoPackage"),
    ],
    ids=["same-path", "hard-link", "symlink", "duplicate", "duplicate-via-link", "folder",
         "png", "no-extension", "missing-folder", "points-not-gpkg"],
)  # fmt: skip
def test_output_set_refuses_before_touching_anything(tmp_path, raster, make, match):
    from marsspec.core.errors import InputError
    from marsspec.core.io.safety import OutputSet

    folder = tmp_path / "out"
    folder.mkdir()
    outputs = make(folder, raster)
    for path in outputs.values():
        if not path.exists() and path.parent.is_dir() and not path.is_symlink():
            path.write_bytes(b"sentinel\n")
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match=match):
        OutputSet(outputs, inputs=[raster], kinds={"POINTS": "vector"})
    assert snapshot(tmp_path) == before


def _hardlink(src: Path, dst: Path) -> Path:
    os.link(src, dst)
    return dst


def _symlink(src: Path, dst: Path) -> Path:
    if not src.exists():
        src.write_bytes(b"sentinel\n")
    dst.symlink_to(src)
    return dst


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def test_unwritable_folder_is_refused(tmp_path, raster):
    from marsspec.core.errors import InputError
    from marsspec.core.io.safety import OutputSet
    from tests.bad_inputs import StagingError, cleanup, readonly_folder

    try:
        readonly_folder(tmp_path / "ro", ("browse.tif",))
        before = snapshot(tmp_path)
        with pytest.raises(InputError, match="not writable"):
            OutputSet(
                {"OUTPUT": tmp_path / "evc.tif", "BROWSE": tmp_path / "ro" / "browse.tif"},
                inputs=[raster],
            )
        assert snapshot(tmp_path) == before
    except StagingError as reason:
        pytest.skip(str(reason))
    finally:
        cleanup(tmp_path)


def test_temporaries_are_hidden_siblings(tmp_path):
    from marsspec.core.io.safety import OutputSet

    with OutputSet({"OUTPUT": tmp_path / "evc.tif"}) as outputs:
        temp = outputs.temp("OUTPUT")
        assert temp.parent == tmp_path
        assert temp.name.startswith(".evc" + TMP_TAG) and temp.suffix == ".tif"
        _write(temp)
        assert (tmp_path / "evc.tif").exists() is False  # nothing published yet
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evc.tif"]


def test_publish_is_all_or_nothing_when_a_writer_fails(tmp_path):
    from marsspec.core.io.safety import OutputSet, create_raster

    first, second = tmp_path / "evc.tif", tmp_path / "browse.tif"
    first.write_bytes(b"old evc\n")
    second.write_bytes(b"old browse\n")
    before = snapshot(tmp_path)
    with (
        pytest.raises(RuntimeError, match="writer failed"),
        OutputSet({"OUTPUT": first, "BROWSE": second}) as outputs,
    ):
        _write(outputs.temp("OUTPUT"))  # complete
        with create_raster(outputs.temp("BROWSE"), **_profile()) as dst:
            dst.write(np.zeros((1, 32, 32), "float32"))
            raise RuntimeError("writer failed")
    assert snapshot(tmp_path) == before  # first output untouched, no temporary left


def test_publish_replaces_every_output_together(tmp_path):
    import rasterio

    from marsspec.core.io.safety import OutputSet

    first, second = tmp_path / "evc.tif", tmp_path / "browse.tif"
    first.write_bytes(b"old evc\n")
    with OutputSet({"OUTPUT": first, "BROWSE": second}) as outputs:
        _write(outputs.temp("OUTPUT"), 1.0)
        _write(outputs.temp("BROWSE"), 2.0)
    assert outputs.published
    assert sorted(p.name for p in tmp_path.iterdir()) == ["browse.tif", "evc.tif"]
    with rasterio.open(first) as a, rasterio.open(second) as b:
        assert a.read(1)[0, 0] == 1.0 and b.read(1)[0, 0] == 2.0


def test_failed_rename_restores_the_backup(tmp_path, monkeypatch):
    from marsspec.core.errors import RasterIOError
    from marsspec.core.io.safety import OutputSet

    first, second = tmp_path / "a.tif", tmp_path / "b.tif"
    first.write_bytes(b"old a\n")
    second.write_bytes(b"old b\n")
    before = snapshot(tmp_path)
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst, *args, **kwargs):
        calls.append((Path(src).name, Path(dst).name))
        if TMP_TAG in Path(src).name and Path(dst) == second:
            raise OSError(28, "No space left on device (simulated)")
        return real_replace(src, dst, *args, **kwargs)

    with pytest.raises(RasterIOError), OutputSet({"A": first, "B": second}) as outputs:
        _write(outputs.temp("A"), 1.0)
        _write(outputs.temp("B"), 2.0)
        monkeypatch.setattr(os, "replace", flaky_replace)
    monkeypatch.setattr(os, "replace", real_replace)
    assert any(dst == "a.tif" for _src, dst in calls), calls  # a.tif had been replaced...
    assert snapshot(tmp_path) == before  # ...and was restored; nothing else left


def test_create_raster_refuses_a_path_outside_an_output_set(tmp_path):
    from marsspec.core.io.safety import create_raster

    with (
        pytest.raises(RuntimeError, match="OutputSet"),
        create_raster(tmp_path / "direct.tif", **_profile()),
    ):
        pass
    assert list(tmp_path.iterdir()) == []


def test_exception_inside_the_block_removes_gdal_sidecars(tmp_path):
    from marsspec.core.io.safety import OutputSet

    with pytest.raises(KeyboardInterrupt), OutputSet({"OUTPUT": tmp_path / "x.tif"}) as outputs:
        temp = outputs.temp("OUTPUT")
        _write(temp)
        Path(str(temp) + ".aux.xml").write_text("<PAMDataset/>")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


# ---- no job writes outside the safety mechanism -----------------------------------------------
WRITE_MODES = {"w", "w+", "r+", "a"}
CREATORS = {"Create", "CreateCopy", "CreateDataSource"}
ALLOWED = {"core/io/safety.py"}


def _modules() -> list[Path]:
    roots = [REPO_ROOT / name for name in ("core", "training", "marsspec_plugin", "cli")]
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*.py"))


def _rasterio_open_names(tree: ast.Module) -> set[str]:
    """Local names bound to rasterio.open (``from rasterio import open as ropen``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "rasterio":
            names |= {a.asname or a.name for a in node.names if a.name == "open"}
    return names


def _is_rasterio_open(func: ast.expr, aliases: set[str]) -> bool:
    if isinstance(func, ast.Attribute) and func.attr == "open":
        return isinstance(func.value, ast.Name) and func.value.id == "rasterio"
    return isinstance(func, ast.Name) and func.id in aliases


def _mode(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "mode":
            return keyword.value
    return call.args[1] if len(call.args) > 1 else None


def _staged_before(function: ast.AST | None, line: int) -> bool:
    if function is None:
        return False
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and node.lineno <= line:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "require_staged":
                return True
    return False


def writes_outside_safety(path: Path) -> list[str]:
    rel = path.relative_to(REPO_ROOT).as_posix()
    if rel in ALLOWED:
        return []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    aliases = _rasterio_open_names(tree)
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def enclosing_function(node: ast.AST) -> ast.AST | None:
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
        return None

    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if _is_rasterio_open(node.func, aliases):
            mode = _mode(node)
            if mode is None:
                continue
            if not isinstance(mode, ast.Constant):
                found.append(f"{rel}:{node.lineno}: rasterio.open with a computed mode")
            elif str(mode.value) in WRITE_MODES:
                found.append(f"{rel}:{node.lineno}: rasterio.open(..., {mode.value!r})")
        elif isinstance(node.func, ast.Attribute) and node.func.attr in CREATORS:
            if not _staged_before(enclosing_function(node), node.lineno):
                found.append(f"{rel}:{node.lineno}: .{node.func.attr}( without require_staged")
    return found


def test_no_module_writes_a_dataset_outside_core_io_safety():
    modules = _modules()
    assert len(modules) > 50, modules
    found = [hit for path in modules for hit in writes_outside_safety(path)]
    assert found == [], "write through marsspec.core.io.safety instead:\n" + "\n".join(found)


def test_the_static_check_catches_what_it_looks_for(tmp_path, monkeypatch):
    """The checker itself finds a write mode, an alias, a computed mode and a bare Create."""
    import tests.test_output_safety as me

    fake_root = tmp_path
    (fake_root / "core").mkdir()
    bad = fake_root / "core" / "bad.py"
    bad.write_text(
        "import rasterio\nfrom rasterio import open as ropen\n"
        "def f(p, m, drv):\n"
        "    rasterio.open(p, 'w', driver='GTiff')\n"
        "    ropen(p, mode='r+')\n"
        "    rasterio.open(p, m)\n"
        "    drv.CreateDataSource(p)\n"
        "    rasterio.open(p)\n"
        "def g(p, drv):\n"
        "    require_staged(p)\n"
        "    drv.Create(p, 1, 1)\n"
    )
    monkeypatch.setattr(me, "REPO_ROOT", fake_root)
    hits = me.writes_outside_safety(bad)
    assert [h.split(":")[1] for h in hits] == ["4", "5", "6", "7"], hits


JOB_MODULES = (
    "marsspec.core.spectral.job",
    "marsspec.core.superres.job",
    "marsspec.core.coreg.pipeline",
    "marsspec.core.tiling.engine",
    "marsspec.core.io.safety",
)


@pytest.mark.parametrize("name", JOB_MODULES)
def test_job_modules_import(name):
    module = importlib.import_module(name)
    assert module.__file__ and Path(module.__file__).is_file()
