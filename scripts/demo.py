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
        from marsspec.core.simulator import simulate_scene  # noqa: F401
    except ImportError:
        return _fallback_raster(out / "sample_ctx.tif")
    from marsspec.cli.main import main as cli_main

    scene = out / "scene"
    args = ["--out", str(scene), "--seed", "7", "--size", "512", "--site", "jezero"]
    code = cli_main(["simulate", *args])
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


def predict_spectra_step(out: Path, ctx: Path) -> dict[str, Path]:
    """marsspec:predictspectra (EVC regression + browse) and marsspec:binconfidence."""
    evc, browse, conf = out / "evc_predicted.tif", out / "evc_browse.tif", out / "confidence.tif"
    qgis_process(
        "marsspec:predictspectra",
        "--",
        f"INPUT={ctx}",
        "MODEL=evc-regression",
        f"OUTPUT={evc}",
        f"BROWSE={browse}",
    )
    qgis_process(
        "marsspec:binconfidence",
        "--",
        f"INPUT={ctx}",
        "MODEL=evc-bins20",
        "MEASURE=max_probability",
        f"CONFIDENCE={conf}",
    )
    return {"evc": evc, "browse": browse, "confidence": conf}


# ---- HOOK for the super-resolution step (issue 7) -----------------------------------------
# Add the marsspec:superresolve run on the scene's cassis.tif here and return its outputs;
# main() calls it after the spectral step. Keep it independent of the spectral outputs.
def superres_step(out: Path, scene: Path) -> dict[str, Path]:
    if not (scene / "cassis.tif").is_file():  # the fallback scene has no CaSSIS product
        return {}
    from demo_superres import demo_superres  # scripts/demo_superres.py (issue 7)

    return demo_superres(scene, out, qgis_process)


# ---- END HOOK ------------------------------------------------------------------------------


def _stretch(band, valid):
    import numpy as np

    v = band[valid]
    lo, hi = v.mean() - 3 * v.std(), v.mean() + 3 * v.std()
    out = np.clip((band - lo) / max(hi - lo, 1e-12), 0, 1)
    out[~valid] = 0
    return out


def previews(out: Path, ctx: Path, results: dict[str, Path]) -> Path:
    """PNG: CTX | predicted EVC | truth EVC | confidence (all 3-sigma stretched)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import rasterio

    def read(path, bands=None):
        with rasterio.open(path) as src:
            return src.read(bands, masked=True).astype("float64").filled(np.nan)

    c = read(ctx, 1)
    pred = read(results["evc"])
    conf = read(results["confidence"])
    panels = [("CTX (input)", _stretch(c, np.isfinite(c)), "gray")]
    rgb = np.dstack([_stretch(b, np.isfinite(b)) for b in pred])
    panels.append(("Predicted EVC (592/533/442 nm)", rgb, None))
    truth = ctx.parent / "crism_target.tif"
    if truth.is_file():
        t = read(truth, [1, 2, 3])
        valid = np.all(np.isfinite(t), axis=0)
        panels.append(("Simulated truth EVC", np.dstack([_stretch(b, valid) for b in t]), None))
    panels.append(("Confidence (max bin prob.)", conf[-1], "viridis"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.4))
    for ax, (title, image, cmap) in zip(axes, panels, strict=True):
        shown = ax.imshow(image, cmap=cmap)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
        if cmap == "viridis":
            fig.colorbar(shown, ax=ax, fraction=0.046)
    fig.suptitle("marsspec demo - models trained on SIMULATED scenes", fontsize=11)
    fig.tight_layout()
    path = out / "spectra_preview.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
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
    spectral = predict_spectra_step(out, ctx)
    print(f"demo: preview {previews(out, ctx, spectral)}")
    for key, path in superres_step(out, ctx.parent).items():
        print(f"demo: super-resolution {key}: {path}")
    print(f"demo: outputs in {out}")


if __name__ == "__main__":
    main()
