"""Bad input files, input side (issue 20): every one gives one marsspec error naming the file,
the problem and the fix; ISIS special pixel values are nodata wherever float data is used.

The files are made here, small: a folder, an empty file, text renamed .tif, GeoTIFFs cut short
or with a corrupt block, ENVI headers that do not match their data, PDS3/PDS4 labels with a
missing or short data file, and a simulated CTX scene with an ISIS-style border.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from marsspec.core.errors import InputError, MarsspecError, RasterIOError
from marsspec.core.io.describe import describe_raster
from marsspec.core.io.opening import open_raster
from marsspec.core.io.product import open_product
from marsspec.core.io.special_values import (
    ISIS_SPECIAL_VALUES,
    valid_float_mask,
)
from tests.conftest import MARS_EQC, SHARED_DATA, write_mars_raster

ISIS_NULL = np.float32(-3.4028226550889045e38)


@pytest.fixture()
def one_torch_thread():
    """One CPU thread for the network: on a busy 2-core runner two threads contend with the
    other processes and a 256 px forward pass takes 15x longer."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _open_and_read(path: Path) -> None:
    with open_raster(path) as src:
        src.read(1)


def _both_refuse(path: Path, error: type[Exception], *words: str) -> None:
    """open_raster (the jobs) and describe_raster (open_product) refuse ``path`` alike."""
    for attempt in (_open_and_read, describe_raster):
        with pytest.raises(error) as caught:
            attempt(path)
        message = str(caught.value)
        assert isinstance(caught.value, MarsspecError)
        assert "\n" not in message and "Traceback" not in message
        for word in (path.name, *words):
            assert word in message, (attempt.__name__, word, message)


def _tiled_geotiff(path: Path, size: int = 256, compress: str | None = None) -> Path:
    data = np.random.default_rng(0).normal(0.1, 0.02, (size, size)).astype("float32")
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 1,
        "dtype": "float32",
        "tiled": True,
        "blockxsize": 64,
        "blockysize": 64,
        "crs": MARS_EQC,
        "transform": from_origin(0, 0, 6, 6),
    }
    if compress:
        profile["compress"] = compress
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def _corrupt_block(path: Path) -> Path:
    """A GeoTIFF of full length whose block (2, 2) is zeros: opens fine, fails when read."""
    good = _tiled_geotiff(path.with_name("good.tif"), compress="deflate")
    with rasterio.open(good) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_2_2", "TIFF", bidx=1))
        length = int(src.get_tag_item("BLOCK_SIZE_2_2", "TIFF", bidx=1))
    data = bytearray(good.read_bytes())
    data[offset : offset + length] = bytes(length)
    path.write_bytes(bytes(data))
    return path


# -- files that are not rasters ------------------------------------------------------------


def test_folder_is_refused(tmp_path):
    folder = tmp_path / "scene.tif"
    folder.mkdir()
    _both_refuse(folder, InputError, "folder")


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.tif"
    path.touch()
    _both_refuse(path, InputError, "empty (0 bytes)", "Re-download")


def test_text_renamed_tif_is_refused(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("observation notes, not pixels\n")
    _both_refuse(path, RasterIOError, "not recognized", "renamed .tif")


def test_missing_file_is_refused(tmp_path):
    _both_refuse(tmp_path / "nope.tif", InputError, "does not exist")


def test_envi_header_given_to_a_job_names_the_data_file(tmp_path):
    path = _envi(tmp_path, samples=5)
    with pytest.raises(InputError, match="give its data file"):
        _open_and_read(path.with_suffix(".hdr"))


# -- GeoTIFFs cut short or corrupt ---------------------------------------------------------


def test_truncated_geotiff_is_refused_when_opened(tmp_path):
    good = _tiled_geotiff(tmp_path / "good.tif")
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[:3000])
    _both_refuse(cut, RasterIOError, "truncated", "3,000", "Re-download")


def test_truncated_geotiff_refused_by_predict_before_any_output(tmp_path, one_torch_thread):
    from marsspec.core.spectral import PredictRequest, predict_spectra

    good = _tiled_geotiff(tmp_path / "good.tif")
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[:3000])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RasterIOError, match=r"cut\.tif is truncated"):
        predict_spectra(PredictRequest(input=cut, output=out / "evc.tif", device="cpu"))
    assert list(out.iterdir()) == []


def test_corrupt_block_in_statistics(tmp_path):
    from marsspec.core.models.normalisation import raster_stats

    path = _corrupt_block(tmp_path / "corrupt.tif")
    with pytest.raises(RasterIOError) as caught:
        raster_stats(path)
    message = str(caught.value)
    assert "corrupt.tif" in message and "cannot read the window of rows" in message
    assert "truncated or corrupt: re-download or re-export it" in message


def test_corrupt_block_in_superres_ranges(tmp_path):
    from marsspec.core.superres.job import _decimated

    path = _corrupt_block(tmp_path / "corrupt.tif")
    with open_raster(path) as src, pytest.raises(RasterIOError) as caught:
        _decimated(src, (1,))
    assert "corrupt.tif" in str(caught.value) and "re-export" in str(caught.value)


def test_corrupt_block_in_reader_thread_reaches_the_caller(tmp_path, one_torch_thread):
    """Global normalisation skips the statistics pass: the tiling reader thread meets the bad
    block first and its RasterIOError must reach predict_spectra's caller, output untouched."""
    from marsspec.core.spectral import PredictRequest, predict_spectra

    path = _corrupt_block(tmp_path / "corrupt.tif")
    out = tmp_path / "out"
    out.mkdir()
    request = PredictRequest(
        input=path, output=out / "evc.tif", device="cpu", stride_factor=1, normalisation="global"
    )
    with pytest.raises(RasterIOError) as caught:
        predict_spectra(request)
    assert "corrupt.tif" in str(caught.value) and "truncated or corrupt" in str(caught.value)
    assert list(out.iterdir()) == []


def test_reader_rows_error_names_file(tmp_path):
    from marsspec.core.tiling.reader import _read_rows

    path = _corrupt_block(tmp_path / "corrupt.tif")
    with open_raster(path) as src, pytest.raises(RasterIOError, match=r"corrupt\.tif"):
        _read_rows(src, (1,), 128, 192, src.width)


# -- ENVI headers that do not match their data ---------------------------------------------


def _envi(folder: Path, samples: int, size_bytes: int | None = None, name="scene") -> Path:
    """A 1-band float32 ENVI pair of 4 x 5 pixels whose header says ``samples``."""
    data = np.arange(20, dtype="<f4").tobytes()
    path = folder / f"{name}.img"
    path.write_bytes(data if size_bytes is None else data[:size_bytes])
    (folder / f"{name}.hdr").write_text(
        f"ENVI\nsamples = {samples}\nlines = 4\nbands = 1\nheader offset = 0\n"
        "file type = ENVI Standard\ndata type = 4\ninterleave = bsq\nbyte order = 0\n"
    )
    return path


def test_envi_wrong_sample_count_is_refused(tmp_path):
    path = _envi(tmp_path, samples=4)  # the data holds 5 samples per line
    _both_refuse(path, InputError, "scene.hdr", "samples = 4", "64 bytes", "has 80")
    with pytest.raises(InputError, match="samples = 4"):
        describe_raster(path.with_suffix(".hdr"))
    with pytest.raises(InputError, match="samples = 4"):
        open_product(path.with_suffix(".hdr"))


def test_envi_short_data_file_is_refused(tmp_path):
    path = _envi(tmp_path, samples=5, size_bytes=48)
    _both_refuse(path, InputError, "80 bytes", "has 48", "re-download")


def test_envi_matching_header_still_opens(tmp_path):
    path = _envi(tmp_path, samples=5)
    with open_raster(path) as src:
        assert src.read(1).shape == (4, 5)
    assert describe_raster(path.with_suffix(".hdr")).width == 5


def test_envi_wrong_header_refused_by_predict(tmp_path):
    from marsspec.core.spectral import PredictRequest, predict_spectra

    path = _envi(tmp_path, samples=4)
    with pytest.raises(InputError, match="does not match its data file"):
        predict_spectra(PredictRequest(input=path, output=tmp_path / "evc.tif", device="cpu"))
    assert not (tmp_path / "evc.tif").exists()


# -- PDS3 and PDS4 labels ------------------------------------------------------------------


def _pds3(folder: Path, data_bytes: int | None, pointer: str = '"CUBE.IMG"') -> Path:
    cube = np.arange(2 * 4 * 5, dtype="<f4").tobytes()  # 2 bands x 4 lines x 5 samples
    if data_bytes is not None:
        (folder / "cube.img").write_bytes(cube[:data_bytes])
    label = folder / "cube.lbl"
    label.write_text(
        "PDS_VERSION_ID = PDS3\nRECORD_TYPE = FIXED_LENGTH\nRECORD_BYTES = 40\n"
        f"^IMAGE = {pointer}\nOBJECT = IMAGE\n  LINES = 4\n  LINE_SAMPLES = 5\n  BANDS = 2\n"
        "  SAMPLE_TYPE = PC_REAL\n  SAMPLE_BITS = 32\n  BAND_STORAGE_TYPE = BAND_SEQUENTIAL\n"
        "END_OBJECT = IMAGE\nEND\n"
    )
    return label


def test_pds3_missing_data_file(tmp_path):
    label = _pds3(tmp_path, None)
    _both_refuse(label, InputError, "CUBE.IMG", "Put the data file next to its label")


def test_pds3_short_data_file(tmp_path):
    label = _pds3(tmp_path, 100)
    _both_refuse(label, InputError, "cube.img", "truncated", "160 bytes", "has 100")


def test_pds3_offset_past_the_end(tmp_path):
    label = _pds3(tmp_path, 160, pointer='("CUBE.IMG", 9)')  # record 9 = byte 320
    _both_refuse(label, InputError, "cube.img", "byte 320", "past the end", "160 bytes")


def test_pds3_label_without_lines_is_refused(tmp_path):
    label = _pds3(tmp_path, 160)
    label.write_text(label.read_text().replace("  LINES = 4\n", ""))
    with pytest.raises(InputError, match="LINES is missing"):
        open_product(label)


def _pds4(folder: Path, data_bytes: int | None) -> Path:
    if data_bytes is not None:
        (folder / "frame.dat").write_bytes(np.zeros(6 * 8, "<f4").tobytes()[:data_bytes])
    xml = folder / "frame.xml"
    xml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Product_Observational xmlns="http://pds.nasa.gov/pds4/pds/v1">\n'
        "  <File_Area_Observational>\n"
        "    <File><file_name>frame.dat</file_name></File>\n"
        "    <Array_2D_Image>\n"
        '      <offset unit="byte">0</offset><axes>2</axes>\n'
        "      <axis_index_order>Last Index Fastest</axis_index_order>\n"
        "      <Element_Array><data_type>IEEE754LSBSingle</data_type></Element_Array>\n"
        "      <Axis_Array><axis_name>Line</axis_name><elements>6</elements>"
        "<sequence_number>1</sequence_number></Axis_Array>\n"
        "      <Axis_Array><axis_name>Sample</axis_name><elements>8</elements>"
        "<sequence_number>2</sequence_number></Axis_Array>\n"
        "    </Array_2D_Image>\n"
        "  </File_Area_Observational>\n"
        "</Product_Observational>\n"
    )
    return xml


def test_pds4_missing_data_file(tmp_path):
    xml = _pds4(tmp_path, None)
    _both_refuse(xml, InputError, "frame.dat", "No data file", "put it next to the XML label")


def test_pds4_short_data_file(tmp_path):
    xml = _pds4(tmp_path, 100)
    _both_refuse(xml, InputError, "frame.dat", "truncated", "192 bytes", "has 100")


def test_pds4_complete_product_opens(tmp_path):
    xml = _pds4(tmp_path, 6 * 8 * 4)
    assert open_product(xml).read().shape == (1, 6, 8)


@pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"real Mars products not found at {SHARED_DATA} (a fresh clone without ../shared)",
)
def test_real_cassis_label_without_its_data(tmp_path):
    source = SHARED_DATA / "cassis_framelets/CAS-MCO-2016-11-26T22.50.27.381-PAN-00005-B1.xml"
    xml = tmp_path / source.name
    xml.write_bytes(source.read_bytes())
    _both_refuse(xml, InputError, "No data file", "put it next to the XML label")


# -- ISIS special pixel values -------------------------------------------------------------


def test_valid_float_mask_knows_the_isis_constants():
    values = np.array([*ISIS_SPECIAL_VALUES, 3.4028235e38, np.nan, np.inf, -np.inf], "float32")
    assert not valid_float_mask(values).any()
    ok = np.array([0.0, -1.0, 0.31, 9.9e37, -9999.0], "float32")
    assert valid_float_mask(ok).all()
    assert valid_float_mask(np.array([0, 65535], "uint16")).all()
    assert not valid_float_mask(np.array([-1.79e308])).any()  # 64-bit ISIS cubes


def test_product_read_masks_special_values(tmp_path):
    data = np.full((1, 4, 5), 0.2, "float32")
    data[0, 0, :] = ISIS_NULL
    data[0, 2, 2] = np.nan
    path = write_mars_raster(tmp_path / "float.tif", data)
    values = open_product(path).read()
    assert values.mask.sum() == 6 and values.mask[0, 0].all() and values.mask[0, 2, 2]


def test_statistics_skip_special_values_and_say_how_many(tmp_path):
    from marsspec.core.models.normalisation import raster_stats

    rng = np.random.default_rng(5)
    clean = rng.normal(0.1, 0.02, (1, 40, 50)).astype("float32")
    dirty = clean.copy()
    dirty[0, :3, :] = ISIS_NULL
    dirty[0, 20, 20] = np.float32(3.4e38)
    clean_path = write_mars_raster(tmp_path / "clean.tif", clean)
    dirty_path = write_mars_raster(tmp_path / "dirty.tif", dirty)
    heard: list[str] = []
    got = raster_stats(dirty_path, warn=heard.append)[0]
    assert len(heard) == 1 and "151 pixels of dirty.tif" in heard[0] and "nodata" in heard[0]
    inner = clean.copy()
    inner[0, :3, :] = np.nan
    inner[0, 20, 20] = np.nan
    expected = raster_stats(write_mars_raster(tmp_path / "inner.tif", inner))[0]
    assert got.mean == pytest.approx(expected.mean) and got.std == pytest.approx(expected.std)
    quiet: list[str] = []
    raster_stats(clean_path, warn=quiet.append)
    assert quiet == []


def test_statistics_of_an_all_special_raster_say_why(tmp_path):
    from marsspec.core.models.normalisation import raster_stats

    path = write_mars_raster(tmp_path / "edge.tif", np.full((1, 8, 9), ISIS_NULL, "float32"))
    with pytest.raises(InputError, match=r"edge\.tif has no valid pixel") as caught:
        raster_stats(path)
    assert "72 of them hold ISIS special values" in str(caught.value)


def test_superres_ranges_skip_special_values(tmp_path):
    from marsspec.core.superres.job import _decimated

    data = np.full((1, 16, 16), 0.3, "float32")
    data[0, 0, :] = ISIS_NULL
    path = write_mars_raster(tmp_path / "cassis.tif", data)
    with open_raster(path) as src:
        values = _decimated(src, (1,))
    assert np.isnan(values[0, 0]).all() and np.nanmax(values) == pytest.approx(0.3)


def test_coregistration_warp_drops_averaged_special_values(tmp_path):
    from affine import Affine

    from marsspec.core.coreg.grid import NODATA, MatchGrid, warp_band

    data = np.full((1, 12, 12), 0.2, "float32")
    data[0, 0, 0] = ISIS_NULL  # averaged with 8 valid neighbours it is still about -3.8e37
    path = write_mars_raster(tmp_path / "ctx.tif", data, pixel_size=6.0)
    product = open_product(path)
    t = product.transform
    grid = MatchGrid(product.crs, Affine(18.0, 0, t.c, 0, -18.0, t.f), 4, 4, 18.0)
    warped = warp_band(product, 1, grid, "average")
    assert warped[0, 0] == NODATA and np.allclose(warped[1:, 1:], 0.2)


@pytest.fixture(scope="module")
def ctx_pair(tmp_path_factory) -> tuple[Path, Path, np.ndarray]:
    """A simulated float CTX scene, clean and with an ISIS border and a few inner specials."""
    from marsspec.core.simulator import SceneConfig, simulate_scene

    folder = tmp_path_factory.mktemp("isis")
    simulate_scene(SceneConfig(seed=9100, size=160, site="gale", products=("ctx",)), folder)
    with rasterio.open(folder / "ctx.tif") as src:
        profile, clean = src.profile, src.read(1).astype("float32")
    assert not np.isin(clean, [profile["nodata"]]).any()
    dirty = clean.copy()
    for border in (np.s_[:6, :], np.s_[-6:, :], np.s_[:, :6], np.s_[:, -6:]):
        dirty[border] = ISIS_NULL
    dirty[50, 60] = np.float32(3.4e38)
    dirty[100, 120] = np.nan
    dirty[80, 30] = np.float32(ISIS_SPECIAL_VALUES[3])  # HIS
    profile.update(dtype="float32", nodata=None)
    paths = []
    for name, data in (("ctx_clean.tif", clean), ("ctx_isis.tif", dirty)):
        with rasterio.open(folder / name, "w", **profile) as dst:
            dst.write(data, 1)
        paths.append(folder / name)
    return paths[0], paths[1], ~valid_float_mask(dirty)


def test_prediction_with_isis_special_values_matches_clean(ctx_pair, tmp_path, one_torch_thread):
    from marsspec.core.spectral import PredictRequest, predict_spectra

    clean, dirty, special = ctx_pair
    heard: list[str] = []
    outputs = []
    for path in (clean, dirty):
        out = tmp_path / f"evc_{path.stem}.tif"
        result = predict_spectra(
            PredictRequest(input=path, output=out, device="cpu", stride_factor=1),
            log=heard.append,
        )
        with rasterio.open(out) as src:
            outputs.append(src.read())
    count = int(special.sum())
    assert count == 160 * 160 - 148 * 148 + 3
    assert len(heard) == 1 and f"{count:,} pixels of ctx_isis.tif" in heard[0]
    assert "ISIS special values" in heard[0] and heard[0] in result.warnings
    pred_clean, pred_dirty = outputs
    assert np.isnan(pred_dirty[:, special]).all()
    both = np.isfinite(pred_clean).all(axis=0) & np.isfinite(pred_dirty).all(axis=0)
    assert both.sum() > 0.8 * both.size
    for band in range(pred_clean.shape[0]):
        r = np.corrcoef(pred_clean[band][both], pred_dirty[band][both])[0, 1]
        assert r > 0.99, (band, r)
