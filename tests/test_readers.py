"""core.io readers: real CRISM/CaSSIS/ISIS3 products from ../shared/data, synthetic PDS3/ENVI
products made here, bad inputs, band choice by wavelength and the Mars CRS helpers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from marsspec.core.errors import InputError, RasterIOError
from marsspec.core.io import wavelengths as wl
from marsspec.core.io.describe import describe_raster
from marsspec.core.io.mars_crs import crs_equivalent, is_mars_crs, pixel_size_m, to_crs
from marsspec.core.io.product import open_product
from tests.conftest import SHARED_DATA

BROWSE = SHARED_DATA / "crism_mtrdr_browse_nili"
TRDR = SHARED_DATA / "crism_trdr_if_small"
needs_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"real Mars products not found at {SHARED_DATA} (a fresh clone without ../shared)",
)
EVC = (592.0, 533.0, 442.0)
FC = (2503.0, 1500.0, 1080.0)
NILI_TAN = ("frt000064d9", "frt00008530", "frt00008fc1", "frt0000a4b5")


def _label_numbers(text: str, key: str) -> list[float]:
    match = re.search(rf"^\s*{key}\s*=\s*\(([^)]*)\)", text, re.MULTILINE)
    return [float(v) for v in match.group(1).split(",")]


# ---- real products ------------------------------------------------------------------------
@needs_data
@pytest.mark.parametrize("label", sorted(BROWSE.glob("*.lbl")), ids=lambda p: p.stem)
def test_mtrdr_browse_is_mars_18m_and_scaled(label: Path):
    product = open_product(label)
    assert product.format == "PDS3"
    assert is_mars_crs(product.crs)
    assert pixel_size_m(product.crs, product.transform) == pytest.approx((18.0, 18.0), abs=0.01)
    # reflectance = OFFSET + DN x SCALING_FACTOR, 255 = null; checked against the raw bytes
    text = label.read_text(encoding="latin-1")
    offsets = _label_numbers(text, "OFFSET")
    scales = _label_numbers(text, "SCALING_FACTOR")
    raw = np.fromfile(label.with_suffix(".img"), np.uint8)
    dn = raw[: product.count * product.height * product.width].reshape(
        product.count, product.height, product.width
    )
    values = product.read()
    for b in range(product.count):
        valid = dn[b] != 255
        assert np.array_equal(~values.mask[b], valid)
        expected = np.float32(offsets[b]) + dn[b][valid].astype(np.float32) * np.float32(scales[b])
        np.testing.assert_allclose(values[b].data[valid], expected, rtol=1e-6)
    # the ENVI header of the same .img gives the same values (scaling from the sibling label)
    envi = open_product(label.with_suffix(".hdr"))
    assert envi.format == "ENVI" and is_mars_crs(envi.crs)
    assert crs_equivalent(envi.crs, product.crs)
    np.testing.assert_allclose(envi.read(bands=[1]).filled(-1), values[:1].filled(-1))


@needs_data
def test_tan_browse_wavelengths_from_band_names():
    product = open_product(BROWSE / "frt000064d9_07_brtanj_mtr3.lbl")
    assert product.wavelengths_nm == [2529.0, 1330.0, 770.0]
    assert product.band_for_wavelength(2503.0, max_distance_nm=30).index == 1


@needs_data
def test_four_nili_fossae_scenes_overlap():
    products = [open_product(BROWSE / f"{pid}_07_brtanj_mtr3.lbl") for pid in NILI_TAN]
    boxes = []
    for p in products:
        t = p.transform
        boxes.append((t.c, t.f + t.e * p.height, t.c + t.a * p.width, t.f))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            width = min(a[2], b[2]) - max(a[0], b[0])
            height = min(a[3], b[3]) - max(a[1], b[1])
            assert width > 1000 and height > 1000  # metres of shared ground
    assert all(crs_equivalent(p.crs, products[0].crs) for p in products)


@needs_data
@pytest.mark.parametrize("label", sorted(TRDR.glob("*.lbl.txt")), ids=lambda p: p.name[:22])
def test_trdr_cubes(label: Path):
    product = open_product(label)
    detector = "S" if "s_trr3" in label.name else "L"
    assert product.count == (107 if detector == "S" else 438)
    assert (product.height, product.width) == (15, 64)
    values = product.read()
    raw = np.fromfile(label.parent / label.name.replace(".lbl.txt", ".img"), "<f4")
    raw = raw[: 15 * product.count * 64].reshape(15, product.count, 64).transpose(1, 0, 2)  # BIL
    assert np.array_equal(values.mask, raw == 65535.0)
    assert values.mask.any() and not values.mask.all()
    assert 0.0 < float(np.ma.median(values)) < 1.0  # plausible I/F
    assert "nominal" in product.wavelength_source
    wanted = EVC if detector == "S" else FC
    for nm in wanted:
        choice = product.band_for_wavelength(nm)
        assert choice.distance_nm < 5.0
        assert product.wavelengths_nm[choice.index - 1] == choice.wavelength_nm
    other = FC[0] if detector == "S" else EVC[0]
    with pytest.raises(InputError, match="No band near"):
        product.band_for_wavelength(other)


@needs_data
def test_cassis_framelets_open():
    expected = {"BLU": 499.0, "PAN": 675.0, "RED": 836.0, "NIR": 937.0}
    xmls = sorted((SHARED_DATA / "cassis_framelets").glob("CAS-*.xml"))
    assert len(xmls) == 4
    for xml in xmls:
        product = open_product(xml)
        assert product.format == "PDS4"
        name = next(k for k in expected if f"-{k}-" in xml.name)
        assert product.wavelengths_nm == [expected[name]]
        band = product.read(bands=[1])
        assert band.shape == (1, product.height, product.width)
        assert 0.0 < float(band.mean()) < 1.0
    # opening the .dat finds its XML label too
    dat = xmls[0].with_suffix(".dat")
    assert open_product(dat).format == "PDS4"


@needs_data
def test_map_projected_cassis_has_mars_crs():
    xml = SHARED_DATA / "cassis_framelets/tgocassis2isis/MY36_015782_024_0_PAN_cropped.xml"
    product = open_product(xml)
    assert is_mars_crs(product.crs)


@needs_data
@pytest.mark.parametrize(
    "cube",
    ["ctx_isis3_fixtures/ctxTestImage.cub", "hirise_isis3_fixtures/RE.cub"],
)
def test_isis3_cubes_open(cube: str):
    product = open_product(SHARED_DATA / cube)
    assert product.format == "GDAL/ISIS3"
    data = product.read()
    assert data.count() > 0 and np.isfinite(data.compressed()).all()


@needs_data
def test_missing_wavelength_table_is_reported(tmp_path):
    label = SHARED_DATA / "crism_isis3_fixtures/T0897_MRRAL_05S113_0256_1_cropped_badwv.lbl"
    product = open_product(label)
    assert any("wavelength table" in w for w in product.warnings)
    with pytest.raises(InputError, match="no band wavelengths"):
        product.band_for_wavelength(592.0)
    with pytest.raises(InputError, match="wavelength table"):
        open_product(label, strict=True)


@needs_data
def test_describe_reports_crism_scaling_and_wavelengths():
    text = describe_raster(BROWSE / "frt000064d9_07_brtanj_mtr3.lbl").format_text()
    assert "body: Mars" in text and "2529 nm" in text and "+ DN x" in text and "nodata 255" in text
    trdr = describe_raster(TRDR / "frt0001458f_01_if156s_trr3.lbl.txt")
    assert trdr.band_count == 107 and "nominal" in trdr.wavelength_source


# ---- synthetic products made here ----------------------------------------------------------
def _pds3_label(
    lines,
    samples,
    bands,
    *,
    storage="BAND_SEQUENTIAL",
    sample_type="PC_REAL",
    bits=32,
    pointer='"CUBE.IMG"',
    extra="",
    image_extra="",
) -> str:
    return (
        "PDS_VERSION_ID = PDS3\nRECORD_TYPE = FIXED_LENGTH\nRECORD_BYTES = 64\n"
        f"^IMAGE = {pointer}\nINSTRUMENT_ID = CRISM\n{extra}"
        "OBJECT = IMAGE\n"
        f"  LINES = {lines}\n  LINE_SAMPLES = {samples}\n  BANDS = {bands}\n"
        f"  SAMPLE_TYPE = {sample_type}\n  SAMPLE_BITS = {bits}\n"
        f"  BAND_STORAGE_TYPE = {storage}\n{image_extra}"
        "END_OBJECT = IMAGE\nEND\n"
    )


def _cube(bands=3, lines=4, samples=5) -> np.ndarray:
    cube = np.arange(bands * lines * samples, dtype="<f4").reshape(bands, lines, samples) / 100
    cube[1, 2, 3] = 65535.0
    return cube


@pytest.mark.parametrize("storage", ["BAND_SEQUENTIAL", "LINE_INTERLEAVED"])
def test_detached_label_bsq_and_bil(tmp_path, storage):
    cube = _cube()
    layout = cube if storage == "BAND_SEQUENTIAL" else cube.transpose(1, 0, 2)
    layout.astype("<f4").tofile(tmp_path / "cube.img")  # lower case on disk, upper in label
    (tmp_path / "cube.lbl").write_text(_pds3_label(4, 5, 3, storage=storage))
    for path in (tmp_path / "cube.lbl", tmp_path / "cube.img"):
        values = open_product(path).read()
        assert values.mask.sum() == 1 and values.mask[1, 2, 3]
        np.testing.assert_allclose(values.filled(65535.0), cube)


def test_attached_label(tmp_path):
    cube = _cube()
    text = _pds3_label(4, 5, 3, pointer="8")  # pixels start at record 8 (byte 448)
    header = text.encode("ascii").ljust(7 * 64, b" ")
    assert len(header) == 448
    path = tmp_path / "attached.img"
    path.write_bytes(header + cube.astype("<f4").tobytes())
    product = open_product(path)
    assert product.metadata["image_offset_bytes"] == 448
    np.testing.assert_allclose(product.read().filled(65535.0), cube)


def test_8bit_browse_scaling_and_255_null(tmp_path):
    dn = np.array([[[0, 10, 255], [100, 200, 254]]], np.uint8).repeat(2, axis=0)
    dn.tofile(tmp_path / "browse.img")
    image_extra = "  OFFSET = (0.1, 0.2)\n  SCALING_FACTOR = (0.001, 0.002)\n"
    (tmp_path / "browse.lbl").write_text(
        _pds3_label(
            2,
            3,
            2,
            sample_type="LSB_UNSIGNED_INTEGER",
            bits=8,
            pointer='"BROWSE.IMG"',
            image_extra=image_extra,
        )
    )
    values = open_product(tmp_path / "browse.lbl").read()
    assert values.mask[:, 0, 2].all() and values.mask.sum() == 2
    assert values[1, 1, 0] == pytest.approx(0.2 + 100 * 0.002)
    assert values[0, 1, 1] == pytest.approx(0.1 + 200 * 0.001)


def test_envi_with_mars_map_info(tmp_path):
    data = np.arange(2 * 3 * 4, dtype="<f4").reshape(2, 3, 4)
    data.tofile(tmp_path / "scene.img")
    (tmp_path / "scene.hdr").write_text(
        "ENVI\nsamples = 4\nlines = 3\nbands = 2\nheader offset = 0\nfile type = ENVI Standard\n"
        "data type = 4\ninterleave = bsq\nbyte order = 0\n"
        "map info = {Equirectangular, 1, 1, 4125693.7, 1069016.0, 18, 18, units=Meters}\n"
        "projection info = {17, 3396190.0, 0.0, 0.0, 0.0, 0.0, Equirectangular}\n"
        "wavelength units = Micrometers\nwavelength = {0.592, 2.503}\n"
        "band names = {R592, R2503}\ndata ignore value = 65535\n"
    )
    product = open_product(tmp_path / "scene.hdr")
    assert product.format == "ENVI" and is_mars_crs(product.crs)
    assert product.wavelengths_nm == pytest.approx([592.0, 2503.0])
    assert product.transform.a == 18.0 and product.transform.c == pytest.approx(4125693.7)
    assert product.band_for_wavelength(2500.0).index == 2


def test_truncated_file_is_clear_error(tmp_path):
    _cube().astype("<f4").tofile(tmp_path / "cube.img")
    data = (tmp_path / "cube.img").read_bytes()
    (tmp_path / "cube.img").write_bytes(data[: len(data) // 2])
    (tmp_path / "cube.lbl").write_text(_pds3_label(4, 5, 3))
    with pytest.raises(InputError, match="truncated") as caught:
        open_product(tmp_path / "cube.lbl")
    assert "cube.lbl" in str(caught.value) and "240 bytes" in str(caught.value)


def test_label_pointing_past_the_data(tmp_path):
    _cube().astype("<f4").tofile(tmp_path / "cube.img")
    (tmp_path / "cube.lbl").write_text(_pds3_label(4, 5, 3, pointer='("CUBE.IMG", 1000)'))
    with pytest.raises(InputError, match="past the end of the file"):
        open_product(tmp_path / "cube.lbl")


def test_label_naming_a_missing_file(tmp_path):
    (tmp_path / "cube.lbl").write_text(_pds3_label(4, 5, 3, pointer='"ELSEWHERE.IMG"'))
    with pytest.raises(InputError, match="Put the data file next to its label"):
        open_product(tmp_path / "cube.lbl")


def test_unknown_format(tmp_path):
    path = tmp_path / "mystery.xyz"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(RasterIOError, match="PDS3 label"):
        open_product(path)


def test_trdr_without_any_wavelength_table(tmp_path):
    """A CRISM S cube of a non-standard band count: the nominal table cannot apply."""
    np.zeros((50, 2, 3), "<f4").tofile(tmp_path / "odd.img")
    extra = 'MRO:SENSOR_ID = "S"\nMRO:WAVELENGTH_FILE_NAME = "CDR4_WA0000000S_2.IMG"\n'
    (tmp_path / "odd.lbl").write_text(_pds3_label(2, 3, 50, pointer='"ODD.IMG"', extra=extra))
    product = open_product(tmp_path / "odd.lbl")
    assert product.wavelengths_nm == [None] * 50 and product.warnings
    with pytest.raises(InputError, match="no band wavelengths"):
        product.band_for_wavelength(592.0)
    with pytest.raises(InputError, match="No wavelength table"):
        open_product(tmp_path / "odd.lbl", strict=True)


def test_missing_shipped_table_is_clear(monkeypatch, tmp_path):
    monkeypatch.setattr(wl, "DATA_DIR", tmp_path)
    wl.detector_table.cache_clear()
    try:
        with pytest.raises(InputError, match="missing from this install"):
            wl.detector_table("S")
    finally:
        monkeypatch.undo()
        wl.detector_table.cache_clear()


# ---- wavelengths and CRS helpers -------------------------------------------------------------
def test_shipped_nominal_tables():
    s = wl.crism_nominal_wavelengths("S", 107)
    l_ = wl.crism_nominal_wavelengths("L", 438)
    assert 360 < min(s) < 370 and 1050 < max(s) < 1060
    assert 995 < min(l_) < 1005 and 3930 < max(l_) < 3945
    for nm in FC:
        assert wl.select_band(l_, nm).distance_nm < 4.0


def test_nearest_band_refuses_when_too_far():
    choice = wl.select_band([442.6, 533.7, 598.9], 592.0)
    assert (choice.index, choice.wavelength_nm) == (3, 598.9)
    with pytest.raises(InputError, match=r"nearest is band 3 at 598.9 nm, 101.1 nm away"):
        wl.select_band([442.6, 533.7, 598.9], 700.0)


def test_mars_crs_recognised_in_every_notation():
    proj = "+proj=eqc +lat_ts=0 +lat_0=0 +lon_0=0 +x_0=0 +y_0=0 +R=3396190 +units=m +no_defs"
    envi = (
        "map info = {Equirectangular, 1, 1, 0, 0, 18, 18, units=Meters}",
        "projection info = {17, 3396190.0, 0.0, 0.0, 0.0, 0.0, Equirectangular}",
    )
    from marsspec.core.io.mars_crs import crs_from_envi_map_info

    crss = [to_crs("IAU_2015:49910"), to_crs(proj), crs_from_envi_map_info(*envi)]
    assert all(is_mars_crs(c) for c in crss)
    assert all(crs_equivalent(crss[0], c) for c in crss[1:])
    assert not is_mars_crs("EPSG:4326")
    assert not crs_equivalent(proj, proj.replace("R=3396190", "R=6371000"))
    assert not crs_equivalent(proj, proj.replace("lat_ts=0", "lat_ts=10"))


def test_geographic_pixel_size_uses_mars_radius():
    crs = to_crs("+proj=longlat +R=3396190 +no_defs")
    transform = Affine(0.001, 0, 77.0, 0, -0.001, 0.0)
    x, y = pixel_size_m(crs, transform)
    metres_per_mdeg = np.pi * 3396190.0 / 180.0 / 1000.0  # 59.27 m, not Earth's 111 m
    assert y == pytest.approx(metres_per_mdeg) and x == pytest.approx(metres_per_mdeg)
    x60, _ = pixel_size_m(crs, transform, latitude_deg=60.0)
    assert x60 == pytest.approx(metres_per_mdeg / 2)


def test_gdal_utility_call_on_a_source_that_does_not_open_names_gdals_reason(tmp_path):
    """gdal.Translate given a source path that GDAL cannot open raises the bindings' bare
    "Received a NULL pointer" ValueError; gdal_dataset turns it into one RasterIOError with
    GDAL's own reason (seen once in a Dask mosaic step: the next time it says why)."""
    from osgeo import gdal

    from marsspec.core.io.reading import gdal_dataset

    missing = tmp_path / "gone.vrt"
    with pytest.raises(RasterIOError, match=r"GDAL could not write the COG .*gone\.vrt") as info:
        gdal_dataset(
            lambda: gdal.Translate(str(tmp_path / "out.tif"), str(missing)),
            "write the COG from gone.vrt",
            "check the folder.",
        )
    assert "NULL pointer" not in str(info.value)
    assert "No such file" in str(info.value) or "does not exist" in str(info.value)


def test_gdal_virtual_paths_are_checked_through_gdal(tmp_path):
    """/vsizip/, /vsis3/, ... paths are not files the OS knows: GDAL's own stat decides, a
    missing one is refused by name with the forms a path can carry, and an existing one opens
    as a product (the file inside a stored zip here)."""
    import zipfile

    import rasterio

    from marsspec.core.io.integrity import check_input_path, is_gdal_virtual

    plain = tmp_path / "ctx.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=8, height=6, count=1,
                       dtype="float32") as dst:  # fmt: skip
        dst.write(np.ones((1, 6, 8), "float32"))
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as bundle:
        bundle.write(plain, "ctx.tif")
    virtual = Path(f"/vsizip/{{{tmp_path / 'a.zip'}}}/ctx.tif")
    assert is_gdal_virtual(virtual) and not is_gdal_virtual(plain)
    check_input_path(virtual)
    assert open_product(virtual).source is not None
    with pytest.raises(InputError, match=r"nothere\.tif' does not exist or cannot be reached"):
        check_input_path(Path(f"/vsizip/{{{tmp_path / 'a.zip'}}}/nothere.tif"))
    with pytest.raises(InputError) as info:  # "/vsizip//tmp/a.zip/..." lost a slash in Path
        check_input_path(Path(f"/vsizip/{tmp_path / 'a.zip'}/ctx.tif"))
    assert "/vsizip/{/" in str(info.value) and "/vsicurl?url=" in str(info.value)
