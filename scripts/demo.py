"""`make demo`: run marsspec through qgis_process on the embedded sample scene.

Writes everything under the output folder (default demo-output/). The Makefile provides the
environment (isolated QGIS profile, plugin enabled, venv packages on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def qgis_process(*args: str) -> dict:
    executable = os.environ.get("MARSSPEC_QGIS_PROCESS", "/usr/bin/qgis_process.bin")
    command = [executable, "run", *args, "--json"]
    print("demo: " + " ".join(command), flush=True)
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout + completed.stderr)
        raise SystemExit(f"demo: qgis_process failed with exit code {completed.returncode}")
    return json.loads(completed.stdout[completed.stdout.index("{") :])


def make_sample_scene(out: Path) -> Path:
    """The sample scene: the simulator's CTX-like image when available, else a test raster."""
    try:
        from marsspec.training.simulator import simulate_scene  # noqa: F401
    except ImportError:
        return _fallback_raster(out / "sample_ctx.tif")
    from marsspec.core.cli import main as cli_main

    scene = out / "scene"
    code = cli_main(["simulate", "--out", str(scene), "--seed", "7", "--size", "512"])
    if code != 0:
        raise SystemExit("demo: the simulator failed")
    candidates = sorted(scene.glob("*ctx*.tif"))
    if not candidates:
        raise SystemExit(f"demo: the simulator wrote no CTX product in {scene}")
    return candidates[0]


def _fallback_raster(path: Path) -> Path:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(7)
    data = rng.normal(0.2, 0.02, (256, 256)).astype("float32")
    profile = {
        "driver": "GTiff",
        "width": 256,
        "height": 256,
        "count": 1,
        "dtype": "float32",
        "nodata": -9999.0,
        "crs": "+proj=eqc +lat_ts=0 +lon_0=0 +R=3396190 +units=m +no_defs",
        "transform": from_origin(4_600_000.0, 1_090_000.0, 6.0, 6.0),
    }
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(data, 1)
        dataset.set_band_description(1, "CTX-like I/F, 500-700 nm")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "demo-output")
    out = parser.parse_args().out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    ctx = make_sample_scene(out)
    report = out / "describe_ctx.json"
    result = qgis_process("marsspec:describe", "--", f"INPUT={ctx}", f"OUTPUT={report}")
    outputs = result["results"]
    print(
        f"demo: {ctx.name}: {outputs['WIDTH']:.0f} x {outputs['HEIGHT']:.0f} px, "
        f"body {outputs['CRS_BODY']}, pixel {outputs['PIXEL_SIZE_X']:.3g} m"
    )
    print(f"demo: outputs in {out}")


if __name__ == "__main__":
    main()
