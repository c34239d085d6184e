"""Issue 22, "real products in": every product kind in ../shared/data goes through a job.

CaSSIS PDS4 (.xml and .dat), CRISM PDS3 (.lbl), ISIS3 cubes, ENVI (.hdr + .img), a CTX PNG
tile and a HiRISE JPEG go through ``superres`` or ``predict`` on the command line (a
subprocess, as a user runs it) and write a georeferenced output, or one whose CRS was
explicitly assumed (its tags say so); a raster without a CRS is refused in one line naming
``--assume-crs``; ``georef`` writes a Mars GeoTIFF with the pixel size asked and identical
pixels; one real product also goes through qgis_process. Inputs are cropped small here, in
a temporary folder (never in the repository's data), and run on the CPU in fp32.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.conftest import SHARED_DATA

NO_SHARED = f"real data folder {SHARED_DATA} is absent (a fresh clone); CI has it"
CASSIS = SHARED_DATA / "cassis_framelets"
FRAMELET = "CAS-MCO-2016-11-26T22.50.27.381-PAN-00005-B1"  # .xml label + .dat data
CASSIS_PROJECTED = (
    CASSIS / "tgocassis2isis" / "CAS-MCO-2016-11-26T22.50.30.181-RED-01012-B1_proj_rdrgen.xml"
)
CRISM = SHARED_DATA / "crism_mtrdr_browse_nili" / "frt00005acd_07_brtanj_mtr3"
ISIS_ORTHO = (
    SHARED_DATA
    / "hirise_isis3_fixtures"
    / "hidtmgen_ortho"
    / "PSP_002118_1510_1m_o_forPDS_cropped.cub"
)
CTX_CUBE = SHARED_DATA / "ctx_isis3_fixtures" / "ctxTestImage.cub"
CTX_PNG = SHARED_DATA / "ctx_mc11e_tiles" / "MC11E-A.png"
HIRISE_JPG = SHARED_DATA / "hirise_deeplandforms" / "ESP_012600_1655_H0_V0.jpg"
FAST = ("--device", "cpu", "--precision", "fp32", "--quiet")
SR = (*FAST, "--patch", "32")  # small inputs: small tiles
PREDICT = (*FAST, "--stride-factor", "1")

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=NO_SHARED)


def _cli(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "marsspec", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def _ok(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def _is_mars(crs) -> bool:
    from marsspec.core.io.mars_crs import crs_info

    return crs is not None and crs_info(crs).body == "Mars"


# ---- small crops of the real products (in tmp_path) ------------------------------------------
def crop_pds4(folder: Path, rows: int = 40, cols: int = 64) -> Path:
    """The PAN framelet cut to ``rows`` x ``cols``: its .dat and its label, sizes edited."""
    label = (CASSIS / f"{FRAMELET}.xml").read_text()
    width = int(re.search(r"<axis_name>Sample</axis_name>\s*<sequence_number>1</sequence_number>"
                          r"\s*<elements>(\d+)</elements>", label).group(1))  # fmt: skip
    data = np.fromfile(CASSIS / f"{FRAMELET}.dat", dtype="<f4").reshape(-1, width)
    stem = FRAMELET
    data[:rows, :cols].astype("<f4").tofile(folder / f"{stem}.dat")
    label = re.sub(
        r"(<axis_name>Sample</axis_name>\s*<sequence_number>1</sequence_number>\s*<elements>)"
        r"\d+",
        rf"\g<1>{cols}",
        label,
    )
    label = re.sub(
        r"(<axis_name>Line</axis_name>\s*<sequence_number>2</sequence_number>\s*<elements>)\d+",
        rf"\g<1>{rows}",
        label,
    )
    (folder / f"{stem}.xml").write_text(label)
    return folder / f"{stem}.xml"


def _crism_window(size: int) -> tuple[np.ndarray, int, int]:
    data = np.fromfile(CRISM.with_suffix(".img"), dtype=np.uint8).reshape(3, 724, 784)
    r0, c0 = 724 // 2 - size // 2, 784 // 2 - size // 2
    return data[:, r0 : r0 + size, c0 : c0 + size], r0, c0


def crop_crism_pds3(folder: Path, size: int = 48) -> Path:
    """The CRISM browse's centre window, with its detached PDS3 label edited to match."""
    window, r0, c0 = _crism_window(size)
    window.tofile(folder / "crism_crop.img")
    label = CRISM.with_suffix(".lbl").read_text()
    label = re.sub(r'\^IMAGE(\s*)=\s*"[^"]+"', r'^IMAGE\1= "crism_crop.img"', label)
    label = re.sub(r"(?m)^(\s*LINES\s*=\s*)\d+", rf"\g<1>{size}", label)
    label = re.sub(r"(?m)^(\s*LINE_SAMPLES\s*=\s*)\d+", rf"\g<1>{size}", label)

    def shift(name: str, by: int):
        def edit(match):
            return f"{match.group(1)}{float(match.group(2)) - by:.7f}"

        return lambda text: re.sub(rf"(?m)^(\s*{name}\s*=\s*)([-0-9.]+)", edit, text)

    label = shift("LINE_PROJECTION_OFFSET", r0)(label)
    label = shift("SAMPLE_PROJECTION_OFFSET", c0)(label)
    (folder / "crism_crop.lbl").write_text(label)
    return folder / "crism_crop.lbl"


def crop_crism_envi(folder: Path, size: int = 48) -> Path:
    """The CRISM browse's centre window as ENVI, its real header edited (sizes, map info)."""
    window, r0, c0 = _crism_window(size)
    window.tofile(folder / "envi_crop.img")
    header = CRISM.with_suffix(".hdr").read_text()
    header = re.sub(r"(?m)^samples\s*=\s*\d+", f"samples = {size}", header)
    header = re.sub(r"(?m)^lines\s*=\s*\d+", f"lines   = {size}", header)
    header = header.replace("1412431.6000", f"{1412431.6 + 18 * c0:.4f}")
    header = header.replace("628180.9700", f"{628180.97 - 18 * r0:.4f}")
    (folder / "envi_crop.hdr").write_text(header)
    return folder / "envi_crop.hdr"


def crop_image(source: Path, out: Path, size: int) -> Path:
    """A ``size`` px corner of a plain PNG/JPEG, in the same format (no CRS)."""
    from osgeo import gdal

    driver = "PNG" if out.suffix == ".png" else "JPEG"
    done = gdal.Translate(str(out), str(source), format=driver, srcWin=[0, 0, size, size])
    assert done is not None
    done = None
    for extra in out.parent.glob(out.name + ".aux.xml"):
        extra.unlink()
    return out


# ---- every product kind through a job -------------------------------------------------------
def _check_output(path: Path, *, assumed: float | None = None) -> dict:
    with rasterio.open(path) as out:
        assert _is_mars(out.crs), out.crs
        assert not out.transform.is_identity
        data = out.read(masked=True)
        tags = out.tags()
    assert np.isfinite(data.compressed()).all() and data.count() > 0
    if assumed is None:
        assert "MARSSPEC_ASSUMED_CRS" not in tags
    else:
        assert "Mars equirectangular" in tags["MARSSPEC_ASSUMED_CRS"]
        assert float(tags["MARSSPEC_ASSUMED_PIXEL_SIZE_M"]) == assumed
    return tags


def test_cassis_pds4_projected_label_superres(tmp_path):
    out = tmp_path / "sr.tif"
    _ok(_cli("superres", CASSIS_PROJECTED, out, *SR, cwd=tmp_path))
    tags = _check_output(out)
    # the provenance names the user's label, not the temporary VRT marsspec read
    assert tags["MARSSPEC_INPUT"].startswith(CASSIS_PROJECTED.name)
    with rasterio.open(out) as sr:
        assert (sr.width, sr.height) == (160, 64)
        assert sr.transform.a == pytest.approx(50.0)


def test_cassis_pds4_framelet_refused_then_assumed(tmp_path):
    label = crop_pds4(tmp_path)
    out = tmp_path / "sr.tif"
    refused = _cli("superres", label, out, *SR, cwd=tmp_path)
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "--assume-crs mars --pixel-size" in lines[0], refused.stderr
    assert "Traceback" not in refused.stderr and not out.exists()
    # the .dat finds its label too
    data = tmp_path / f"{FRAMELET}.dat"
    _ok(_cli("superres", data, out, "--assume-crs", "mars", "--pixel-size", "4.5", *SR,
             cwd=tmp_path))  # fmt: skip
    tags = _check_output(out, assumed=4.5)
    assert tags["MARSSPEC_SR_GEOREFERENCED"] == "assumed"
    assert tags["MARSSPEC_INPUT"].startswith(data.name)
    with rasterio.open(out) as sr:
        assert (sr.width, sr.height) == (256, 160)
        assert sr.transform.a == pytest.approx(4.5 / 4)


def test_crism_pds3_label_superres(tmp_path):
    label = crop_crism_pds3(tmp_path)
    out = tmp_path / "sr.tif"
    _ok(_cli("superres", label, out, "--bands", "1,2,3", *SR, cwd=tmp_path))
    _check_output(out)
    with rasterio.open(out) as sr:
        assert (sr.count, sr.width) == (3, 192)
        assert sr.transform.a == pytest.approx(18.0 / 4)


def test_isis3_cube_superres(tmp_path):
    out = tmp_path / "sr.tif"
    _ok(_cli("superres", ISIS_ORTHO, out, *SR, cwd=tmp_path))
    _check_output(out)
    with rasterio.open(ISIS_ORTHO) as src, rasterio.open(out) as sr:
        assert sr.transform.a == pytest.approx(src.transform.a / 4)


def test_isis3_cube_without_crs_needs_assumption(tmp_path):
    out = tmp_path / "sr.tif"
    refused = _cli("superres", CTX_CUBE, out, *SR, cwd=tmp_path)
    assert refused.returncode == 1 and "--assume-crs" in refused.stderr
    _ok(_cli("superres", CTX_CUBE, out, "--assume-crs", "mars", "--pixel-size", "6", *SR,
             cwd=tmp_path))  # fmt: skip
    _check_output(out, assumed=6.0)


def test_envi_header_superres(tmp_path):
    header = crop_crism_envi(tmp_path)
    out = tmp_path / "sr.tif"
    _ok(_cli("superres", header, out, "--bands", "3", *SR, cwd=tmp_path))
    _check_output(out)
    with rasterio.open(out) as sr:
        assert sr.bounds.left == pytest.approx(1412431.6 + 18 * (784 // 2 - 24))


def test_ctx_png_predict_with_assumed_crs(tmp_path):
    png = crop_image(CTX_PNG, tmp_path / "ctx.png", 128)
    out = tmp_path / "evc.tif"
    refused = _cli("predict", png, out, *PREDICT, cwd=tmp_path)
    assert refused.returncode == 1
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "--assume-crs mars --pixel-size" in refused.stderr and not out.exists()
    _ok(_cli("predict", png, out, "--assume-crs", "mars", "--pixel-size", "6", *PREDICT,
             cwd=tmp_path))  # fmt: skip
    tags = _check_output(out, assumed=6.0)
    assert tags["MARSSPEC_INPUT"].startswith("ctx.png")
    with rasterio.open(out) as evc:
        assert (evc.count, evc.width, evc.height) == (3, 128, 128)
        assert evc.transform.a == pytest.approx(6.0)


def test_hirise_jpeg_superres_with_assumed_crs(tmp_path):
    jpg = crop_image(HIRISE_JPG, tmp_path / "hirise.jpg", 48)
    out = tmp_path / "sr.tif"
    _ok(_cli("superres", jpg, out, "--assume-crs", "mars", "--pixel-size", "0.25", *SR,
             cwd=tmp_path))  # fmt: skip
    _check_output(out, assumed=0.25)
    with rasterio.open(out) as sr:
        assert (sr.width, sr.height) == (192, 192)


def test_assumption_parameters_are_checked():
    from marsspec.core.errors import InputError
    from marsspec.core.spectral import PredictRequest
    from marsspec.core.superres.job import SuperresConfig

    with pytest.raises(InputError, match="--pixel-size"):
        SuperresConfig(assume_crs="mars")
    with pytest.raises(InputError, match="ASSUME_CRS"):
        SuperresConfig(pixel_size=6.0)
    with pytest.raises(InputError, match="unknown"):
        SuperresConfig(assume_crs="earth", pixel_size=6.0)
    with pytest.raises(InputError, match="positive"):
        PredictRequest(input="a.png", output="b.tif", assume_crs="mars", pixel_size=-1.0)


# ---- georef ----------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_georef_writes_a_mars_geotiff_with_identical_pixels(tmp_path):
    from marsspec.core.io.mars_crs import pixel_size_m

    png = crop_image(CTX_PNG, tmp_path / "ctx.png", 200)
    out = tmp_path / "ctx_mars.tif"
    done = _cli("georef", png, out, "--body", "mars", "--pixel-size", "6", "--centre", "77.5",
                "18.25", "--quiet", cwd=tmp_path)  # fmt: skip
    _ok(done)
    with rasterio.open(png) as src, rasterio.open(out) as geo:
        assert _is_mars(geo.crs)
        assert geo.crs.to_dict()["lon_0"] == pytest.approx(77.5)
        assert geo.crs.to_dict()["lat_ts"] == pytest.approx(18.25)
        assert pixel_size_m(geo.crs, geo.transform) == pytest.approx((6.0, 6.0))
        assert geo.profile["tiled"] and geo.dtypes == src.dtypes and geo.count == src.count
        assert np.array_equal(geo.read(), src.read())
        # the image centre lies on the asked centre
        from rasterio.warp import transform as warp

        x, y = geo.xy(geo.height / 2, geo.width / 2, offset="ul")
        lon, lat = warp(geo.crs, "+proj=longlat +R=3396190 +no_defs", [x], [y])
        assert (lon[0], lat[0]) == (pytest.approx(77.5), pytest.approx(18.25))
        assert geo.tags()["MARSSPEC_ASSUMED_PIXEL_SIZE_M"] == "6"
    # the georeferenced copy now runs without --assume-crs
    _ok(_cli("superres", out, tmp_path / "sr.tif", *SR, cwd=tmp_path))


def test_georef_keeps_nodata_and_band_descriptions(tmp_path):
    from marsspec.core import jobs
    from marsspec.core.io.georef import GeorefRequest

    label = crop_crism_pds3(tmp_path, size=32)
    out = tmp_path / "crism_georef.tif"
    result = jobs.run(GeorefRequest(label, out, pixel_size=18.0))
    assert result.outputs["OUTPUT"] == out
    with rasterio.open(out) as geo:
        assert geo.nodata == 255 and geo.dtypes[0] == "uint8"
        assert geo.descriptions == ("R2529", "R1330", "R770")
        raw = np.fromfile(tmp_path / "crism_crop.img", dtype=np.uint8).reshape(3, 32, 32)
        assert np.array_equal(geo.read(), raw)
        assert any("already has a CRS" in e for e in result.events)


def test_georef_refuses_bad_parameters(tmp_path):
    png = crop_image(CTX_PNG, tmp_path / "ctx.png", 16)
    missing = _cli("georef", png, tmp_path / "o.tif", "--pixel-size", "-3", cwd=tmp_path)
    assert missing.returncode == 1 and "positive" in missing.stderr
    same = _cli("georef", png, png, "--pixel-size", "3", cwd=tmp_path)
    assert same.returncode == 1 and len(same.stderr.strip().splitlines()) == 1


# ---- one real product through QGIS -----------------------------------------------------------
@pytest.mark.qgis_process
def test_cassis_pds4_label_in_qgis_process(qgis_process_env, tmp_path):
    """QGIS 3.22's GDAL cannot load a CaSSIS PDS4 label as a layer; the algorithm takes the
    file all the same and marsspec opens it."""
    from tests import qgis_process_runner

    label = crop_pds4(tmp_path, rows=24, cols=32)
    out = tmp_path / "sr.tif"
    args = ["run", "marsspec:superresolve", "--", f"INPUT={label}", "DEVICE=cpu",
            "PRECISION=fp32", f"OUTPUT={out}"]  # fmt: skip
    refused = qgis_process_runner.run(args, qgis_process_env)
    assert refused.returncode != 0 and "ASSUME_CRS=mars" in refused.stdout + refused.stderr
    document = qgis_process_runner.run_json(
        [*args, "ASSUME_CRS=mars", "PIXEL_SIZE=4.5"], qgis_process_env
    )
    assert document["results"]["OUTPUT"] == str(out)
    _check_output(out, assumed=4.5)
    geo = tmp_path / "framelet_mars.tif"
    document = qgis_process_runner.run_json(
        ["run", "marsspec:georef", "--", f"INPUT={label}", "PIXEL_SIZE=4.5", "CENTRE_LON=10",
         "CENTRE_LAT=-5", f"OUTPUT={geo}"],
        qgis_process_env,
    )  # fmt: skip
    with rasterio.open(geo) as g:
        assert _is_mars(g.crs) and g.transform.a == 4.5 and (g.width, g.height) == (32, 24)


def _qgis_input(kind: str, folder: Path) -> tuple[Path, list[str]]:
    """A small real input of ``kind`` and the extra parameters it needs (assumed CRS)."""
    if kind == "crism-pds3":
        return crop_crism_pds3(folder, size=32), ["BANDS=1,2,3"]
    if kind == "envi":
        return crop_crism_envi(folder, size=32), ["BANDS=3"]
    if kind == "isis3":
        return ISIS_ORTHO, []
    if kind == "ctx-png":
        return crop_image(CTX_PNG, folder / "ctx.png", 40), ["ASSUME_CRS=mars", "PIXEL_SIZE=6"]
    assumed = ["ASSUME_CRS=mars", "PIXEL_SIZE=0.25"]
    return crop_image(HIRISE_JPG, folder / "hirise.jpg", 40), assumed


@pytest.mark.qgis_process
@pytest.mark.parametrize("kind", ["crism-pds3", "envi", "isis3", "ctx-png", "hirise-jpeg"])
def test_every_product_kind_through_a_processing_algorithm(kind, qgis_process_env, tmp_path):
    """The other product kinds through marsspec:superresolve in qgis_process, as a Toolbox
    user would run them: a georeferenced (or explicitly assumed) 4x output."""
    from tests import qgis_process_runner

    source, extra = _qgis_input(kind, tmp_path)
    out = tmp_path / "sr.tif"
    args = ["run", "marsspec:superresolve", "--", f"INPUT={source}", "DEVICE=cpu",
            "PRECISION=fp32", *extra, f"OUTPUT={out}"]  # fmt: skip
    document = qgis_process_runner.run_json(args, qgis_process_env)
    assert document["results"]["OUTPUT"] == str(out)
    assumed = float(extra[-1].split("=")[1]) if extra and "ASSUME_CRS=mars" in extra else None
    _check_output(out, assumed=assumed)
