"""Benchmark of scale-out on Dask (issue 19): ``make bench-scale``.

Prints ``key=value`` lines. Not a test: nothing here asserts a time.

One multi-block job (spectral prediction, bundled evc-regression, CPU fp32, batch 8) runs on a
``local:1`` and then a ``local:2`` cluster (single-thread worker processes, one torch thread
each), each from scratch (new output folder, no blocks reused):

* ``scale_speedup_2w``: wall time of 1 worker / 2 workers for the whole job (cluster start not
  counted; the prepare pass, the blocks and the COG counted), and ``scale_speedup_blocks_2w``
  for the block phase alone (the prepare pass and the COG are one task each, Amdahl's part);
* ``peak_rss_mb_per_worker``: the largest ``ru_maxrss`` any worker reported (whole process);
* ``scheduler_overhead_s_per_block`` / ``scheduler_overhead_fraction``: on one worker the
  blocks run back to back, so the gaps between one block's end and the next one's start on the
  worker (scheduling, serialisation, the driver's bookkeeping) per block, and that over the
  mean block time;
* ``block_io_s_per_block``: inside a task but outside the job (window VRT, copy of the
  interior into the block GeoTIFF);
* ``identity_cost``: pixels predicted per output pixel (halo) of this job's layout, and
  ``identity_cost_ctx_strip_4096``: the same for a 5,000 x 50,000 CTX strip in the default
  4,096 px blocks;
* ``cpu_px_per_s_per_worker``: output pixels per second per single-thread worker (blocks only),
  the basis of docs/scaling.md's estimates.

The load average is printed before and after: on a shared 2-core machine other processes
depress the speedup.

The default job, a 4096 x 4096 px raster in 16 blocks of 1,024 px (about 2 min in all on
2 cores), is the smallest that looks like scale-out work: blocks of several seconds and a
run-wide fixed part (cluster warm-up, statistics pass, COG) that is small beside them. A CTX
strip in the default 4,096 px blocks has more and longer blocks still. ``--size 1024 --block
512`` (blocks of about 1 s) and ``--size 2048 --block 1024`` were the earlier defaults
(docs/scaling.md keeps their numbers).

    python benchmarks/bench_scale.py [--size 4096] [--block 1024] [--keep]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def scene(path: Path, size: int) -> Path:
    """A CTX-like float32 raster in a Mars CRS at 6 m (the model's scale: no resampling)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(19)
    data = 200 + gaussian_filter(rng.normal(0, 1, (size, size)), 8) * 600
    data = (data + rng.normal(0, 4, (size, size))).astype("float32")
    crs = "+proj=eqc +lat_ts=0 +lat_0=0 +lon_0=0 +x_0=0 +y_0=0 +R=3396190 +units=m +no_defs"
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "float32",
        "crs": crs, "transform": from_origin(4_600_020.0, -1_090_002.0, 6.0, 6.0),
        "tiled": True, "blockxsize": 256, "blockysize": 256,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:  # the benchmark's input, not an output
        dst.write(data, 1)
    return path


def run(workers: int, source: Path, folder: Path, block: int):
    from marsspec.core.scaleout import ScaleoutOptions, run_scaled
    from marsspec.core.spectral import PredictRequest

    folder.mkdir(parents=True, exist_ok=True)
    request = PredictRequest(input=source, output=folder / "evc.tif", device="cpu")
    options = ScaleoutOptions(f"local:{workers}", block=block, threads=1)
    result = run_scaled([request], options)
    if result.failed:
        raise SystemExit(f"bench-scale: the run failed: {result.summary()}")
    return result


def span(reports) -> float:
    """Wall time of the block phase: first block start to last block end on the workers."""
    return max(r.finished for r in reports) - min(r.started for r in reports)


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="raster side in pixels")
    parser.add_argument("--block", type=int, default=1024, help="block side in pixels")
    parser.add_argument("--keep", action="store_true", help="keep the outputs")
    args = parser.parse_args()
    from marsspec.core.scaleout.layout import BlockLayout

    work = Path(tempfile.mkdtemp(prefix="marsspec-bench-scale-"))
    print(f"machine=cpu {os.cpu_count()} cores, no GPU", flush=True)
    print(f"loadavg_before={loadavg()}", flush=True)
    try:
        source = scene(work / "ctx.tif", args.size)
        one = run(1, source, work / "w1", args.block)
        two = run(2, source, work / "w2", args.block)
    finally:
        print(f"loadavg_after={loadavg()}", flush=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    p1, p2 = one.products[0], two.products[0]
    reports = sorted(p1.reports, key=lambda r: r.started)
    gaps = [b.started - a.finished for a, b in itertools.pairwise(reports)]
    mean_block = statistics.mean(r.seconds for r in reports)
    overhead = statistics.mean(gaps) if gaps else 0.0
    busy = sum(r.seconds for r in reports)
    io = statistics.mean(r.seconds - r.job_seconds for r in reports)
    layout = BlockLayout.plan(args.size, args.size, args.block, 256, 128)
    strip = BlockLayout.plan(50_000, 5_000, 4096, 256, 128)
    values = {
        "job": f"{args.size}x{args.size} px, {p1.layout}",
        "wall_s_1w": f"{one.seconds:.2f}",
        "wall_s_2w": f"{two.seconds:.2f}",
        "scale_speedup_2w": f"{one.seconds / two.seconds:.3f}",
        "scale_speedup_blocks_2w": f"{span(p1.reports) / span(p2.reports):.3f}",
        "peak_rss_mb_per_worker": f"{max(r.peak_rss_mb for r in p1.reports + p2.reports):.0f}",
        "block_s_mean": f"{mean_block:.3f}",
        "scheduler_overhead_s_per_block": f"{overhead:.4f}",
        "scheduler_overhead_fraction": f"{overhead / mean_block:.4f}",
        "block_io_s_per_block": f"{io:.3f}",
        "identity_cost": f"{layout.halo_ratio:.3f}",
        "identity_cost_ctx_strip_4096": f"{strip.halo_ratio:.3f}",
        "cpu_px_per_s_per_worker": f"{args.size * args.size / busy:.0f}",
        "cpu_read_px_per_s_per_worker": f"{sum(r.read_pixels for r in reports) / busy:.0f}",
    }
    for key, value in values.items():
        print(f"{key}={value}", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT.parent))
    sys.exit(main())
