"""`make screenshots`: PNGs of marsspec in the real QGIS desktop, for the README (docs/img/).

1. simulate a Mars scene (CTX-like image; marsspec's simulator, not real data);
2. predict its EVC bands with the bundled bin model through ``qgis_process`` (the same
   algorithm a user runs);
3. start QGIS under Xvfb with the plugin (tests/desktop_scenario.py): load CTX and the EVC
   (styled automatically), right-click -> "Predict spectra...", click a pixel with the
   bin-probability inspector, and grab the Processing dialog, the dock, the canvas and the
   main window.

Run through the Makefile (it sets the environment). Needs Debian's xvfb and the qgis package.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `tests` (the desktop runner and scenario live there)

SHOTS = (
    "inspector-dock.png",
    "evc-over-ctx.png",
    "processing-dialog.png",
    "qgis-window.png",
)


def simulate(work: Path) -> Path:
    from marsspec.core.simulator import SceneConfig, simulate_scene

    scene = simulate_scene(SceneConfig(seed=7, size=512, site="jezero"), work / "scene")
    return Path(scene.files["ctx"])


def predict_evc(ctx: Path, work: Path, model_id: str) -> Path | None:
    """EVC bands predicted by ``marsspec:predictspectra`` (None when it is not available)."""
    from marsspec.core.options import model_ids

    executable = os.environ.get("MARSSPEC_QGIS_PROCESS", "/usr/bin/qgis_process.bin")
    out = work / "evc.tif"
    # MODEL's values are the model ids that predictspectra offers
    if model_id not in model_ids("predict"):
        print(f"screenshots: {model_id} is not offered by predictspectra", file=sys.stderr)
        return None
    command = [
        executable, "run", "marsspec:predictspectra", "--",
        f"INPUT={ctx}", f"MODEL={model_id}", f"OUTPUT={out}",
    ]  # fmt: skip
    print("screenshots: " + " ".join(command), flush=True)
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0 or not out.exists():
        print(
            "screenshots: predictspectra failed or is not available; no EVC screenshot\n"
            + (completed.stdout + completed.stderr)[-2000:],
            file=sys.stderr,
        )
        return None
    return window_of(out, work / "evc-window.vrt")


def window_of(path: Path, vrt: Path) -> Path:
    """The central part of the prediction as a VRT (tags kept), so the screenshot shows the
    styled EVC *over* its CTX input with the CTX visible around it."""
    from osgeo import gdal

    dataset = gdal.Open(str(path))
    width, height = dataset.RasterXSize, dataset.RasterYSize
    window = [width // 5, height // 5, (3 * width) // 5, (3 * height) // 5]
    gdal.Translate(str(vrt), dataset, srcWin=window, format="VRT")
    return vrt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "screenshots")
    parser.add_argument("--model", default="evc-bins20", help="bin model for the inspector")
    parser.add_argument("--manifest", default="", help="manifest of --model (default: bundled)")
    args = parser.parse_args(argv)

    from tests import qgis_desktop

    reason = qgis_desktop.available()
    if reason:
        raise SystemExit(f"screenshots: cannot start the QGIS desktop: {reason}")
    from marsspec.core.models.manifest import load_manifest

    if args.model not in load_manifest(args.manifest or None).ids():
        raise SystemExit(
            f"screenshots: model {args.model!r} is not installed; export it first "
            "(see models/README.md) or pass --model/--manifest."
        )
    args.work.mkdir(parents=True, exist_ok=True)
    ctx = simulate(args.work)
    evc = predict_evc(ctx, args.work, args.model)
    env = {
        "MARSSPEC_SCENARIO_CTX": str(ctx),
        "MARSSPEC_SCENARIO_MANIFEST": args.manifest,
        "MARSSPEC_SCENARIO_MODEL": args.model,
        "MARSSPEC_SCENARIO_SHOTS": str(args.out),
        "MARSSPEC_SCENARIO_EVC": str(evc or ""),
    }
    report = qgis_desktop.run_scenario(
        ROOT / "tests" / "desktop_scenario.py", args.work / "desktop", env=env, timeout=300
    )
    report.pop("_log", None)
    written = [name for name in SHOTS if (args.out / name).exists()]
    for name in written:
        print(f"screenshot={args.out / name}")
    for key in ("preload_seconds", "click_seconds", "second_click_seconds"):
        if key in report:
            print(f"inspector_{key}={report[key]:.2f}")
    if report.get("errors"):
        print("screenshots: the scenario reported errors:\n" + json.dumps(report["errors"]))
        return 1
    return 0 if len(written) == len(SHOTS) else 1


if __name__ == "__main__":
    raise SystemExit(main())
