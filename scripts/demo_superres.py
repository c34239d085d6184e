"""The `make demo` super-resolution step (issue 7): the sample scene's CaSSIS-like colour, 4x.

A 128 x 128 px crop of the simulated CaSSIS NIR/PAN/BLU composite (the paper's "NPB" colour)
goes through marsspec:superresolve (HSV mode, bundled PSNR model) in qgis_process; a preview
PNG shows the bicubic x4 upscale beside the super-resolved result, with one shared stretch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

CROP = 128
NPB = ("NIR", "PAN", "BLU")  # CaSSIS colour as in paper 002 (R, G, B = NIR, PAN, BLU)


def _crop_npb(cassis: Path, out: Path) -> Path:
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(cassis) as src:
        names = [d or "" for d in src.descriptions]
        order = [next(i + 1 for i, d in enumerate(names) if key in d.upper()) for key in NPB]
        size = min(CROP, src.width, src.height)
        window = Window((src.width - size) // 2, (src.height - size) // 2, size, size)
        data = src.read(order, window=window)
        profile = {
            **src.profile,
            "count": 3,
            "width": size,
            "height": size,
            "transform": src.window_transform(window),
        }
        profile.pop("blockxsize", None), profile.pop("blockysize", None)
        profile["tiled"] = False
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(data)
            for band, index in enumerate(order, start=1):
                dst.set_band_description(band, names[index - 1])
                dst.update_tags(band, **src.tags(index))
    return out


def _preview(lr_path: Path, sr_path: Path, png: Path) -> Path:
    import numpy as np
    import rasterio
    import torch
    from PIL import Image

    with rasterio.open(lr_path) as lr_src, rasterio.open(sr_path) as sr_src:
        lr = lr_src.read().astype("float32")
        sr = sr_src.read().astype("float32")
    bicubic = torch.nn.functional.interpolate(
        torch.from_numpy(np.nan_to_num(lr))[None], scale_factor=4, mode="bicubic"
    )[0].numpy()
    lo, hi = np.nanpercentile(sr, [1, 99])

    def to8(a):
        return (np.clip((np.nan_to_num(a, nan=lo) - lo) / (hi - lo), 0, 1) * 255).astype("uint8")

    gap = np.full((3, sr.shape[1], 8), 255, "uint8")
    side = np.concatenate([to8(bicubic), gap, to8(sr)], axis=2)  # 8-bit for the preview only
    Image.fromarray(np.moveaxis(side, 0, -1)).save(png)
    return png


def demo_superres(scene_dir: Path, out: Path, qgis_process: Callable[..., dict]) -> dict[str, Path]:
    """Super-resolve the scene's CaSSIS crop through qgis_process; returns the outputs."""
    crop = _crop_npb(scene_dir / "cassis.tif", out / "cassis_npb_crop.tif")
    sr = out / "cassis_npb_sr4x.tif"
    qgis_process(
        "marsspec:superresolve",
        "--",
        f"INPUT={crop}",
        "BANDS=1,2,3",
        "COLOUR_MODE=hsv",
        f"OUTPUT={sr}",
    )
    png = _preview(crop, sr, out / "cassis_npb_sr4x_preview.png")
    print(
        f"demo: CaSSIS-like colour super-resolved 4x -> {sr.name}, preview {png.name} "
        "(left bicubic x4, right MARSGAN)"
    )
    return {"cassis_npb_crop": crop, "cassis_npb_sr4x": sr, "preview": png}
