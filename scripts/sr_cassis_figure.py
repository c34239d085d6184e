"""Side-by-side picture of a REAL CaSSIS framelet: bicubic x4 | marsgan-psnr | marsgan-gan.

Issue 17: the artefacts that PSNR hides (cross-hatching, invented texture on flat terrain) are
seen, not computed, so this figure goes in the docs beside `eval sr`'s numbers. A window of the
framelet is cut into a GeoTIFF and super-resolved through the same job as the CLI and the
Processing algorithm (``core.jobs.run`` with a SuperresRequest; the framelet has no map
projection, so it is read with an assumed Mars CRS, as ``--assume-crs mars`` does). All three
panels share one stretch (the bicubic's 1/99 % percentiles) and a 2x nearest zoom of a detail.

    python scripts/sr_cassis_figure.py --out docs/img/sr-cassis-framelet.png
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cassis_framelets"
FRAMELET = "singleFrameletProj/CAS-MCO-2016-11-26T22.58.02.583-PAN-00020-B1.xml"
PIXEL_SIZE_M = 4.6  # CaSSIS at ~400 km altitude; only the CRS needs it, the model is scale-free
WINDOW = 160  # LR pixels of the framelet shown (640 HR)


def _crop(framelet: Path, out: Path, col: int, row: int) -> Path:
    import rasterio
    from rasterio.windows import Window

    from marsspec.core.io.opening import job_input

    with (
        job_input(framelet, assume_crs="mars", pixel_size=PIXEL_SIZE_M) as opened,
        rasterio.open(opened.path) as src,
    ):
        size = min(WINDOW, src.height, src.width)
        window = Window(col, min(row, src.height - size), size, size)
        profile = {
            "driver": "GTiff",
            "dtype": "float32",
            "count": 1,
            "width": size,
            "height": size,
            "crs": src.crs,
            "transform": src.window_transform(window),
        }
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(src.read(1, window=window).astype(np.float32), 1)
    return out


def _superresolve(crop: Path, model: str, out: Path) -> np.ndarray:
    import rasterio

    from marsspec.core.jobs import run
    from marsspec.core.superres.job import SuperresConfig, SuperresRequest

    run(SuperresRequest(crop, out, SuperresConfig(model=model, device="cpu")))
    with rasterio.open(out) as src:
        return src.read(1)


def _bicubic(crop: Path) -> np.ndarray:
    import rasterio
    import torch
    from torch.nn import functional as tf

    with rasterio.open(crop) as src:
        lr = torch.from_numpy(src.read(1).astype(np.float32))[None, None]
    return tf.interpolate(lr, scale_factor=4, mode="bicubic")[0, 0].numpy()


def _panel(image: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (np.clip((image - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def compose(panels: dict[str, np.ndarray], out: Path) -> Path:
    """Full views on top, a 2x zoom of their centre below, one stretch, labelled."""
    from PIL import Image, ImageDraw

    lo, hi = np.percentile(panels["bicubic x4"], (1, 99))
    size = next(iter(panels.values())).shape[0]
    zoom = size // 4
    gap, label = 8, 18
    sheet = Image.new("L", (len(panels) * (size + gap) - gap, 2 * (size + label) + gap), color=255)
    draw = ImageDraw.Draw(sheet)
    for i, (name, image) in enumerate(panels.items()):
        x = i * (size + gap)
        grey = _panel(image, lo, hi)
        sheet.paste(Image.fromarray(grey), (x, label))
        centre = grey[size // 2 - zoom : size // 2 + zoom, size // 2 - zoom : size // 2 + zoom]
        sheet.paste(
            Image.fromarray(centre).resize((size, size), Image.NEAREST),
            (x, 2 * label + size + gap),
        )
        draw.text((x + 4, 3), name, fill=0)
        draw.text((x + 4, label + size + gap + 3), f"{name}, centre 2x", fill=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/sr-cassis-framelet.png"))
    parser.add_argument("--framelet", type=Path, default=DATA / FRAMELET)
    parser.add_argument("--col", type=int, default=940, help="window's first LR column")
    parser.add_argument("--row", type=int, default=60, help="window's first LR row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="marsspec-sr-figure-") as tmp:
        crop = _crop(args.framelet, Path(tmp) / "window.tif", args.col, args.row)
        panels = {"bicubic x4": _bicubic(crop)}
        for model in ("marsgan-psnr", "marsgan-gan"):
            panels[model] = _superresolve(crop, model, Path(tmp) / f"{model}.tif")
    print(f"wrote {compose(panels, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
