"""Bad and hostile inputs through the real command line (`python -m marsspec ...`), issue 20.

Each case runs in its own folder holding copies of its inputs and a sentinel file at every
output path it names, and must: exit non-zero, print exactly one line
``marsspec <cmd>: error: ...`` that names the problem, print no Python traceback, and leave
the folder exactly as it was (no new file, no ``.marsspec-tmp-`` file, every file
byte-identical). See tests/bad_inputs.py and docs/bad-inputs.md.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs import (
    CASSIS_XML,
    CRISM_ENVI,
    ISIS_HIS,
    ISIS_NULL,
    NO_SHARED,
    SHARED_DATA,
    Batch,
    Case,
    check,
    make_materials,
    readonly_folder,
    run_cli,
    selected_case_ids,
)


# ---- setups that need more than copies and sentinels ------------------------------------------
def symlink_to_input(d: Path, m: Path) -> None:
    (d / "evc.tif").symlink_to("ctx.tif")


def hardlink_to_input(d: Path, m: Path) -> None:
    os.link(d / "ctx.tif", d / "evc.tif")


def readonly_browse(d: Path, m: Path) -> None:
    readonly_folder(d / "ro", ("browse.tif",))


def folder_at_output(d: Path, m: Path) -> None:
    (d / "evc.tif").mkdir()
    (d / "evc.tif" / "keep.txt").write_text("a file inside the folder named like the output\n")


def folder_at_browse(d: Path, m: Path) -> None:
    (d / "browse_dir").mkdir()


def input_folder(d: Path, m: Path) -> None:
    (d / "scene.tif").mkdir()


def pds4_label_only(d: Path, m: Path) -> None:
    shutil.copyfile(CASSIS_XML, d / CASSIS_XML.name)  # the .dat it points to is not copied


def crism_envi_wrong_samples(d: Path, m: Path) -> None:
    shutil.copyfile(CRISM_ENVI.with_suffix(".img"), d / "crism.img")
    text = CRISM_ENVI.with_suffix(".hdr").read_text()
    assert "samples = 784" in text
    (d / "crism.hdr").write_text(text.replace("samples = 784", "samples = 790"))


def empty_training_data(d: Path, m: Path) -> None:
    (d / "empty").mkdir()
    (d / "empty.yaml").write_text(
        "id: nothing\ntask: spectra-regression\nproduct: evc\n"
        f"scenes: ['{d}/empty/*']\nval_scenes: ['{d}/empty/*']\n"
        f"out_dir: '{d}/runs/nothing'\nmax_steps: 1\ndevice: cpu\n"
    )


def models_folder(d: Path, m: Path) -> None:
    (d / "models").mkdir()


CTX = ("ctx.tif",)
PAIR = ("ctx.tif", "crism.tif")
COREG_OUT = ("c.tif", "c_ctx.tif", "c_points.gpkg")
COREG_ARGS = ("--out-ctx", "{d}/c_ctx.tif", "--out-points", "{d}/c_points.gpkg", "--quiet")

CASES = [
    # ---- an output that is an input, or another output ---------------------------------------
    Case("predict-output-is-input", ("predict", "{d}/ctx.tif", "{d}/ctx.tif"), r"is the input",
         CTX),
    Case("predict-browse-is-input",
         ("predict", "{d}/ctx.tif", "{d}/evc.tif", "--browse", "{d}/ctx.tif"), r"is the input",
         CTX, ("evc.tif",)),
    Case("predict-browse-is-output",
         ("predict", "{d}/ctx.tif", "{d}/evc.tif", "--browse", "{d}/evc.tif"), r"same file",
         CTX, ("evc.tif",)),
    Case("predict-confidence-is-output",
         ("predict", "{d}/ctx.tif", "{d}/evc.tif", "--model", "evc-bins20", "--confidence",
          "{d}/evc.tif"), r"same file", CTX, ("evc.tif",)),
    Case("predict-output-symlink-to-input", ("predict", "{d}/ctx.tif", "{d}/evc.tif"),
         r"is the input", CTX, (), symlink_to_input),
    Case("predict-output-hardlink-to-input", ("predict", "{d}/ctx.tif", "{d}/evc.tif"),
         r"is the input", CTX, (), hardlink_to_input),
    Case("confidence-output-is-input", ("confidence", "{d}/ctx.tif", "{d}/ctx.tif"),
         r"is the input", CTX),
    Case("superres-output-is-input", ("superres", "{d}/ctx.tif", "{d}/ctx.tif"),
         r"is the input", CTX),
    Case("coregister-out-is-ctx",
         ("coregister", "{d}/ctx.tif", "{d}/crism.tif", "--out", "{d}/ctx.tif", *COREG_ARGS),
         r"is the input", PAIR, ("c_ctx.tif", "c_points.gpkg")),
    Case("coregister-out-is-crism",
         ("coregister", "{d}/ctx.tif", "{d}/crism.tif", "--out", "{d}/crism.tif", *COREG_ARGS),
         r"is the input", PAIR, ("c_ctx.tif", "c_points.gpkg")),
    Case("coregister-ctx-cutout-is-crism",
         ("coregister", "{d}/ctx.tif", "{d}/crism.tif", "--out", "{d}/c.tif", "--out-ctx",
          "{d}/crism.tif", "--out-points", "{d}/c_points.gpkg", "--quiet"),
         r"is the input", PAIR, ("c.tif", "c_points.gpkg")),
    Case("coregister-out-is-ctx-cutout",
         ("coregister", "{d}/ctx.tif", "{d}/crism.tif", "--out", "{d}/c.tif", "--out-ctx",
          "{d}/c.tif", "--out-points", "{d}/c_points.gpkg", "--quiet"),
         r"same file", PAIR, ("c.tif", "c_points.gpkg")),
    Case("coregister-ctx-given-as-crism",
         ("coregister", "{d}/ctx.tif", "{d}/ctx.tif", "--out", "{d}/c.tif", *COREG_ARGS),
         r"same file", CTX, COREG_OUT),
    # ---- output folders and names -------------------------------------------------------------
    Case("predict-browse-unwritable-folder",
         ("predict", "{d}/ctx.tif", "{d}/evc.tif", "--browse", "{ro}/browse.tif"),
         r"not writable|read-only", CTX, ("evc.tif",), readonly_browse),
    Case("predict-output-folder-missing", ("predict", "{d}/ctx.tif", "{d}/missing/evc.tif"),
         r"does not exist", CTX),
    Case("superres-output-folder-missing", ("superres", "{d}/ctx.tif", "{d}/missing/sr.tif"),
         r"does not exist", CTX),
    Case("predict-output-is-folder", ("predict", "{d}/ctx.tif", "{d}/evc.tif"),
         r"is a folder|directory", CTX, (), folder_at_output),
    Case("predict-browse-is-folder",
         ("predict", "{d}/ctx.tif", "{d}/evc.tif", "--browse", "{d}/browse_dir"),
         r"folder|directory", CTX, ("evc.tif",), folder_at_browse),
    Case("predict-output-png", ("predict", "{d}/ctx.tif", "{d}/evc.png"), r"extension",
         CTX, ("evc.png",)),
    Case("predict-output-no-extension", ("predict", "{d}/ctx.tif", "{d}/evc"), r"extension",
         CTX, ("evc",)),
    Case("confidence-output-jpg",
         ("confidence", "{d}/ctx.tif", "{d}/conf.jpg"), r"extension", CTX, ("conf.jpg",)),
    Case("coregister-points-not-gpkg",
         ("coregister", "{d}/ctx.tif", "{d}/crism.tif", "--out", "{d}/c.tif", "--out-ctx",
          "{d}/c_ctx.tif", "--out-points", "{d}/c_points.shp", "--quiet"),
         r"extension|GeoPackage", PAIR, ("c.tif", "c_ctx.tif", "c_points.shp")),
    # ---- parameters out of range ----------------------------------------------------------
    Case("predict-stride-0", ("predict", "{d}/ctx.tif", "{d}/evc.tif", "--stride-factor", "0"),
         r"stride", CTX, ("evc.tif",)),
    Case("predict-stride-9", ("predict", "{d}/ctx.tif", "{d}/evc.tif", "--stride-factor", "9"),
         r"stride", CTX, ("evc.tif",)),
    Case("confidence-stride-0",
         ("confidence", "{d}/ctx.tif", "{d}/conf.tif", "--stride-factor", "0"), r"stride",
         CTX, ("conf.tif",)),
    Case("predict-batch-0", ("predict", "{d}/ctx.tif", "{d}/evc.tif", "--batch-size", "0"),
         r"batch", CTX, ("evc.tif",)),
    Case("superres-huge-patch", ("superres", "{d}/ctx.tif", "{d}/sr.tif", "--patch", "200000"),
         r"memory", CTX, ("sr.tif",)),
    Case("predict-band-2-of-1", ("predict", "{d}/ctx.tif", "{d}/evc.tif", "--band", "2"),
         r"band", CTX, ("evc.tif",)),
    Case("superres-band-9", ("superres", "{d}/ctx.tif", "{d}/sr.tif", "--bands", "9"),
         r"band", CTX, ("sr.tif",)),
    Case("predict-unknown-model", ("predict", "{d}/ctx.tif", "{d}/evc.tif", "--model", "nope"),
         r"nope|available|unknown", CTX, ("evc.tif",)),
    Case("superres-unknown-model", ("superres", "{d}/ctx.tif", "{d}/sr.tif", "--model", "nope"),
         r"nope|available|unknown", CTX, ("sr.tif",)),
    Case("predict-regression-with-confidence",
         ("predict", "{d}/ctx.tif", "{d}/evc.tif", "--confidence", "{d}/conf.tif"),
         r"regression model|bin", CTX, ("evc.tif", "conf.tif")),
    Case("superres-manifest-missing",
         ("superres", "{d}/ctx.tif", "{d}/sr.tif", "--manifest", "{d}/nowhere/manifest.json"),
         r"manifest.*(does not exist|not found|missing)|(does not exist|not found).*manifest",
         CTX, ("sr.tif",)),
    # ---- unreadable or lying inputs -----------------------------------------------------------
    Case("predict-input-missing", ("predict", "{d}/nothing.tif", "{d}/evc.tif"),
         r"does not exist", (), ("evc.tif",)),
    Case("predict-input-is-folder", ("predict", "{d}/scene.tif", "{d}/evc.tif"),
         r"folder|directory", (), ("evc.tif",), input_folder),
    Case("describe-input-is-folder", ("describe", "{d}/scene.tif"), r"folder|directory",
         (), (), input_folder),
    Case("predict-zero-byte-tif", ("predict", "{d}/zero.tif", "{d}/evc.tif"),
         r"empty|0 bytes|zero|truncated|cannot read|GDAL cannot", ("zero.tif",), ("evc.tif",)),
    Case("predict-text-as-tif", ("predict", "{d}/text.tif", "{d}/evc.tif"),
         r"not a raster|cannot read|GDAL cannot|not recognised|not recognized|format",
         ("text.tif",), ("evc.tif",)),
    Case("predict-truncated-geotiff", ("predict", "{d}/truncated.tif", "{d}/evc.tif"),
         r"truncated|cannot read|GDAL cannot", ("truncated.tif",), ("evc.tif",)),
    Case("superres-truncated-geotiff", ("superres", "{d}/truncated.tif", "{d}/sr.tif"),
         r"truncated|cannot read|GDAL cannot", ("truncated.tif",), ("sr.tif",)),
    Case("describe-truncated-geotiff", ("describe", "{d}/truncated.tif"),
         r"truncated|cannot read|GDAL cannot", ("truncated.tif",)),
    Case("predict-envi-header-samples-too-many", ("predict", "{d}/envi_wide.img", "{d}/evc.tif"),
         r"header", ("envi_wide.img", "envi_wide.hdr"), ("evc.tif",)),
    Case("describe-envi-header-samples-too-few", ("describe", "{d}/envi_narrow.img"),
         r"header", ("envi_narrow.img", "envi_narrow.hdr")),
    Case("describe-crism-envi-wrong-samples", ("describe", "{d}/crism.img"), r"header",
         (), (), crism_envi_wrong_samples, shared=True),
    Case("describe-pds4-data-file-missing", ("describe", f"{{d}}/{CASSIS_XML.name}"),
         r"\.dat|data file|missing|does not exist", (), (), pds4_label_only, shared=True),
    Case("superres-pds4-data-file-missing",
         ("superres", f"{{d}}/{CASSIS_XML.name}", "{d}/sr.tif"),
         r"\.dat|data file|missing|does not exist", (), ("sr.tif",), pds4_label_only,
         shared=True),
    Case("predict-all-isis-special-values", ("predict", "{d}/all_special.tif", "{d}/evc.tif"),
         r"special|no valid", ("all_special.tif",), ("evc.tif",)),
    # ---- CRS of another body -------------------------------------------------------------------
    Case("predict-earth-crs-epsg4326", ("predict", "{d}/earth_4326.tif", "{d}/evc.tif"),
         r"Earth.*--allow-non-mars|--allow-non-mars.*Earth", ("earth_4326.tif",), ("evc.tif",)),
    Case("predict-earth-crs-utm", ("predict", "{d}/earth_utm.tif", "{d}/evc.tif"),
         r"Earth.*--allow-non-mars|--allow-non-mars.*Earth", ("earth_utm.tif",), ("evc.tif",)),
    Case("superres-earth-crs-utm", ("superres", "{d}/earth_utm.tif", "{d}/sr.tif"),
         r"Earth.*--allow-non-mars|--allow-non-mars.*Earth", ("earth_utm.tif",), ("sr.tif",)),
    # ---- training, evaluation, export ---------------------------------------------------------
    Case("train-malformed-yaml", ("train", "--config", "{d}/bad_yaml.yaml"),
         r"bad_yaml\.yaml.*line \d", ("bad_yaml.yaml",)),
    Case("train-wrong-type", ("train", "--config", "{d}/wrong_type.yaml"),
         r"batch_size.*integer|integer.*batch_size", ("wrong_type.yaml",)),
    Case("train-set-wrong-type",
         ("train", "--config", "{d}/wrong_type.yaml", "--set", "batch_size=8", "--set",
          "lr=fast"), r"\blr\b.*number|number.*\blr\b", ("wrong_type.yaml",)),
    Case("train-empty-data-folder", ("train", "--config", "{d}/empty.yaml"),
         r"scene|no .*data|empty|found|match", (), (), empty_training_data),
    Case("eval-sr-missing-dataset",
         ("eval", "sr", "--images", "{d}/missing/*.tif", "--no-real", "--json", "{d}/sr.json"),
         r"missing|does not exist|no image|match|found", (), ("sr.json",)),
    Case("eval-sr-missing-checkpoint",
         ("eval", "sr", "--checkpoint", "{d}/missing.pt", "--no-real"), r"does not exist"),
    Case("export-missing-checkpoint",
         ("export", "--checkpoint", "{d}/missing.pt", "--models-dir", "{d}/models"),
         r"does not exist", (), ("models/manifest.json",), models_folder),
    Case("export-not-a-checkpoint",
         ("export", "--checkpoint", "{d}/not_a_checkpoint.pt", "--models-dir", "{d}/models"),
         r"not a .*checkpoint|cannot read|cannot be read", ("not_a_checkpoint.pt",),
         ("models/manifest.json",), models_folder),
]  # fmt: skip


@pytest.fixture(scope="module")
def materials(tmp_path_factory) -> Path:
    return make_materials(tmp_path_factory.mktemp("bad-inputs-materials"))


@pytest.fixture(scope="module")
def batch(request, materials, tmp_path_factory) -> Batch:
    return Batch(
        CASES,
        tmp_path_factory.mktemp("bad-inputs-cli"),
        materials,
        run_cli,
        selected_case_ids(request, "test_bad_input_cli"),
    )


def test_cases_are_many_and_distinct():
    assert len(CASES) >= 35
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_cli(case, batch):
    check(batch.get(case.id))


# ---- ISIS special values are nodata, not data ---------------------------------------------------
def test_isis_special_values_are_nodata(materials, tmp_path):
    """A float CTX whose edges hold ISIS special values (as every map-projected ISIS cube
    has) predicts like the clean image inside, with one warning that names the count."""
    import subprocess
    import sys

    import rasterio

    from marsspec.core.metrics.spectral import pcc
    from tests.bad_inputs import cli_env

    with rasterio.open(materials / "ctx.tif") as src:
        ctx = src.read(1)
        profile = src.profile
    valid = ctx != src.nodata
    clean = np.where(valid, ctx, np.nanmedian(ctx[valid])).astype("float32")
    special = clean.copy()
    special[:16, :] = ISIS_NULL
    special[:, :12] = ISIS_NULL
    special[-10:, :] = ISIS_HIS
    special[50:53, 60:64] = -3.4028230607370965e38  # LRS
    profile.update(nodata=None)
    paths = {}
    for name, data in (("clean", clean), ("special", special)):
        paths[name] = tmp_path / f"{name}.tif"
        with rasterio.open(paths[name], "w", **profile) as dst:
            dst.write(data[None])
    done = {}
    for name, path in paths.items():  # one after the other: two torch processes thrash 2 cores
        completed = subprocess.run(
            [sys.executable, "-m", "marsspec", "predict", str(path),
             str(tmp_path / f"{name}_evc.tif"), "--device", "cpu"],
            env=cli_env(), capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr
        assert "Traceback" not in completed.stdout + completed.stderr
        done[name] = (completed.stdout, completed.stderr)
    warnings = [line for line in done["special"][1].splitlines() if "special" in line.lower()]
    assert len(warnings) == 1, done["special"][1]
    n_special = int((np.abs(special) > 1e38).sum())
    assert f"{n_special:,}" in warnings[0] or str(n_special) in warnings[0], warnings[0]
    with rasterio.open(tmp_path / "clean_evc.tif") as a:
        ref = a.read()
    with rasterio.open(tmp_path / "special_evc.tif") as b:
        got = b.read()
    marked = np.abs(special) > 1e38
    assert np.isnan(got[:, marked]).all(), "special pixels must come out as nodata (NaN)"
    inside = ~marked
    inside[:24, :] = inside[:, :20] = inside[-18:, :] = False  # away from the edges' context
    for band in range(ref.shape[0]):
        r = pcc(ref[band][inside], got[band][inside])
        assert r > 0.9, f"band {band + 1}: r={r:.3f} against the clean prediction"


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=NO_SHARED)
def test_real_pds4_with_its_data_still_reads(tmp_path):
    """The PDS4 case's label is valid: with its data file the same label describes fine."""
    shutil.copyfile(CASSIS_XML, tmp_path / CASSIS_XML.name)
    data = CASSIS_XML.with_suffix(".dat")
    shutil.copyfile(data, tmp_path / data.name)
    completed = run_cli(["describe", str(tmp_path / CASSIS_XML.name)], tmp_path)
    assert completed.returncode == 0, completed.stderr
