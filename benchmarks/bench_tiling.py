"""Benchmark of the streaming tiling engine (issues 3 and 18): ``make bench-tiling``.

Prints ``key=value`` lines and a one-line summary last. Model: smp U-Net with an EfficientNet-B0
encoder (1 band in, 3 out, random weights), channels_last, fp32 unless said. Not a test: nothing
here asserts a time.

* **Equal terms** (the targets): one process runs, interleaved ``--reps`` times, a raw forward
  loop, the engine end to end, MONAI's ``sliding_window_inference`` (its call alone) and the
  engine with large tiles, all on the SAME network object, the engine's prepared copy
  (core/tiling/prepare.py), with the same patches, roi, overlap, Gaussian mode and batch, and
  the same allocator setting (core/tiling/allocator.py) on every side. Ratios are per
  repetition (runs made one after the other), the key is their median.
  Large tiles and the d/s tiling are scored by their RMSE against one whole-image pass.
* **Product view** (not targets): the engine as shipped, given the network as trained, against
  a raw loop and MONAI running that network as given, in a process with glibc's default
  allocator setting; ``prepare_speedup`` is the raw gain of the preparation and
  ``keep_freed_memory_speedup`` that of the engine's allocator setting.
* **Memory**: peak RSS (``ru_maxrss``) of runs each in its own subprocess.

Defaults are the issues' sizes (equal terms at 4096 px, product view at 2048 px): 4 x reps
passes over a 4096 px raster, long on 2 cores and far longer when other jobs load the machine;
``--monai-size 1024 --eff-size 512 --strip 1000`` is a quick look (docs/benchmarks.md).

    python benchmarks/bench_tiling.py [--monai-size 4096] [--eff-size 2048] [--reps 3] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
D, S, BATCH = 256, 2, 8
LARGE_TILE, MARGIN = 512, 32
# the same pixels per forward call as BATCH patches of D: a batch of 8 tiles of 512 px costs
# about 1.3x more per pixel on a 2-core CPU than 2 of them (activations outgrow the caches)
LARGE_BATCH = max(1, BATCH * D * D // LARGE_TILE**2)


# -- helpers used inside the subprocesses ---------------------------------------------------
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _unet():
    import segmentation_models_pytorch as smp
    import torch

    torch.manual_seed(0)
    model = smp.Unet(encoder_name="efficientnet-b0", encoder_weights=None, in_channels=1, classes=3)
    return model.eval().to(memory_format=torch.channels_last)


def _cheap():
    """A small 3x3-conv net with the U-Net's 1 -> 3 channels: for the memory runs."""
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 3, 1)
    ).eval()


def _config(**kw):
    from marsspec.core.tiling import TilingConfig

    base = {"d": D, "s": S, "batch_size": BATCH, "device": "cpu", "precision": "fp32"}
    return TilingConfig(**{**base, **kw})


def _tiled(src: str, out: str, model, **kw) -> float:
    from marsspec.core.tiling import OutputSpec, run_tiled

    start = time.perf_counter()
    run_tiled(src, model, OutputSpec(out), _config(**kw))
    return time.perf_counter() - start


def _plan_batches(path: str) -> list:
    """The engine's own patches of ``path``: its plan's origins in its order, float32 as its
    reader makes them (no scaling), in batches of BATCH, channels_last, held in RAM.

    The raw loop runs on these, not on random numbers: the forward's speed depends on the
    data (the U-Net ran 7 % faster on uniform [0, 1) noise than on these uint16 values,
    2026-12-06), and equal terms means the same patches.
    """
    import numpy as np
    import rasterio
    import torch

    with rasterio.open(path) as ds:
        image = ds.read(1).astype("float32")
    plan = _config().plan(*image.shape)
    if plan.height < plan.size or plan.width < plan.size:
        raise SystemExit(f"bench: the raster must be at least {plan.size} px on each side")
    size = plan.size
    cuts = [image[r : r + size, c : c + size] for r in plan.row_origins for c in plan.col_origins]
    batches = []
    for start in range(0, len(cuts), BATCH):
        x = torch.from_numpy(np.stack(cuts[start : start + BATCH])[:, None])
        batches.append(x.contiguous(memory_format=torch.channels_last))
    return batches


def _raw_forward(model, batches: list) -> float:
    """Forward passes only over ``batches`` (data already in RAM), outputs copied to numpy."""
    import torch

    begin = time.perf_counter()
    with torch.inference_mode():
        for x in batches:
            model(x).float().numpy()
    return time.perf_counter() - begin


def _n_patches(path: str, **kw) -> int:
    import rasterio

    with rasterio.open(path) as ds:
        return _config(**kw).plan(ds.height, ds.width).n_patches


def _interleaved(runs: dict, reps: int) -> dict[str, list[float]]:
    """Each run ``reps`` times, round-robin, so a change in machine load hits all of them alike."""
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for rep in range(reps):
        for name, run in runs.items():
            seconds[name].append(run(rep))
    return seconds


def _quality(path: str, ref) -> dict:
    """RMSE (relative to the reference's std) and max deviation (relative to its range)."""
    import numpy as np
    import rasterio

    with rasterio.open(path) as ds:
        err = ds.read() - ref
    return {
        "rmse_rel": float(np.sqrt((err**2).mean()) / ref.std()),
        "maxdev_rel": float(np.abs(err).max() / (ref.max() - ref.min())),
    }


def task_equal(src: str, tmp: str, reps: int) -> dict:
    """The headline comparison: one network object, the prepared copy, on every side.

    Interleaved ``reps`` times in this one process: the raw forward loop over the engine's
    patches, the engine end to end (read, blend, write a zstd GeoTIFF), MONAI's
    ``sliding_window_inference`` call alone (image already in memory), and the engine with
    large tiles. The outputs of the last repetition are compared with one whole-image pass
    of the same network (what a fully convolutional network computes with no tiling). All of
    it runs under the engine's allocator setting (core/tiling/allocator.py), so the raw loop
    and MONAI reuse freed memory as the engine does: the setting's own gain is a product-view
    key (``keep_freed_memory_speedup``), not part of these ratios.
    """
    import torch

    from marsspec.core.tiling.allocator import reuse_freed_memory
    from marsspec.core.tiling.prepare import prepare_for_inference

    network = prepare_for_inference(_unet()).module
    image = _read_image(src)
    n = _n_patches(src)
    patches = _plan_batches(src)
    large = {"large_tile": LARGE_TILE, "margin": MARGIN, "batch_size": LARGE_BATCH}
    warm = torch.rand(BATCH, 1, D, D).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():  # warm-up: first calls allocate and pick kernels
        network(warm)
    last = reps - 1
    runs = {
        "raw": lambda rep: _raw_forward(network, patches),
        "engine": lambda rep: _tiled(src, f"{tmp}/eq_ds{rep}.tif", network),
        "monai": lambda rep: _monai_seconds(network, image),
        "large": lambda rep: _tiled(src, f"{tmp}/eq_large{rep}.tif", network, **large),
    }
    with reuse_freed_memory():  # the engine's allocator setting, for every side alike
        seconds = _interleaved(runs, reps)
    with torch.inference_mode():
        ref = network(image).float().numpy()[0]
    return {
        "patches": n,
        "large_tiles": _n_patches(src, **large),
        "seconds": seconds,
        "overlap": _quality(f"{tmp}/eq_ds{last}.tif", ref),
        "large": _quality(f"{tmp}/eq_large{last}.tif", ref),
        "peak_rss_mb": _peak_rss_mb(),
    }


def task_product(src: str, tmp: str, reps: int) -> dict:
    """The product view, not a target: the engine as shipped (it prepares the network it is
    given) against a raw loop and MONAI running the network as given, and the raw gain of
    the preparation itself, and of the engine's allocator setting (a raw loop with it)."""
    import torch

    from marsspec.core.tiling.allocator import reuse_freed_memory
    from marsspec.core.tiling.prepare import prepare_for_inference

    given = _unet()
    prepared = prepare_for_inference(given).module
    image = _read_image(src)
    patches = _plan_batches(src)
    warm = torch.rand(BATCH, 1, D, D).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        given(warm)
        prepared(warm)

    def raw_kept(rep: int) -> float:
        with reuse_freed_memory():
            return _raw_forward(prepared, patches)

    runs = {
        "raw_given": lambda rep: _raw_forward(given, patches),
        "raw_prepared": lambda rep: _raw_forward(prepared, patches),
        "raw_prepared_kept": raw_kept,
        "shipped": lambda rep: _tiled(src, f"{tmp}/prod{rep}.tif", given),
        "monai_given": lambda rep: _monai_seconds(given, image),
    }
    return {"patches": sum(len(x) for x in patches), "seconds": _interleaved(runs, reps)}


def task_ours(src: str, tmp: str, kind: str) -> dict:
    model = _unet() if kind == "unet" else _cheap()
    seconds = _tiled(src, f"{tmp}/ours_{kind}.tif", model)
    return {"seconds": seconds, "patches": _n_patches(src), "peak_rss_mb": _peak_rss_mb()}


def _read_image(src: str):
    import rasterio
    import torch

    with rasterio.open(src) as ds:  # MONAI needs the whole image in memory
        x = torch.from_numpy(ds.read(1).astype("float32"))[None, None]
    return x.contiguous(memory_format=torch.channels_last)


def _monai_seconds(model, x) -> float:
    """The ``sliding_window_inference`` call alone: reading and writing are not counted."""
    import torch
    from monai.inferers import sliding_window_inference

    start = time.perf_counter()
    with torch.inference_mode():
        sliding_window_inference(x, (D, D), BATCH, model, overlap=1.0 - 1.0 / S, mode="gaussian")
    return time.perf_counter() - start


def task_monai(src: str) -> dict:
    model = _unet()
    seconds = _monai_seconds(model, _read_image(src))
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def _cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX in /proc/cpuinfo (Linux): bf16 without emulation."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def task_bf16() -> dict:
    import torch

    model = _unet()
    x = torch.rand(2, 1, D, D, generator=torch.Generator().manual_seed(1))
    x = x.contiguous(memory_format=torch.channels_last)
    times, outs = {}, {}
    for precision in ("fp32", "bf16", "fp32", "bf16"):  # second round timed (first warms up)
        ctx = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
        start = time.perf_counter()
        with torch.inference_mode(), ctx:
            outs[precision] = model(x).float()
        times[precision] = time.perf_counter() - start
    ref = outs["fp32"]
    span = float(ref.max() - ref.min()) or 1.0
    return {
        "speedup": times["fp32"] / times["bf16"],
        "max_dev": float((outs["bf16"] - ref).abs().max()) / span,
        "native_bf16": _cpu_has_native_bf16(),
    }


def _task_main(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    tasks = {
        "equal": lambda: task_equal(args.src, args.tmp, args.reps),
        "product": lambda: task_product(args.src, args.tmp, args.reps),
        "ours_unet": lambda: task_ours(args.src, args.tmp, "unet"),
        "ours_cheap": lambda: task_ours(args.src, args.tmp, "cheap"),
        "monai": lambda: task_monai(args.src),
        "bf16": task_bf16,
    }
    print(json.dumps(tasks[args.task]()))


# -- the driver ------------------------------------------------------------------------------
class _Keys(dict):
    """Prints each ``key=value`` as soon as it is measured (a cut-off run still reports)."""

    def __setitem__(self, key: str, value: object) -> None:
        super().__setitem__(key, value)
        print(f"{key}={value}", flush=True)


def _run(task: str, src: str | Path, tmp: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--task", task, "--src", str(src), "--tmp", str(tmp)]
    cmd += ["--threads", str(args.threads), "--reps", str(args.reps)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"bench task {task} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _make_inputs(tmp: Path, args: argparse.Namespace) -> dict[str, Path]:
    """Seeded uint16 rasters on disk; the 200 MP one repeats the 25 MP one, block by block."""
    import rasterio
    from rasterio.windows import Window

    sys.path.insert(0, str(ROOT))
    from tests.tiling_rasters import write_large_raster

    paths = {
        "product": write_large_raster(tmp / "product.tif", args.eff_size, args.eff_size, seed=1),
        "equal": write_large_raster(tmp / "equal.tif", args.monai_size, args.monai_size, seed=2),
        "25mp": write_large_raster(tmp / "25mp.tif", args.strip, args.strip, seed=4),
    }
    edge = args.strip
    with rasterio.open(paths["25mp"]) as src:
        profile = {**src.profile, "height": edge * 8}
        with rasterio.open(tmp / "200mp.tif", "w", **profile) as dst:
            for row in range(0, edge, 500):
                n = min(500, edge - row)
                block = src.read(window=Window(0, row, edge, n))
                for copy in range(8):
                    dst.write(block, window=Window(0, copy * edge + row, edge, n))
    paths["200mp"] = tmp / "200mp.tif"
    return paths


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _ratios(numerator: list[float], denominator: list[float]) -> list[float]:
    """Per-repetition ratios: each pairs runs made one after the other (same load)."""
    return [round(a / b, 3) for a, b in zip(numerator, denominator, strict=True)]


def _verdict(value: float, target: float) -> str:
    return "met" if value >= target else "MISSED"


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task")
    parser.add_argument("--src")
    parser.add_argument("--tmp")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    parser.add_argument(
        "--monai-size", type=int, default=4096, help="raster edge of the equal-terms runs"
    )
    parser.add_argument(
        "--eff-size", type=int, default=2048, help="raster edge of the product-view runs"
    )
    parser.add_argument("--strip", type=int, default=5000, help="25 MP raster edge (x8 rows)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary rasters")
    args = parser.parse_args()
    if args.task:
        _task_main(args)
        return 0

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="marsspec-bench-tiling-"))
    try:
        inputs = _make_inputs(tmp, args)
        keys = _Keys()
        keys["load_avg_start"] = _load()
        for key, value in (("threads", args.threads), ("d", D), ("s", S), ("batch", BATCH)):
            keys[key] = value
        keys["reps"] = args.reps
        keys["input_gen_s"] = round(time.perf_counter() - started, 1)

        # -- equal terms: one prepared network object on every side ---------------------------
        eq = _run("equal", inputs["equal"], tmp, args)
        sec = eq["seconds"]
        keys["equal_size"] = args.monai_size
        keys["equal_patches"] = eq["patches"]
        for name in ("raw", "engine", "monai", "large"):
            keys[f"{name}_seconds_reps"] = ",".join(f"{t:.1f}" for t in sec[name])
        keys["raw_forward_patches_per_s"] = round(eq["patches"] / _median(sec["raw"]), 3)
        keys["tiled_patches_per_s"] = round(eq["patches"] / _median(sec["engine"]), 3)
        efficiency = _ratios(sec["raw"], sec["engine"])
        vs_monai = _ratios(sec["monai"], sec["engine"])
        large = _ratios(sec["engine"], sec["large"])
        keys["engine_efficiency_reps"] = ",".join(map(str, efficiency))
        keys["engine_efficiency"] = _median(efficiency)
        keys["vs_monai_throughput_reps"] = ",".join(map(str, vs_monai))
        keys["vs_monai_throughput"] = _median(vs_monai)
        keys["monai_vs_raw"] = _median(_ratios(sec["raw"], sec["monai"]))
        keys["large_tile"] = f"{LARGE_TILE}/{MARGIN} batch {LARGE_BATCH}"
        keys["large_tiles"] = eq["large_tiles"]
        keys["large_tile_speedup_reps"] = ",".join(map(str, large))
        keys["large_tile_speedup"] = _median(large)
        keys["overlap_rmse_rel"] = round(eq["overlap"]["rmse_rel"], 5)
        keys["large_tile_rmse_rel"] = round(eq["large"]["rmse_rel"], 5)
        keys["overlap_maxdev_rel"] = round(eq["overlap"]["maxdev_rel"], 5)
        keys["large_tile_maxdev_rel"] = round(eq["large"]["maxdev_rel"], 5)
        keys["load_avg_after_equal"] = _load()

        # -- product view (not targets): as shipped vs the network as given -------------------
        prod = _run("product", inputs["product"], tmp, args)
        sec = prod["seconds"]
        keys["product_size"] = args.eff_size
        keys["product_patches"] = prod["patches"]
        keys["prepare_speedup"] = _median(_ratios(sec["raw_given"], sec["raw_prepared"]))
        keys["keep_freed_memory_speedup"] = _median(
            _ratios(sec["raw_prepared"], sec["raw_prepared_kept"])
        )
        keys["as_shipped_vs_raw_given"] = _median(_ratios(sec["raw_given"], sec["shipped"]))
        keys["as_shipped_vs_monai_as_given"] = _median(_ratios(sec["monai_given"], sec["shipped"]))

        # -- memory: each run in its own process ------------------------------------------------
        small = _run("ours_cheap", inputs["25mp"], tmp, args)
        big = _run("ours_cheap", inputs["200mp"], tmp, args)
        keys["peak_rss_mb_25mp"] = round(small["peak_rss_mb"])
        keys["peak_rss_mb_200mp"] = round(big["peak_rss_mb"])
        keys["rss_ratio_200_25"] = round(big["peak_rss_mb"] / small["peak_rss_mb"], 3)
        keys["seconds_200mp_cheap"] = round(big["seconds"], 1)
        ours = _run("ours_unet", inputs["equal"], tmp, args)
        monai = _run("monai", inputs["equal"], tmp, args)
        keys["ours_peak_rss_mb_unet"] = round(ours["peak_rss_mb"])
        keys["monai_peak_rss_mb_unet"] = round(monai["peak_rss_mb"])
        keys["vs_monai_peak_mem"] = round(ours["peak_rss_mb"] / monai["peak_rss_mb"], 3)

        bf16 = _run("bf16", "-", tmp, args)
        keys["cpu_native_bf16"] = bf16["native_bf16"]
        keys["bf16_speedup"] = round(bf16["speedup"], 3)
        keys["bf16_max_dev"] = round(bf16["max_dev"], 4)
        keys["load_avg_end"] = _load()
        keys["bench_seconds"] = round(time.perf_counter() - started, 1)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    quality_ok = keys["large_tile_rmse_rel"] <= keys["overlap_rmse_rel"]
    large_verdict = "met" if keys["large_tile_speedup"] >= 2.5 and quality_ok else "MISSED"
    print(
        f"summary: targets on equal terms (one prepared network on every side, "
        f"{args.monai_size} px, median of {args.reps} interleaved): engine_efficiency "
        f"{keys['engine_efficiency']} (>= 0.95 {_verdict(keys['engine_efficiency'], 0.95)}), "
        f"vs_monai_throughput {keys['vs_monai_throughput']} "
        f"(>= 1.05 {_verdict(keys['vs_monai_throughput'], 1.05)}), large_tile_speedup "
        f"{keys['large_tile_speedup']} with rmse {keys['large_tile_rmse_rel']} vs "
        f"{keys['overlap_rmse_rel']} for s={S} (>= 2.5, rmse no worse: {large_verdict}); "
        f"peak RSS {keys['peak_rss_mb_25mp']}/{keys['peak_rss_mb_200mp']} MB at 25/200 MP, "
        f"{keys['vs_monai_peak_mem']}x MONAI's; product view, not a target: as shipped "
        f"{keys['as_shipped_vs_monai_as_given']}x MONAI as given, preparation "
        f"{keys['prepare_speedup']}x, allocator setting {keys['keep_freed_memory_speedup']}x; "
        f"load {keys['load_avg_start']} -> {keys['load_avg_end']}; "
        f"{keys['bench_seconds']} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
