"""Benchmark of the streaming tiling engine (issue 3): ``make bench-tiling``.

Prints ``key=value`` lines and a one-line summary last. Every measurement runs in its own
subprocess so that its peak resident memory (``ru_maxrss``) is its own. Model: smp U-Net with an
EfficientNet-B0 encoder (1 band in, 3 out, random weights), channels_last, fp32 unless said.
Not a test: nothing here asserts a time. Sizes are flags; the defaults are the issue's (MONAI at
4096 px), about 9 minutes on the idle 2-core development box; ``--monai-size 1024
--eff-size 768`` gives a quick look (see docs/tiling.md).

    python benchmarks/bench_tiling.py [--monai-size 4096] [--eff-size 1024] [--keep]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
D, S, BATCH = 256, 2, 8
LARGE_TILE, MARGIN = 512, 32


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


def _raw_forward(model, n_patches: int, size: int = D) -> float:
    """Forward passes only: the same number of patches and batch size, data already in RAM."""
    import torch

    gen = torch.Generator().manual_seed(0)
    batches = []
    for start in range(0, n_patches, BATCH):
        n = min(BATCH, n_patches - start)
        x = torch.rand(n, 1, size, size, generator=gen)
        batches.append(x.contiguous(memory_format=torch.channels_last))
    begin = time.perf_counter()
    with torch.inference_mode():
        for x in batches:
            model(x).float().numpy()
    return time.perf_counter() - begin


def _n_patches(path: str, **kw) -> int:
    import rasterio

    with rasterio.open(path) as ds:
        return _config(**kw).plan(ds.height, ds.width).n_patches


def _whole(model, path: str):
    import rasterio
    import torch

    with rasterio.open(path) as ds:
        x = torch.from_numpy(ds.read(1).astype("float32"))[None, None]
    with torch.inference_mode():
        return model(x.contiguous(memory_format=torch.channels_last)).float().numpy()[0]


def task_efficiency(src: str, tmp: str) -> dict:
    """Pipeline cost and the preparation's gain on one raster, all in one process.

    The engine runs the network as its prepared copy (core.tiling.prepare), so its pipeline
    overhead is judged against the raw forward of that same copy; the given network's raw
    forward gives the preparation's speed-up, and MONAI and the engine with
    ``prepare_model=False`` run the network as given on the same raster.
    """
    import torch

    from marsspec.core.tiling.prepare import prepare_for_inference

    model = _unet()
    prepared = prepare_for_inference(model).module
    n = _n_patches(src)
    warm = torch.rand(BATCH, 1, D, D).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():  # warm-up: first calls allocate and pick kernels
        model(warm)
        prepared(warm)
    runs = {
        "raw_given": lambda rep: _raw_forward(model, n),
        "raw_prepared": lambda rep: _raw_forward(prepared, n),
        "tiled": lambda rep: _tiled(src, f"{tmp}/eff{rep}.tif", model),
        "tiled_as_given": lambda rep: _tiled(
            src, f"{tmp}/effg{rep}.tif", model, prepare_model=False
        ),
        "monai": lambda rep: _monai_seconds(model, _read_image(src)),
    }
    seconds = dict.fromkeys(runs, 0.0)
    for rep in range(2):  # interleaved, so a change in machine load hits all alike
        for name, run in runs.items():
            seconds[name] += run(rep) / 2
    return {"patches": n, **seconds}


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


def task_bf16() -> dict:
    import torch

    from marsspec.core.devices import cpu_has_native_bf16

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
        "native_bf16": cpu_has_native_bf16(),
    }


def task_large_tile(src: str, tmp: str) -> dict:
    import numpy as np
    import rasterio

    model = _unet()
    ref = _whole(model, src)  # the fully convolutional answer with no tiling at all
    result = {}
    for name, kw in (("overlap", {}), ("large", {"large_tile": LARGE_TILE, "margin": MARGIN})):
        seconds = _tiled(src, f"{tmp}/out_{name}.tif", model, **kw)
        with rasterio.open(f"{tmp}/out_{name}.tif") as ds:
            err = ds.read() - ref
        result[name] = {
            "seconds": seconds,
            "rmse_rel": float(np.sqrt((err**2).mean()) / ref.std()),
            "maxdev_rel": float(np.abs(err).max() / (ref.max() - ref.min())),
        }
    return result


def _task_main(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    tasks = {
        "efficiency": lambda: task_efficiency(args.src, args.tmp),
        "ours_unet": lambda: task_ours(args.src, args.tmp, "unet"),
        "ours_cheap": lambda: task_ours(args.src, args.tmp, "cheap"),
        "monai": lambda: task_monai(args.src),
        "bf16": task_bf16,
        "large_tile": lambda: task_large_tile(args.src, args.tmp),
    }
    print(json.dumps(tasks[args.task]()))


# -- the driver ------------------------------------------------------------------------------
class _Keys(dict):
    """Prints each ``key=value`` as soon as it is measured (a cut-off run still reports)."""

    def __setitem__(self, key: str, value: object) -> None:
        super().__setitem__(key, value)
        print(f"{key}={value}", flush=True)


def _run(task: str, src: str | Path, tmp: Path, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--task", task, "--src", str(src), "--tmp", str(tmp)]
    cmd += ["--threads", str(threads)]
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
        "eff": write_large_raster(tmp / "eff.tif", args.eff_size, args.eff_size, seed=1),
        "monai": write_large_raster(tmp / "monai.tif", args.monai_size, args.monai_size, seed=2),
        "large": write_large_raster(tmp / "large.tif", args.large_size, args.large_size, seed=3),
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task")
    parser.add_argument("--src")
    parser.add_argument("--tmp")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eff-size", type=int, default=1024, help="efficiency raster edge")
    parser.add_argument("--monai-size", type=int, default=4096, help="MONAI comparison edge")
    parser.add_argument("--large-size", type=int, default=1024, help="large-tile raster edge")
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
        for key, value in (("threads", args.threads), ("d", D), ("s", S), ("batch", BATCH)):
            keys[key] = value
        keys["input_gen_s"] = round(time.perf_counter() - started, 1)

        eff = _run("efficiency", inputs["eff"], tmp, args.threads)
        keys["efficiency_patches"] = eff["patches"]
        keys["raw_forward_patches_per_s"] = round(eff["patches"] / eff["raw_given"], 3)
        keys["tiled_patches_per_s"] = round(eff["patches"] / eff["tiled"], 3)
        # the ratio: the engine as shipped against a raw loop over the given network
        keys["engine_efficiency"] = round(eff["raw_given"] / eff["tiled"], 3)
        # what reading, blending, writing (and preparing) cost: the same network both sides
        keys["pipeline_efficiency"] = round(eff["raw_prepared"] / eff["tiled"], 3)
        keys["engine_efficiency_as_given"] = round(eff["raw_given"] / eff["tiled_as_given"], 3)
        keys["prepare_speedup"] = round(eff["raw_given"] / eff["raw_prepared"], 3)
        keys["vs_monai_throughput_eff"] = round(eff["monai"] / eff["tiled"], 3)
        keys["vs_monai_throughput_eff_as_given"] = round(eff["monai"] / eff["tiled_as_given"], 3)

        small = _run("ours_cheap", inputs["25mp"], tmp, args.threads)
        big = _run("ours_cheap", inputs["200mp"], tmp, args.threads)
        keys["peak_rss_mb_25mp"] = round(small["peak_rss_mb"])
        keys["peak_rss_mb_200mp"] = round(big["peak_rss_mb"])
        keys["rss_ratio_200_25"] = round(big["peak_rss_mb"] / small["peak_rss_mb"], 3)
        keys["seconds_200mp_cheap"] = round(big["seconds"], 1)

        ours = _run("ours_unet", inputs["monai"], tmp, args.threads)
        monai = _run("monai", inputs["monai"], tmp, args.threads)
        keys["monai_size"] = args.monai_size
        keys["ours_seconds"] = round(ours["seconds"], 1)
        keys["monai_seconds"] = round(monai["seconds"], 1)
        keys["ours_peak_rss_mb_unet"] = round(ours["peak_rss_mb"])
        keys["monai_peak_rss_mb_unet"] = round(monai["peak_rss_mb"])
        keys["vs_monai_throughput"] = round(monai["seconds"] / ours["seconds"], 3)
        keys["vs_monai_peak_mem"] = round(ours["peak_rss_mb"] / monai["peak_rss_mb"], 3)

        bf16 = _run("bf16", "-", tmp, args.threads)
        keys["cpu_native_bf16"] = bf16["native_bf16"]
        keys["bf16_speedup"] = round(bf16["speedup"], 3)
        keys["bf16_max_dev"] = round(bf16["max_dev"], 4)

        large = _run("large_tile", inputs["large"], tmp, args.threads)
        keys["large_tile"] = f"{LARGE_TILE}/{MARGIN}"
        keys["large_tile_speedup"] = round(
            large["overlap"]["seconds"] / large["large"]["seconds"], 3
        )
        keys["overlap_rmse_rel"] = round(large["overlap"]["rmse_rel"], 4)
        keys["large_tile_rmse_rel"] = round(large["large"]["rmse_rel"], 4)
        keys["large_tile_quality_change"] = round(
            large["large"]["rmse_rel"] - large["overlap"]["rmse_rel"], 4
        )
        keys["large_tile_maxdev_rel"] = round(large["large"]["maxdev_rel"], 4)
        keys["overlap_maxdev_rel"] = round(large["overlap"]["maxdev_rel"], 4)
        keys["bench_seconds"] = round(time.perf_counter() - started, 1)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"summary: efficiency {keys['engine_efficiency']} (target >= 0.95; pipeline alone "
        f"{keys['pipeline_efficiency']}, preparation {keys['prepare_speedup']}x), peak RSS "
        f"{keys['peak_rss_mb_25mp']}/{keys['peak_rss_mb_200mp']} MB at 25/200 MP "
        f"(x{keys['rss_ratio_200_25']}), vs MONAI {keys['vs_monai_throughput']}x throughput and "
        f"{keys['vs_monai_peak_mem']}x memory, bf16 {keys['bf16_speedup']}x, large tiles "
        f"{keys['large_tile_speedup']}x (rmse change {keys['large_tile_quality_change']:+}), "
        f"{keys['bench_seconds']} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
