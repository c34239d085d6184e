"""End-to-end tests of the streaming tiling engine: real rasterio files, real torch predictors.

Rasters come from tests/tiling_rasters.py (seeded). Patch sizes are tiny (d = 12 or 16) so
that a 40 x 50 raster already has many rows of patches, borders, and a ragged last patch.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from rasterio.crs import CRS

from marsspec.core.errors import CancelledError, InputError, MarsspecError
from marsspec.core.provenance import sha256_file
from marsspec.core.tiling import OutputSpec, TilingConfig, run_tiled
from marsspec.core.version import __version__
from tests.tiling_rasters import MARS_EQC, MARS_IAU, make_raster, smooth_field, write_raster

CPU = {"device": "cpu", "precision": "fp32"}


def read(path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


def linear_predictor(channels: int = 2) -> torch.nn.Conv2d:
    """A 1x1 convolution: y_c = w_c * x + b_c, computable directly on the whole raster."""
    conv = torch.nn.Conv2d(1, channels, kernel_size=1)
    with torch.no_grad():
        conv.weight.copy_(torch.linspace(0.5, 2.0, channels).reshape(channels, 1, 1, 1))
        conv.bias.copy_(torch.linspace(-1.0, 1.0, channels))
    return conv.eval()


class Counting:
    """Wraps a predictor and counts calls and patches (to prove skipped patches never run)."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.calls = 0
        self.patches = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.patches += x.shape[0]
        return self.fn(x)


def only_files(folder) -> list[str]:
    return sorted(os.listdir(folder))


# -- exactness: identity and linear predictors reproduce the direct computation -------------
SIZES = [(37, 53), (5, 7), (1, 45), (45, 1), (12, 12), (13, 25)]


@pytest.mark.parametrize("blending", ["gaussian", "mean"])
@pytest.mark.parametrize("s", [1, 2, 3, 4])
@pytest.mark.parametrize("size", SIZES, ids=lambda hw: f"{hw[0]}x{hw[1]}")
def test_linear_predictor_matches_direct_computation(tmp_path, size, s, blending):
    src, data = make_raster(tmp_path / "in.tif", *size, seed=sum(size))
    conv = linear_predictor(2)
    cfg = TilingConfig(d=12, s=s, blending=blending, batch_size=5, **CPU)
    result = run_tiled(src, conv, OutputSpec(tmp_path / "out.tif"), cfg)
    with torch.no_grad():
        expected = conv(torch.from_numpy(data)[None, None]).numpy()[0]
    out = read(tmp_path / "out.tif")
    assert out.shape == (2, *size)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert result.skipped == 0


@pytest.mark.parametrize("s", [1, 2, 3, 4])
def test_identity_predictor_reproduces_input(tmp_path, s):
    src, data = make_raster(tmp_path / "in.tif", 41, 29, seed=s)
    run_tiled(src, lambda x: x, OutputSpec(tmp_path / "out.tif"), TilingConfig(d=12, s=s, **CPU))
    np.testing.assert_allclose(read(tmp_path / "out.tif")[0], data, rtol=1e-5, atol=1e-6)


def test_input_bigger_than_one_batch_row_streams_in_order(tmp_path):
    """Many rows of patches, batches that straddle rows of patches, and a ragged last row."""
    src, data = make_raster(tmp_path / "in.tif", 203, 31, seed=7)
    cfg = TilingConfig(d=16, s=2, batch_size=3, prefetch=1, **CPU)
    run_tiled(src, lambda x: 3 * x, OutputSpec(tmp_path / "out.tif", blocksize=16), cfg)
    np.testing.assert_allclose(read(tmp_path / "out.tif")[0], 3 * data, rtol=1e-5, atol=1e-5)


# -- nodata ---------------------------------------------------------------------------------
def test_nodata_propagates_and_all_nodata_patches_are_skipped(tmp_path):
    data = smooth_field(40, 40, seed=3)[0].astype(np.float32)
    data[:24, :] = -9999.0  # two full rows of 12-px patches (s = 1): 8 patches, all nodata
    data[30, 5] = -9999.0  # a lone nodata pixel inside a patch that must still run
    src = write_raster(tmp_path / "in.tif", data, nodata=-9999.0)
    predictor = Counting(lambda x: x + 1)
    cfg = TilingConfig(d=12, s=1, batch_size=4, **CPU)
    result = run_tiled(src, predictor, OutputSpec(tmp_path / "out.tif"), cfg)
    out = read(tmp_path / "out.tif")[0]
    invalid = data == -9999.0
    assert np.isnan(out[invalid]).all()
    np.testing.assert_allclose(out[~invalid], data[~invalid] + 1, rtol=1e-6)
    assert result.patches == 16 and result.skipped == 8
    assert predictor.patches == 8
    with rasterio.open(tmp_path / "out.tif") as ds:
        assert np.isnan(ds.nodata)


def test_nan_pixels_are_nodata_even_without_a_nodata_value(tmp_path):
    data = smooth_field(20, 20, seed=4)[0].astype(np.float64)
    data[3:6, 10:15] = np.nan
    src = write_raster(tmp_path / "in.tif", data)
    run_tiled(src, lambda x: 2 * x, OutputSpec(tmp_path / "out.tif"), TilingConfig(d=8, **CPU))
    out = read(tmp_path / "out.tif")[0]
    assert np.isnan(out[3:6, 10:15]).all()
    assert np.isfinite(out[~np.isnan(data)]).all()


def test_all_nodata_input(tmp_path):
    src = write_raster(tmp_path / "in.tif", np.zeros((20, 30), np.float32), nodata=0.0)
    predictor = Counting(lambda x: x)
    spec = OutputSpec(tmp_path / "out.tif", channels=(0, 1), dtype="int16", nodata=-1)
    result = run_tiled(src, predictor, spec, TilingConfig(d=8, **CPU))
    assert predictor.calls == 0 and result.skipped == result.patches
    out = read(tmp_path / "out.tif")
    assert out.shape == (2, 20, 30) and (out == -1).all()
    with pytest.raises(InputError, match="no valid pixel"):
        run_tiled(src, predictor, OutputSpec(tmp_path / "b.tif"), TilingConfig(d=8, **CPU))
    assert not (tmp_path / "b.tif").exists()


# -- cancellation and errors leave nothing behind --------------------------------------------
def open_paths() -> set[str]:
    """The files this process holds open (Linux), to see that a stopped run closed its input."""
    fds = "/proc/self/fd"
    return {os.path.realpath(os.path.join(fds, fd)) for fd in os.listdir(fds)}


@pytest.mark.parametrize("reader_thread", [False, True])
def test_cancel_mid_run_leaves_no_file(tmp_path, reader_thread):
    src, _ = make_raster(tmp_path / "in.tif", 60, 60)
    polls = []

    def cancel() -> bool:
        polls.append(1)
        return len(polls) > 3

    progress: list[float] = []
    cfg = TilingConfig(d=12, s=2, batch_size=4, reader_thread=reader_thread, **CPU)
    # the traceback is kept, as a caller's log keeps it: the input must be closed all the same
    with pytest.raises(CancelledError, match="no output") as caught:
        run_tiled(src, lambda x: x, OutputSpec(tmp_path / "out.tif"), cfg, cancel=cancel,
                  progress=progress.append)  # fmt: skip
    assert only_files(tmp_path) == ["in.tif"]
    assert len(progress) == 3 and 0 < progress[-1] < 1
    assert os.path.realpath(src) not in open_paths(), caught.traceback  # the reader closed it


@pytest.mark.parametrize("reader_thread", [False, True])
def test_error_in_predictor_leaves_no_file_and_keeps_old_output(tmp_path, reader_thread):
    src, _ = make_raster(tmp_path / "in.tif", 60, 60)
    (tmp_path / "out.tif").write_bytes(b"old result")
    calls = []

    def failing(x):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("model exploded")
        return x

    cfg = TilingConfig(d=12, batch_size=2, reader_thread=reader_thread, **CPU)
    with pytest.raises(RuntimeError, match="model exploded") as caught:
        run_tiled(src, failing, [OutputSpec(tmp_path / "out.tif"),
                                 OutputSpec(tmp_path / "conf.tif")], cfg)  # fmt: skip
    assert only_files(tmp_path) == ["in.tif", "out.tif"]
    assert (tmp_path / "out.tif").read_bytes() == b"old result"
    assert os.path.realpath(src) not in open_paths(), caught.traceback


def test_reading_inline_or_on_a_thread_gives_the_same_raster(tmp_path):
    """Both readers cut the same patches, skip the same all-nodata ones, fill the same holes."""
    data = smooth_field(70, 90, seed=4)[0].astype(np.float32)
    data[:30, :40] = -9999.0  # whole patches to skip
    data[50:53, 60:70] = -9999.0  # a hole inside patches that run
    src = write_raster(tmp_path / "in.tif", data, nodata=-9999.0)
    model = small_cnn()
    for thread in (False, True):
        cfg = TilingConfig(d=16, s=2, batch_size=3, reader_thread=thread, **CPU)
        result = run_tiled(src, model, OutputSpec(tmp_path / f"out_{thread}.tif"), cfg)
        assert result.skipped > 0
    np.testing.assert_array_equal(read(tmp_path / "out_False.tif"), read(tmp_path / "out_True.tif"))


def test_the_reader_runs_inline_on_a_cpu_and_on_a_thread_where_it_overlaps(tmp_path, caplog):
    from marsspec.core.tiling.engine import usable_cpus, uses_reader_thread

    local = tmp_path / "in.tif"
    remote = "/vsizip//vsicurl/https://example.org/ctx.zip/ctx.tif"
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    cpus = usable_cpus()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(cpus)
        assert not uses_reader_thread(TilingConfig(), cpu, local)  # forward fills the cores
        if cpus > 1:  # a Dask worker's single torch thread leaves a core to the reader
            torch.set_num_threads(1)
            assert uses_reader_thread(TilingConfig(), cpu, local)
    finally:
        torch.set_num_threads(threads)
    assert uses_reader_thread(TilingConfig(), cuda, local)  # the CPU is free during a forward
    assert uses_reader_thread(TilingConfig(), cpu, remote)  # reading waits on the network
    assert uses_reader_thread(TilingConfig(reader_thread=True), cpu, local)
    assert not uses_reader_thread(TilingConfig(reader_thread=False), cuda, remote)
    src, _ = make_raster(local, 30, 30)
    with caplog.at_level(logging.INFO, logger="marsspec.tiling"):
        for thread in (False, True):
            cfg = TilingConfig(d=12, reader_thread=thread, **CPU)
            run_tiled(src, lambda x: x, OutputSpec(tmp_path / f"out{thread}.tif"), cfg)
    assert "reading in the model's thread" in caplog.text
    assert "reading ahead on a thread" in caplog.text


def test_progress_is_monotonic_and_reaches_one(tmp_path):
    src, _ = make_raster(tmp_path / "in.tif", 50, 50)
    seen: list[float] = []
    messages: list[str] = []
    cfg = TilingConfig(d=12, s=2, batch_size=7, **CPU)
    result = run_tiled(src, lambda x: x, OutputSpec(tmp_path / "o.tif"), cfg,
                       progress=seen.append, log=messages.append)  # fmt: skip
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert len(seen) == -(-result.patches // 7)
    assert messages[0].startswith("tiling in.tif: 50x50 px, 64 patches of 12 px at stride 6")
    assert messages[-1].startswith("tiling done") and "0 skipped" in messages[-1]


# -- georeferencing ----------------------------------------------------------------------------
@pytest.mark.parametrize("crs", [MARS_EQC, MARS_IAU])
def test_mars_crs_and_transform_survive(tmp_path, crs):
    transform = Affine(18.0, 0.0, -3_000.0, 0.0, -18.0, 1_234_500.0)
    src, _ = make_raster(tmp_path / "in.tif", 30, 20, crs=crs, transform=transform)
    run_tiled(src, lambda x: x, OutputSpec(tmp_path / "out.tif"), TilingConfig(d=8, **CPU))
    with rasterio.open(src) as a, rasterio.open(tmp_path / "out.tif") as b:
        assert b.crs == a.crs and b.transform == a.transform
        assert b.crs.to_dict().get("R", b.crs.to_dict().get("a")) in (3396190, None)
        assert "3396190" in b.crs.to_wkt()
    assert CRS.from_string(crs) == b.crs


def test_upscaling_output_scales_the_transform(tmp_path):
    data = smooth_field(13, 21, seed=5)[0].astype(np.float32)
    data[0, 0] = -1.0
    src = write_raster(tmp_path / "in.tif", data, nodata=-1.0)

    def upscale4(x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)

    spec = OutputSpec(tmp_path / "sr.tif", scale=4)
    run_tiled(src, upscale4, spec, TilingConfig(d=8, s=2, **CPU))
    with rasterio.open(src) as a, rasterio.open(tmp_path / "sr.tif") as b:
        assert (b.height, b.width) == (52, 84)
        assert b.transform == a.transform * Affine.scale(0.25)
        assert b.transform.a == pytest.approx(1.5) and (b.transform.c, b.transform.f) == (
            a.transform.c,
            a.transform.f,
        )
        out = b.read(1)
    expected = np.repeat(np.repeat(data, 4, 0), 4, 1)
    assert np.isnan(out[:4, :4]).all()
    np.testing.assert_allclose(out[4:], expected[4:], rtol=1e-6)


def test_wrong_scale_is_reported(tmp_path):
    src, _ = make_raster(tmp_path / "in.tif", 20, 20)
    with pytest.raises(InputError, match="scale"):
        run_tiled(src, lambda x: x, OutputSpec(tmp_path / "o.tif", scale=2), TilingConfig(d=8))
    assert only_files(tmp_path) == ["in.tif"]


# -- dtypes ----------------------------------------------------------------------------------
def test_uint16_input_keeps_full_precision(tmp_path):
    src, data = make_raster(tmp_path / "in.tif", 33, 27, dtype="uint16", scale=65535.0)
    assert data.max() > 40000 and len(np.unique(data)) > 800  # far beyond 8 bits
    run_tiled(src, lambda x: x, OutputSpec(tmp_path / "out.tif"), TilingConfig(d=8, **CPU))
    out = read(tmp_path / "out.tif")[0]
    # Blending divides float32 weighted sums: a few ulp (~0.004 at 10^4), never 8-bit steps.
    np.testing.assert_allclose(out, data.astype(np.float32), rtol=1e-6, atol=0)
    assert np.array_equal(np.rint(out), data)


def test_float64_input_keeps_float_precision(tmp_path):
    src, data = make_raster(tmp_path / "in.tif", 19, 23, dtype="float64", scale=1e-3)
    run_tiled(src, lambda x: x, OutputSpec(tmp_path / "out.tif"), TilingConfig(d=8, **CPU))
    out = read(tmp_path / "out.tif")[0]
    np.testing.assert_allclose(out, data, rtol=1e-6, atol=0)  # float32 output, a few ulp


def test_integer_output_is_rounded_and_clipped(tmp_path):
    src, data = make_raster(tmp_path / "in.tif", 16, 16, scale=300.0)
    spec = OutputSpec(tmp_path / "out.tif", dtype="uint8", nodata=0)
    run_tiled(src, lambda x: x, spec, TilingConfig(d=8, s=1, **CPU))
    out = read(tmp_path / "out.tif")[0]
    np.testing.assert_array_equal(out, np.clip(np.rint(data), 0, 255).astype(np.uint8))


@pytest.mark.parametrize(
    ("dtype", "nodata", "predictor"), [("float32", None, None), ("uint16", 0, "2")]
)
def test_outputs_are_tiled_zstd_with_the_cheap_predictor_only(tmp_path, dtype, nodata, predictor):
    """zstd, 256 px tiles; horizontal differencing for integers, none for floats (the
    floating-point predictor doubled the compression time, docs/benchmarks.md)."""
    src, _ = make_raster(tmp_path / "in.tif", 40, 50, scale=300.0)
    spec = OutputSpec(tmp_path / "out.tif", dtype=dtype, nodata=nodata)
    run_tiled(src, lambda x: x, spec, TilingConfig(d=8, **CPU))
    with rasterio.open(tmp_path / "out.tif") as ds:
        structure = ds.tags(ns="IMAGE_STRUCTURE")
        assert (ds.compression.name, ds.block_shapes[0]) == ("zstd", (256, 256))
    assert structure.get("PREDICTOR") == predictor


# -- several outputs from one pass ------------------------------------------------------------
def test_one_pass_writes_several_outputs(tmp_path):
    src, data = make_raster(tmp_path / "in.tif", 30, 34, seed=9)
    predictor = Counting(lambda x: (torch.cat([x, 2 * x, 3 * x], 1), {"conf": torch.sigmoid(x)}))
    values = OutputSpec(tmp_path / "bands.tif", source=0, descriptions=("a", "b", "c"),
                        band_tags=({"wavelength": "0.592"},) * 3)  # fmt: skip
    middle = OutputSpec(tmp_path / "b_only.tif", source=0, channels=(1,))
    conf = OutputSpec(tmp_path / "conf.tif", source=1, tags={"MARSSPEC_KIND": "confidence"})
    cfg = TilingConfig(d=12, s=2, batch_size=8, **CPU)
    result = run_tiled(src, lambda x: (lambda o: (o[0], o[1]["conf"]))(predictor(x)),
                       [values, middle, conf], cfg)  # fmt: skip
    assert predictor.calls == result.predictor_calls == -(-result.patches // 8)
    np.testing.assert_allclose(read(values.path), np.stack([data, 2 * data, 3 * data]), rtol=1e-5)
    np.testing.assert_allclose(read(middle.path)[0], 2 * data, rtol=1e-5)
    np.testing.assert_allclose(read(conf.path)[0], 1 / (1 + np.exp(-data)), rtol=1e-5)
    with rasterio.open(values.path) as ds:
        assert ds.descriptions == ("a", "b", "c")
        assert ds.tags(2)["wavelength"] == "0.592"
    with rasterio.open(conf.path) as ds:
        assert ds.tags()["MARSSPEC_KIND"] == "confidence"


def test_tuple_result_without_source_is_a_clear_error(tmp_path):
    src, _ = make_raster(tmp_path / "in.tif", 20, 20)
    with pytest.raises(InputError, match=r"OutputSpec\.source"):
        run_tiled(src, lambda x: (x, x), OutputSpec(tmp_path / "o.tif"), TilingConfig(d=8, **CPU))


# -- determinism and provenance ----------------------------------------------------------------
def small_cnn(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 3, 3, padding=1),
    ).eval()


def test_cpu_runs_are_bit_identical(tmp_path):
    src, _ = make_raster(tmp_path / "in.tif", 45, 38, seed=11)
    model = small_cnn()
    cfg = TilingConfig(d=16, s=2, batch_size=4, **CPU)
    run_tiled(src, model, OutputSpec(tmp_path / "a.tif"), cfg)
    run_tiled(src, model, OutputSpec(tmp_path / "b.tif"), cfg)
    assert (tmp_path / "a.tif").read_bytes() == (tmp_path / "b.tif").read_bytes()


def test_provenance_tags(tmp_path):
    src, _ = make_raster(tmp_path / "input scene.tif", 20, 20)
    weights = tmp_path / "w.pt"
    torch.save(small_cnn().state_dict(), weights)
    digest = sha256_file(weights)
    cfg = TilingConfig(d=16, s=4, blending="mean", **CPU)
    result = run_tiled(src, small_cnn(), OutputSpec(tmp_path / "o.tif"), cfg,
                       model_id="ctx2crism-unet-b0", weights_sha256=digest)  # fmt: skip
    with rasterio.open(tmp_path / "o.tif") as ds:
        tags = ds.tags()
    assert tags["MARSSPEC_VERSION"] == __version__
    assert tags["MARSSPEC_MODEL_ID"] == "ctx2crism-unet-b0"
    assert tags["MARSSPEC_WEIGHTS_SHA256"] == digest and len(digest) == 64
    assert (tags["MARSSPEC_D"], tags["MARSSPEC_S"], tags["MARSSPEC_BLENDING"]) == (
        "16",
        "4",
        "mean",
    )
    assert (tags["MARSSPEC_DEVICE"], tags["MARSSPEC_PRECISION"]) == ("cpu", "fp32")
    size = (tmp_path / "input scene.tif").stat().st_size
    assert tags["MARSSPEC_INPUT"].startswith(f"input scene.tif size={size} mtime=")
    ours = {k: v for k, v in tags.items() if k.startswith("MARSSPEC_") and k != "MARSSPEC_SCALE"}
    assert result.tags == ours  # GDAL adds AREA_OR_POINT; the output adds its scale


def test_precision_auto_on_cpu_resolves_and_is_recorded(tmp_path):
    src, _ = make_raster(tmp_path / "in.tif", 24, 24)
    cfg = TilingConfig(d=16, device="cpu", precision="auto")
    result = run_tiled(src, small_cnn(), OutputSpec(tmp_path / "o.tif"), cfg)
    assert result.precision == "fp32"  # auto on a CPU: fp32 always, never a timing race
    assert any("precision auto" in e for e in result.events)
    with rasterio.open(tmp_path / "o.tif") as ds:
        assert ds.tags()["MARSSPEC_PRECISION"] == result.precision


# -- large tiles ------------------------------------------------------------------------------
def test_large_tiles_match_a_whole_image_forward(tmp_path):
    src, data = make_raster(tmp_path / "in.tif", 90, 100, seed=2)
    model = small_cnn(1)
    cfg = TilingConfig(large_tile=32, margin=4, **CPU)
    result = run_tiled(src, model, OutputSpec(tmp_path / "o.tif"), cfg)
    with torch.no_grad():
        whole = model(torch.from_numpy(data)[None, None]).numpy()[0]
    out = read(tmp_path / "o.tif")
    # Receptive field radius 2 < margin 4, and tiles keep the margins that face the raster
    # border (zero padding there as in the whole-image pass): identical everywhere.
    np.testing.assert_allclose(out, whole, rtol=1e-4, atol=2e-4)  # conv algorithms differ
    assert result.tags["MARSSPEC_BLENDING"] == "crop" and result.tags["MARSSPEC_D"] == "32"


# -- out of memory and devices ---------------------------------------------------------------
def test_out_of_memory_halves_the_batch(tmp_path, caplog):
    src, data = make_raster(tmp_path / "in.tif", 40, 40)

    def picky(x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > 2:
            raise torch.OutOfMemoryError("simulated: batch too large")
        return x * 2

    with caplog.at_level(logging.WARNING, logger="marsspec.tiling"):
        cfg = TilingConfig(d=8, batch_size=8, **CPU)
        result = run_tiled(src, picky, OutputSpec(tmp_path / "o.tif"), cfg)
    assert result.batch_size == 2
    assert [e for e in result.events if "halved" in e] == [
        "out of memory on cpu: batch size halved to 4",
        "out of memory on cpu: batch size halved to 2",
    ]
    assert "halved to 2" in caplog.text
    np.testing.assert_allclose(read(tmp_path / "o.tif")[0], 2 * data, rtol=1e-6)


def test_out_of_memory_at_batch_one_on_cpu_is_an_error(tmp_path):
    src, _ = make_raster(tmp_path / "in.tif", 20, 20)

    def hopeless(x):
        raise torch.OutOfMemoryError("simulated")

    with pytest.raises(MarsspecError, match="even with one patch"):
        run_tiled(src, hopeless, OutputSpec(tmp_path / "o.tif"), TilingConfig(d=8, **CPU))
    assert only_files(tmp_path) == ["in.tif"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none)")
def test_cuda_matches_cpu(tmp_path):
    src, _ = make_raster(tmp_path / "in.tif", 300, 260, seed=5)
    model = small_cnn(3)
    cpu_cfg = TilingConfig(d=64, s=2, **CPU)
    run_tiled(src, model, OutputSpec(tmp_path / "cpu.tif"), cpu_cfg)
    for precision, tol in (("fp32", 1e-4), ("fp16", 2e-2)):
        cfg = TilingConfig(d=64, s=2, device="cuda", precision=precision)
        result = run_tiled(src, model, OutputSpec(tmp_path / f"{precision}.tif"), cfg)
        assert result.device.startswith("cuda:0") and result.precision == precision
        a, b = read(tmp_path / "cpu.tif"), read(tmp_path / f"{precision}.tif")
        assert np.abs(a - b).max() <= tol * (np.abs(a).max() + 1)
    auto = run_tiled(src, model, OutputSpec(tmp_path / "auto.tif"), TilingConfig(d=64))
    assert auto.device.startswith("cuda") and auto.precision == "fp16"


class _FailsOnCuda(torch.nn.Module):
    """Doubles its input, but 'runs out of memory' whenever it is given a CUDA tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_cuda:
            raise torch.OutOfMemoryError("simulated CUDA out of memory")
        return x * self.scale


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none)")
def test_cuda_out_of_memory_halves_then_falls_back_to_cpu(tmp_path):
    src, data = make_raster(tmp_path / "in.tif", 40, 40)
    messages: list[str] = []
    cfg = TilingConfig(d=8, batch_size=4, device="cuda", precision="fp32")
    result = run_tiled(src, _FailsOnCuda(), OutputSpec(tmp_path / "o.tif"), cfg,
                       log=messages.append)  # fmt: skip
    assert result.device.endswith("-> cpu (out of memory)")
    assert [e for e in result.events if "out of memory" in e][:2] == [
        "out of memory on cuda:0: batch size halved to 2",
        "out of memory on cuda:0: batch size halved to 1",
    ]
    assert any("continuing on the CPU" in m for m in messages)
    np.testing.assert_allclose(read(tmp_path / "o.tif")[0], 2 * data, rtol=1e-6)


# -- validation up front -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"s": 5}, "s=5"),
        ({"d": 10, "s": 4}, "divisible"),
        ({"blending": "median"}, "Unknown blending"),
        ({"bands": (2,)}, "has 1 band"),
        ({"precision": "fp16", "device": "cpu"}, "fp16 is a GPU precision"),
        ({"precision": "int8"}, "Unknown precision"),
        ({"device": "tpu"}, "not supported|Unknown device"),
        ({"large_tile": 16, "margin": 8}, "no interior"),
    ],
)
def test_bad_parameters_are_refused_before_any_work(tmp_path, kwargs, message):
    src, _ = make_raster(tmp_path / "in.tif", 20, 20)
    with pytest.raises(InputError, match=message):
        run_tiled(src, lambda x: x, OutputSpec(tmp_path / "o.tif"), TilingConfig(**kwargs))
    assert only_files(tmp_path) == ["in.tif"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_says_so(tmp_path):
    src, _ = make_raster(tmp_path / "in.tif", 20, 20)
    with pytest.raises(InputError, match="no CUDA GPU"):
        run_tiled(src, lambda x: x, OutputSpec(tmp_path / "o.tif"), TilingConfig(device="cuda"))


def test_missing_input_and_output_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        run_tiled(tmp_path / "nope.tif", lambda x: x, OutputSpec(tmp_path / "o.tif"))
    src, _ = make_raster(tmp_path / "in.tif", 20, 20)
    with pytest.raises(InputError, match="Output folder"):
        run_tiled(src, lambda x: x, OutputSpec(tmp_path / "no" / "o.tif"), TilingConfig(d=8))
    with pytest.raises(InputError, match="is the input"):
        run_tiled(src, lambda x: x, OutputSpec(src), TilingConfig(d=8))
