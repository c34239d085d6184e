"""The whole output from its blocks: a VRT over the block GeoTIFFs, optionally one COG.

The VRT names its blocks relative to itself (``evc.blocks/r0000_c0001.tif``), so the output
folder can be moved or synced to object storage as a whole. The COG (tiled, ZSTD, internal
overviews) is GDAL's streaming copy of that VRT: bounded memory however large the mosaic.
Both are written through an :class:`~marsspec.core.io.safety.OutputSet` (staged, published
together, nothing left behind on failure) and carry the provenance tags of the blocks plus the
block layout and the scheduler address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from marsspec.core.io.opening import open_raster
from marsspec.core.io.reading import gdal_dataset
from marsspec.core.io.safety import OutputSet, require_staged

COG_OPTIONS = (
    "COMPRESS=ZSTD",
    "LEVEL=1",
    "PREDICTOR=YES",
    "BLOCKSIZE=512",
    "OVERVIEWS=AUTO",
    "RESAMPLING=AVERAGE",
    "BIGTIFF=IF_SAFER",
)


def write_mosaic(
    blocks: Sequence[Path],
    vrt: Path,
    cog: Path | None,
    tags: Mapping[str, str],
    *,
    inputs: Sequence[Path] = (),
) -> dict[str, Path]:
    """Write ``vrt`` over ``blocks`` (and ``cog`` from it); returns what was written."""
    finals: dict[str, Path] = {"VRT": vrt}
    if cog is not None:
        finals["COG"] = cog
    kinds = {"VRT": "mosaic", "COG": "raster"}
    with OutputSet(finals, inputs=list(inputs), kinds=kinds) as staged:
        reference = _band_info(blocks)
        mosaic = _build_vrt(blocks, staged.temp("VRT"), tags, reference)
        try:
            mosaic.FlushCache()  # the VRT's XML is on disk now
            if cog is not None:
                # from the open dataset, not by reopening the file by name: one GDAL open
                # fewer, and an intermittent "Received a NULL pointer" was seen on that reopen
                _cog(mosaic, staged.temp("COG"))
        finally:
            mosaic = None  # closed (XML written) before the set is published or discarded
    return finals


def _band_info(blocks: Sequence[Path]) -> tuple[list[str | None], list[dict[str, str]]]:
    """Band descriptions and tags of the first predicted block (empty blocks have none)."""
    for path in blocks:
        with open_raster(path) as src:
            if src.tags().get("MARSSPEC_BLOCK_EMPTY"):
                continue
            return list(src.descriptions), [src.tags(b) for b in range(1, src.count + 1)]
    return [], []


def _build_vrt(
    blocks: Sequence[Path],
    temp: Path,
    tags: Mapping[str, str],
    reference: tuple[list[str | None], list[dict[str, str]]],
):
    """The VRT dataset over ``blocks`` at ``temp``, still open (its XML is written on close)."""
    from osgeo import gdal

    require_staged(temp)
    # block paths under the VRT's folder are written relative to it (relativeToVRT="1")
    options = gdal.BuildVRTOptions(srcNodata="nan", VRTNodata="nan")
    dataset = gdal_dataset(
        lambda: gdal.BuildVRT(str(temp), [str(p) for p in blocks], options=options),
        f"build the mosaic {temp.name}",
        "check that every block file is readable.",
    )
    dataset.SetMetadata(dict(tags))
    descriptions, band_tags = reference
    for index, text in enumerate(descriptions, start=1):
        band = dataset.GetRasterBand(index)
        if text:
            band.SetDescription(text)
        if index <= len(band_tags) and band_tags[index - 1]:
            band.SetMetadata(band_tags[index - 1])
    return dataset


def _cog(mosaic, temp: Path) -> None:
    """The COG at ``temp`` from the open VRT dataset ``mosaic``."""
    from osgeo import gdal

    require_staged(temp)
    options = gdal.TranslateOptions(format="COG", creationOptions=list(COG_OPTIONS))
    dataset = gdal_dataset(
        lambda: gdal.Translate(str(temp), mosaic, options=options),
        f"write the COG {temp.name}",
        "check the free space of the output folder.",
    )
    del dataset  # closing finishes the file
