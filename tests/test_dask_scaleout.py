"""Scale-out on a real Dask cluster (core/scaleout): a `dask scheduler` and `dask worker`
processes on 127.0.0.1, no mocks. Prediction and super-resolution in blocks are identical to
the single-process engine; a killed worker's blocks are rerun; an interrupted run resumes; a
bad input in a batch fails by name while the others finish.

Identity is tested at batch size 1 and one torch thread, as the workers run: the network's
output for one patch then does not depend on which patches share its batch or on how oneDNN
splits its sums over threads (either alone moves the single-process engine's own result by
~3e-6 on z-scores up to ~5), so any difference left would be the blocking's.
Rasters are small and blocks tiny (several blocks per raster).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio

from marsspec.core import jobs
from marsspec.core.scaleout import ScaleoutOptions, run_scaled
from marsspec.core.scaleout.cluster import worker_environment_variable
from marsspec.core.spectral import PredictRequest
from marsspec.core.superres.job import SuperresConfig, SuperresRequest
from tests.conftest import write_mars_raster

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # real clusters: about 2 minutes on 2 cores in all

DASK = Path(sys.executable).with_name("dask")
ROOT = Path(__file__).resolve().parents[1]
BLOCK = 384  # 600 x 700 px -> 2 x 2 blocks with patches of 256 at stride 128


def _scene(path: Path, height: int = 600, width: int = 700, seed: int = 1) -> Path:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    smooth = gaussian_filter(rng.normal(0, 1, (height, width)), 6) * 400
    data = (200 + smooth + rng.normal(0, 5, (height, width))).astype("float32")
    data[:40, :90] = -1  # nodata in a corner: NaN masks must match too
    return write_mars_raster(path, data, nodata=-1)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()


def _assert_same(blocked: Path, single: Path, atol: float) -> float:
    a, b = _read(blocked), _read(single)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.isfinite(b).sum() > 0.5 * b.size
    diff = float(np.nanmax(np.abs(a - b)))
    assert diff <= atol, diff
    return diff


def _start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    handle = open(log, "w")  # noqa: SIM115 - closed with the process
    environ = {**os.environ, **(env or {})}
    return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env=environ)


def _worker(
    scheduler_file: Path, log: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    return _start(
        [str(DASK), "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
         "--host", "127.0.0.1", "--no-dashboard", "--memory-limit", "0", *extra],
        log,
        env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers, each its own process, as on a real cluster."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("cluster")
    scheduler_file = folder / "scheduler.json"
    processes = [
        _start(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file)],
            folder / "scheduler.log",
        )
    ]  # fmt: skip
    for _ in range(60):
        if scheduler_file.is_file() and scheduler_file.stat().st_size:
            break
        time.sleep(0.5)
    # worker 0 as docs/scaling.md tells users to start it, worker 1 with Dask's own settings
    name, value = worker_environment_variable()
    processes += [_worker(scheduler_file, folder / "worker0.log", env={name: value})]
    processes += [_worker(scheduler_file, folder / "worker1.log")]
    with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
        client.wait_for_workers(2, timeout=120)
        address = client.scheduler.address
    yield {"address": address, "file": scheduler_file, "folder": folder}
    for process in reversed(processes):
        process.send_signal(signal.SIGINT)  # the dask CLIs close at once on SIGINT
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A 600 x 700 CTX-like raster and its single-process prediction (batch 1, 1 thread)."""
    folder = tmp_path_factory.mktemp("scene")
    source = _scene(folder / "ctx.tif")
    with one_torch_thread():
        request = PredictRequest(
            input=source, output=folder / "single_b1.tif", device="cpu", batch_size=1
        )
        jobs.run(request)
    return folder


@contextlib.contextmanager
def one_torch_thread():
    """The reference with one torch thread, as each worker runs: oneDNN's sums depend on the
    thread count (1 vs 2 threads moves a single-process result by ~3e-6 too)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _predict(scene: Path, out: Path, **kwargs) -> PredictRequest:
    return PredictRequest(input=scene / "ctx.tif", output=out, device="cpu", batch_size=1, **kwargs)


def test_prediction_on_separate_processes_is_identical(cluster, scene, tmp_path):
    logs: list[str] = []
    fractions: list[float] = []
    result = run_scaled(
        [_predict(scene, tmp_path / "evc.tif")],
        ScaleoutOptions(cluster["address"], block=BLOCK),
        log=logs.append,
        progress=fractions.append,
    )
    assert result.failed == [] and result.workers >= 2
    out = result.outputs
    assert out["OUTPUT"] == tmp_path / "evc.tif" and out["OUTPUT_VRT"] == tmp_path / "evc.vrt"
    product = result.products[0]
    assert product.blocks == 4 and product.reused == 0
    assert len({r.worker for r in product.reports}) == 2  # both worker processes took blocks
    assert fractions[-1] == pytest.approx(1.0) and fractions == sorted(fractions)
    single = scene / "single_b1.tif"
    _assert_same(out["OUTPUT"], single, 1e-6)  # the COG
    _assert_same(out["OUTPUT_VRT"], single, 1e-6)  # the VRT over the block GeoTIFFs
    with rasterio.open(out["OUTPUT"]) as cog, rasterio.open(single) as one:
        assert cog.overviews(1), "the COG has internal overviews"
        assert cog.crs == one.crs and cog.transform == one.transform
        assert cog.descriptions == one.descriptions
        tags, want = cog.tags(), one.tags()
        for key, value in want.items():
            assert tags.get(key) == value, key  # the same provenance as one process...
        assert tags["MARSSPEC_SCALEOUT_SCHEDULER"] == cluster["address"]  # ...plus the layout
        assert "4 block(s) (2x2) of 384 px" in tags["MARSSPEC_SCALEOUT"]
    vrt_text = out["OUTPUT_VRT"].read_text()
    assert 'relativeToVRT="1">evc.blocks/r0000_c0000.tif' in vrt_text
    with rasterio.open(tmp_path / "evc.blocks" / "r0001_c0001.tif") as block:
        assert block.tags()["MARSSPEC_INPUT"] == want["MARSSPEC_INPUT"]
        assert "rows 384-600" in block.tags()["MARSSPEC_BLOCK"]
    assert not [p for p in tmp_path.rglob(".*marsspec-tmp*")], "no staged file left"


def test_a_gdal_virtual_path_input_runs_in_blocks(cluster, scene, tmp_path):
    """An input GDAL reads through a virtual file system, as object storage (/vsis3/...) is
    read on a cluster: here a zip archive every worker sees, /vsizip/{/abs/a.zip}/ctx.tif.
    Identical to the single-process run of the plain file; a missing member fails by name."""
    import zipfile

    archive = tmp_path / "ctx.zip"
    with zipfile.ZipFile(archive, "w") as bundle:  # stored, so GDAL reads the GeoTIFF in place
        bundle.write(scene / "ctx.tif", "ctx.tif")
    virtual = f"/vsizip/{{{archive}}}/ctx.tif"
    missing = f"/vsizip/{{{archive}}}/nothere.tif"
    requests = [
        PredictRequest(input=virtual, output=tmp_path / "evc.tif", device="cpu", batch_size=1),
        PredictRequest(input=missing, output=tmp_path / "no.tif", device="cpu", batch_size=1),
    ]
    result = run_scaled(requests, ScaleoutOptions(cluster["address"], block=BLOCK))
    assert result.products[0].error is None and result.products[0].blocks == 4
    _assert_same(tmp_path / "evc.tif", scene / "single_b1.tif", 1e-6)
    [failed] = result.failed
    assert "nothere.tif" in failed.error and "through GDAL" in failed.error
    assert not (tmp_path / "no.tif").exists()


def test_bin_confidence_alone_on_separate_processes_is_identical(cluster, scene, tmp_path):
    """What QGIS's binconfidence sends with a Dask scheduler: no predicted bands, only the
    confidence of a bin model (one band per predicted band + the overall band)."""
    request = PredictRequest(
        input=scene / "ctx.tif",
        output=None,
        confidence=tmp_path / "conf.tif",
        confidence_measure="entropy",
        model="evc-bins20",
        device="cpu",
        batch_size=1,
    )
    result = run_scaled([request], ScaleoutOptions(cluster["address"], block=BLOCK))
    assert result.failed == []
    assert set(result.outputs) == {"CONFIDENCE", "CONFIDENCE_VRT"}
    single = tmp_path / "single_conf.tif"
    with one_torch_thread():
        jobs.run(dataclasses.replace(request, confidence=single))
    _assert_same(result.outputs["CONFIDENCE"], single, 1e-6)
    with rasterio.open(result.outputs["CONFIDENCE"]) as cog, rasterio.open(single) as one:
        assert cog.count == one.count == 4 and cog.descriptions == one.descriptions
        assert cog.tags()["MARSSPEC_MODEL_ID"] == one.tags()["MARSSPEC_MODEL_ID"] == "evc-bins20"
    visible = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert visible == ["conf.blocks", "conf.tif", "conf.vrt", "single_conf.tif"]


def test_superresolution_on_separate_processes_is_identical(cluster, tmp_path):
    source = _scene(tmp_path / "img.tif", 120, 150, seed=5)
    # crop blending (large tiles, margins discarded): the window-border rule of layout.py
    config = SuperresConfig(device="cpu", batch_size=1, patch=64, blending="crop", margin=8)
    with one_torch_thread():
        jobs.run(SuperresRequest(source, tmp_path / "single.tif", config))
    result = run_scaled(
        [SuperresRequest(source, tmp_path / "sr.tif", config)],
        ScaleoutOptions(cluster["address"], block=96),
    )
    assert result.failed == []
    assert result.products[0].blocks == 4  # 120 x 150 LR px, blocks of 96 (stride 48)
    diff = _assert_same(result.outputs["OUTPUT"], tmp_path / "single.tif", 1e-6)
    assert diff <= 1e-6
    with rasterio.open(result.outputs["OUTPUT"]) as sr:
        assert (sr.width, sr.height) == (600, 480)
        assert sr.tags()["MARSSPEC_SR_NORMALISATION"].startswith("robust")


def test_killed_worker_blocks_are_rerun(cluster, scene, tmp_path):
    """A third worker joins, takes a block, and is killed (SIGKILL) while predicting it; the
    scheduler reruns its block on the others and the output is complete and identical."""
    from distributed import Client

    victim = _worker(cluster["file"], tmp_path / "victim.log", "--no-nanny", "--name", "victim")
    killed: dict[str, object] = {}
    with Client(cluster["address"], timeout="30s") as observer:
        observer.wait_for_workers(3, timeout=120)
        address = next(a for a, w in observer.scheduler_info()["workers"].items()
                       if w.get("name") == "victim")  # fmt: skip

        def kill_when_busy() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and "block" not in killed:
                busy = [k for k in observer.processing().get(address, ()) if "-block-" in k]
                if busy:
                    time.sleep(1.0)  # well inside the block: the job is running
                    victim.send_signal(signal.SIGKILL)
                    killed["block"] = busy[0]
                    return
                time.sleep(0.05)

        watcher = threading.Thread(target=kill_when_busy)
        watcher.start()
        result = run_scaled(
            [_predict(scene, tmp_path / "evc.tif")],
            ScaleoutOptions(cluster["address"], block=BLOCK),
        )
        watcher.join()
    victim.wait(timeout=30)
    assert "block" in killed, "the victim never got a block"
    assert result.failed == []
    reports = {r.name: r for r in result.products[0].reports}
    assert len(reports) == 4
    block = str(killed["block"]).split("-block-")[1].rsplit("-", 1)[0].split("-", 1)[1]
    assert reports[block].worker != address  # the killed block was rerun on another worker
    _assert_same(result.outputs["OUTPUT"], scene / "single_b1.tif", 1e-6)


def _manifest_blocks(path: Path) -> int:
    try:
        return max(0, len(path.read_text().splitlines()) - 1)
    except OSError:
        return 0


def test_interrupted_cli_run_resumes(cluster, scene, tmp_path):
    """`marsspec predict --dask ADDRESS`, interrupted (SIGINT) after a block, then run again:
    the finished blocks are reused (their files untouched) and the result is complete.
    (`--dask local:N` through the command line: tests/test_dask_qgis.py starts one in QGIS.)"""
    out = tmp_path / "evc.tif"
    command = [
        sys.executable, "-m", "marsspec", "predict", str(scene / "ctx.tif"), str(out),
        "--device", "cpu", "--batch-size", "1", "--dask", cluster["address"],
        "--block-size", str(BLOCK),
        "--no-cog",
    ]  # fmt: skip
    manifest = tmp_path / "evc.blocks" / "manifest.jsonl"
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while _manifest_blocks(manifest) < 1 and time.monotonic() < deadline:
        assert first.poll() is None, first.communicate()
        time.sleep(0.1)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert not out.with_suffix(".vrt").exists()
    done = _manifest_blocks(manifest)
    assert 1 <= done < 4, (done, err)
    recorded = [json.loads(line)["block"] for line in manifest.read_text().splitlines()[1:]]
    # only recorded blocks are reused: one still running at the interrupt may have been
    # written after it without being recorded, and is computed again
    kept = {f"{n}.tif": (tmp_path / "evc.blocks" / f"{n}.tif").stat().st_mtime_ns for n in recorded}
    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"{done} finished block(s) reused" in second.stdout + second.stderr, (
        second.stdout + second.stderr
    )
    for name, mtime in kept.items():
        assert (tmp_path / "evc.blocks" / name).stat().st_mtime_ns == mtime, name
    assert f"output={out.with_suffix('.vrt')}" in second.stdout
    _assert_same(out.with_suffix(".vrt"), scene / "single_b1.tif", 1e-6)


def test_batch_with_a_bad_input_reports_it_and_finishes_the_others(cluster, tmp_path, capsys):
    from marsspec.cli.main import main as cli_main

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    _scene(inputs / "a.tif", 300, 280, seed=2)
    _scene(inputs / "c.tif", 260, 300, seed=3)
    (inputs / "b.tif").write_bytes(b"not a raster at all" * 100)
    outputs = tmp_path / "out"
    outputs.mkdir()
    code = cli_main(
        ["predict", str(inputs), str(outputs), "--device", "cpu", "--dask", cluster["address"],
         "--browse", str(outputs), "--quiet"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    assert "marsspec predict: error: b.tif:" in captured.err
    assert "summary: 2 of 3 input(s) done" in captured.out
    for stem in ("a", "c"):
        assert (outputs / f"{stem}.tif").is_file() and (outputs / f"{stem}.vrt").is_file()
        with rasterio.open(outputs / f"{stem}.tif") as src:
            assert src.count == 3 and np.isfinite(src.read(1)).any()
        with rasterio.open(outputs / f"{stem}_browse.tif") as browse:
            assert browse.dtypes[0] == "uint8" and browse.read(1).max() > 0
    assert not (outputs / "b.tif").exists() and not (outputs / "b_browse.tif").exists()


def test_bad_scheduler_text_is_one_clear_error(tmp_path):
    from marsspec.core.errors import InputError
    from marsspec.core.scaleout.cluster import parse_scheduler

    assert parse_scheduler("local:3") == ("local", 3)
    assert parse_scheduler("tcp://10.0.0.5:8786") == ("tcp://10.0.0.5:8786", None)
    with pytest.raises(InputError, match="local:N"):
        parse_scheduler("local:zero")
    with pytest.raises(InputError, match="tcp://HOST:PORT"):
        parse_scheduler("my-laptop")


def test_local_workers_reuse_freed_memory():
    """local:N workers are spawned with marsspec's malloc settings instead of Dask's
    MALLOC_TRIM_THRESHOLD_=65536 (which made every forward pass fault in fresh pages): the
    environment reaches the worker, glibc then reuses a freed 256 MB block in place (the
    kernel's page-fault count says so), and the caller's Dask config and environment are left
    as they were."""
    import cloudpickle
    import dask

    from marsspec.core.scaleout.cluster import TRIM_ENV, WORKER_MALLOC_ENV, connect
    from tests import page_faults
    from tests.page_faults import refaults_per_page

    cloudpickle.register_pickle_by_value(page_faults)  # the worker need not import tests

    def probe():
        from marsspec.core.tiling.allocator import keeps_freed_memory

        env = {k: os.environ.get(k) for k in WORKER_MALLOC_ENV}
        return env, refaults_per_page(), keeps_freed_memory()

    before = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    environ = dict(os.environ)
    with connect("local:1") as connection:
        future = connection.client.submit(probe, pure=False)  # on a task thread, as blocks run
        env, faults_per_page, engine_scope_active = future.result()
        # Dask's nanny wrote the workers' variables into this process: they are taken back
        names = [*before, "PYTHONHASHSEED"]
        assert {k: os.environ.get(k) for k in names} == {k: environ.get(k) for k in names}
    assert {k: os.environ.get(k) for k in names} == {k: environ.get(k) for k in names}
    assert env == WORKER_MALLOC_ENV
    assert faults_per_page < 0.05  # reused in place (Dask's setting: about 1 fault per page)
    assert not engine_scope_active  # the engine leaves the worker's own setting alone
    assert dask.config.get("distributed.nanny.pre-spawn-environ") == before
    assert before.get(TRIM_ENV) == 65536  # Dask's default, which the workers did not get


def test_workers_you_start_yourself_get_the_settings_from_the_documented_variable(cluster):
    """`dask worker` with the variable docs/scaling.md names gets marsspec's malloc settings;
    connecting to a cluster names the workers without them, with the fix."""
    from marsspec.core.scaleout.cluster import WORKER_MALLOC_ENV, connect

    name, value = worker_environment_variable()
    assert f'{name}="{value}"' in (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    messages: list[str] = []
    with connect(cluster["address"], log=messages.append) as connection:
        seen = connection.client.run(lambda: {k: os.environ.get(k) for k in WORKER_MALLOC_ENV})
    assert sorted(env == WORKER_MALLOC_ENV for env in seen.values()) == [False, True]
    hints = [m for m in messages if "malloc" in m]
    assert len(hints) == 1 and hints[0].startswith("1 Dask worker(s)") and name in hints[0]


def test_coregistration_pairs_run_as_tasks(cluster, tmp_path, capsys):
    """`marsspec coregister --pairs LIST --dask ADDRESS`: each pair is one task; a pair whose
    CRISM file is missing fails by name, the other pairs are written."""
    from marsspec.cli.main import main as cli_main
    from marsspec.core.coreg.evaluate import simulate_pair

    lines = []
    for seed in (21, 22):
        scene = simulate_pair(tmp_path / f"s{seed}", seed=seed, size=384, site="jezero",
                              shift_px=(2, 6), warp_ctx_px=0.0)  # fmt: skip
        crism = Path(scene.files["crism"])
        renamed = crism.with_name(f"crism{seed}{crism.suffix}")
        crism.rename(renamed)
        lines.append(f"{scene.files['ctx']} {renamed}")
    lines.append(f"{tmp_path / 's21' / 'ctx.tif'} {tmp_path / 'missing_crism.tif'}")
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    code = cli_main(
        ["coregister", "--pairs", str(pairs), "--out", str(out), "--dask", cluster["address"],
         "--global-only", "--window-size", "48", "--quiet"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    assert "marsspec coregister: error: missing_crism.tif:" in captured.err
    assert "summary: 2 of 3 input(s) done" in captured.out
    for seed in (21, 22):
        with rasterio.open(out / f"crism{seed}_coreg.tif") as src:
            assert np.isfinite(src.read(1)).any()
        assert (out / f"crism{seed}_ctx.tif").is_file()


def test_cancel_stops_the_run_and_keeps_finished_blocks(cluster, scene, tmp_path):
    from distributed import Client

    from marsspec.core.errors import CancelledError

    manifest = tmp_path / "evc.blocks" / "manifest.jsonl"
    with pytest.raises(CancelledError, match="resumes"):
        run_scaled(
            [_predict(scene, tmp_path / "evc.tif")],
            ScaleoutOptions(cluster["address"], block=BLOCK),
            cancel=lambda: _manifest_blocks(manifest) >= 1,
        )
    assert 1 <= _manifest_blocks(manifest) < 4
    assert not (tmp_path / "evc.vrt").exists() and not (tmp_path / "evc.tif").exists()
    with Client(cluster["address"], timeout="30s") as observer:  # the workers are free again
        deadline = time.monotonic() + 60
        while any(observer.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(observer.processing().values())
