"""`marsspec eval real` (`make eval-real`): real pairs, real training, held-out real products.

No co-located real CTX/CRISM pair ships with marsspec, but real CRISM MTRDR *browse* products
(``../shared/data/crism_mtrdr_browse_nili``, the TAN browse ``*_brtanj_mtr3``) hold real
corrected I/F at 2529, 1330 and 770 nm (byte-scaled: value = OFFSET + DN x SCALING_FACTOR,
DN 255 = outside the footprint). :func:`make_real_pair` turns one product into a training
scene in the layout of training/spectra/data.py: R770 as the single input band (``ctx.tif``),
R1330 and R2529 as the target (``crism_target.tif``), NaN outside the footprint, on the
product's own Mars grid (18 m/px).

The evaluation holds products out by observation id: it trains through the CLI (``marsspec
train`` with ``target_wavelengths_nm: [1330, 2529]``) on the ``--train`` observations,
exports to a temporary user models folder (``MARSSPEC_MODELS_DIR``), and scores the held-out
``--test`` observations with ``eval spectra --data`` against the per-band linear baseline
fitted on the training products. The answer to "does the network beat linear?" is the
``model_beats_baseline_*`` keys, whichever way it comes out.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from marsspec.core.errors import InputError

DATA_DIR = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "crism_mtrdr_browse_nili"
)
PATTERN = "*_brtanj_mtr3.img"
INPUT_NM = 770.0
TARGET_NM = (1330.0, 2529.0)
TRAIN_IDS = ("frt00005acd", "frt000064d9", "frt00008530")
TEST_IDS = ("frt00008fc1", "frt0000a4b5")


def tan_products(folder: str | Path = DATA_DIR) -> dict[str, Path]:
    """Observation id (e.g. ``frt000064d9``) -> its TAN browse ``.img``."""
    root = Path(folder)
    found = {p.name.split("_")[0].lower(): p for p in sorted(root.glob(PATTERN))}
    if not found:
        raise InputError(
            f"No CRISM TAN browse product ({PATTERN}) in {str(root)!r}; give --products."
        )
    return found


def make_real_pair(
    product: str | Path,
    scene: str | Path,
    *,
    window: tuple[int, int, int, int] | None = None,
) -> Path:
    """Write ``scene/ctx.tif`` (R770) and ``scene/crism_target.tif`` (R1330, R2529) in I/F
    from a TAN browse product; ``window`` = (row, col, height, width) crops it."""
    import rasterio
    from rasterio.windows import Window

    from marsspec.core.io.product import open_product
    from marsspec.core.io.safety import OutputSet, create_raster

    info = open_product(Path(product))
    names = [n.upper() for n in info.band_names]
    wanted = [f"R{INPUT_NM:g}", *(f"R{lam:g}" for lam in TARGET_NM)]
    missing = [n for n in wanted if n not in names]
    if missing:
        raise InputError(f"{Path(product).name} has no band {', '.join(missing)} (bands {names}).")
    with rasterio.open(product) as src:
        win = Window(window[1], window[0], window[3], window[2]) if window else None
        dn = src.read(window=win)
        transform = src.window_transform(win) if win is not None else src.transform
        crs = src.crs
    nodata = int(info.nodata if info.nodata is not None else 255)
    refl = {}
    for name in wanted:
        i = names.index(name)
        values = info.offsets[i] + dn[i].astype(np.float64) * info.scales[i]
        refl[name] = np.where(dn[i] == nodata, np.nan, values).astype(np.float32)
    scene = Path(scene)
    scene.mkdir(parents=True, exist_ok=True)
    profile = dict(
        driver="GTiff",
        height=dn.shape[1],
        width=dn.shape[2],
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=float("nan"),
        tiled=True,
        blockxsize=256,
        blockysize=256,
    )
    outputs = {"ctx": scene / "ctx.tif", "target": scene / "crism_target.tif"}
    with OutputSet(outputs, inputs=[product]) as out:
        with create_raster(out.temp("ctx"), count=1, **profile) as dst:
            dst.write(refl[wanted[0]], 1)
            dst.set_band_description(1, wanted[0])
            dst.update_tags(1, WAVELENGTH_NM=f"{INPUT_NM:g}", units="I/F")
            dst.update_tags(SOURCE=Path(product).name)
        with create_raster(out.temp("target"), count=len(TARGET_NM), **profile) as dst:
            for k, name in enumerate(wanted[1:], start=1):
                dst.write(refl[name], k)
                dst.set_band_description(k, name)
                dst.update_tags(k, WAVELENGTH_NM=name[1:], units="I/F")
            dst.update_tags(SOURCE=Path(product).name)
    return scene


def write_config(path: Path, *, scenes: str, out_dir: Path, model_id: str, **overrides) -> Path:
    """A spectra-regression training config for the real pairs (YAML)."""
    import yaml

    config = {
        "id": model_id,
        "task": "spectra-regression",
        "product": "fc",
        "out_dir": str(out_dir),
        "scenes": [scenes],
        "target_wavelengths_nm": list(TARGET_NM),
        "arch": "Unet",
        "encoder": "efficientnet-b0",
        "decoder_channels": [64, 32, 16, 16, 16],
        "patch_size": 64,  # small patches: many steps in a few CPU minutes
        "min_valid": 0.5,
        "batch_size": 8,
        "lr": 1e-3,
        "schedule": "cosine",
        "warmup_steps": 20,
        "max_steps": 300,
        "val_every": 100,
        "seed": 0,
        "device": "cpu",
        "precision": "fp32",
    }
    config.update(overrides)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--products", default=str(DATA_DIR), help="folder of TAN browse products")
    parser.add_argument("--train", default=",".join(TRAIN_IDS), help="observation ids to train on")
    parser.add_argument("--test", default=",".join(TEST_IDS), help="held-out observation ids")
    parser.add_argument("--max-minutes", type=float, default=5.0, help="training time budget")
    parser.add_argument("--max-steps", type=int, default=3000)
    parser.add_argument("--work-dir", default=None, help="keep pairs, run and model here")
    parser.add_argument("--csv", default=None, help="also write the per-image metrics here")


def _ids(text: str) -> list[str]:
    return [t.strip().lower() for t in text.split(",") if t.strip()]


def run(args: argparse.Namespace) -> dict[str, float | str]:
    products = tan_products(args.products)
    train, test = _ids(args.train), _ids(args.test)
    unknown = [i for i in train + test if i not in products]
    if unknown or not train or not test or set(train) & set(test):
        raise InputError(
            f"--train/--test: give disjoint, non-empty lists of {', '.join(products)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
            + "."
        )
    with contextlib.ExitStack() as stack:
        if args.work_dir:
            work = Path(args.work_dir).resolve()
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="marsspec-real-")))
        return _run(args, products, train, test, work)


def _run(args, products, train, test, work: Path) -> dict[str, float | str]:
    for group, ids in (("train", train), ("test", test)):
        for obs in ids:
            if not (work / group / obs / "crism_target.tif").is_file():
                make_real_pair(products[obs], work / group / obs)
    model_id = "real-tan-eval"
    config = write_config(
        work / "real.yaml",
        scenes=str(work / "train" / "*"),
        out_dir=work / "run",
        model_id=model_id,
        max_steps=args.max_steps,
        max_minutes=args.max_minutes,
    )
    env = dict(os.environ, MARSSPEC_MODELS_DIR=str(work / "models"))
    start = time.perf_counter()
    _cli(["train", "--config", str(config)], env)
    minutes = (time.perf_counter() - start) / 60
    checkpoint = work / "run" / "best.pt"
    _cli(["export", "--checkpoint", str(checkpoint), "--real", "--replace"], env)
    from marsspec.training.evaluation import spectra

    options = ["--data", str(work / "test"), "--model", model_id]
    options += ["--baseline-from", str(work / "train"), "--device", "cpu", "--precision", "fp32"]
    if args.csv:
        options += ["--csv", args.csv]
    parser = argparse.ArgumentParser()
    spectra.add_arguments(parser)
    old = os.environ.get("MARSSPEC_MODELS_DIR")
    os.environ["MARSSPEC_MODELS_DIR"] = env["MARSSPEC_MODELS_DIR"]
    try:
        scored = spectra.run(parser.parse_args(options))
    finally:
        if old is None:
            os.environ.pop("MARSSPEC_MODELS_DIR", None)
        else:
            os.environ["MARSSPEC_MODELS_DIR"] = old
    results: dict[str, float | str] = {
        "train_products": ",".join(train),
        "test_products": ",".join(test),
        "input_nm": INPUT_NM,
        "target_nm": ",".join(f"{lam:g}" for lam in TARGET_NM),
        "train_minutes": minutes,
        "cpu_threads": _threads(),
    }
    results.update({k: v for k, v in scored.items() if k != "data"})
    return results


def _threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _cli(argv: list[str], env: dict[str, str]) -> None:
    """Run ``python -m marsspec ARGV`` as a user would; its output goes to stderr (stdout is
    for this evaluation's keys); a failure is one InputError with its last line."""
    done = subprocess.run(
        [sys.executable, "-m", "marsspec", *argv],
        env=env,
        stdout=sys.stderr,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"eval real: `marsspec {' '.join(argv)}` failed: {last}")
