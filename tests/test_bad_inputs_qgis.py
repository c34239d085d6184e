"""Bad and hostile inputs through the real `qgis_process` (issue 20): Processing must fail
with marsspec's one line (qgis_process prints it once as its ``ERROR:`` line), no Python
traceback, and leave the output folder as it was (sentinels byte-identical, no new file, no
``.marsspec-tmp-`` file). The same contract as tests/test_bad_inputs_cli.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests import qgis_process_runner
from tests.bad_inputs import Batch, Case, check, make_materials, selected_case_ids

pytestmark = pytest.mark.qgis_process

PAIR = ("ctx.tif", "crism.tif")


def predict(*params: str) -> tuple[str, ...]:
    return ("run", "marsspec:predictspectra", "--", "MODEL=evc-regression", "DEVICE=cpu", *params)


def coregister(*params: str) -> tuple[str, ...]:
    return (
        "run", "marsspec:coregistercrism", "--", "REFERENCE={d}/ctx.tif",
        "TARGET={d}/crism.tif", *params,
    )  # fmt: skip


CASES = [
    Case("predictspectra-output-is-input",
         predict("INPUT={d}/ctx.tif", "OUTPUT={d}/ctx.tif"), r"is the input", ("ctx.tif",)),
    Case("predictspectra-browse-is-output",
         predict("INPUT={d}/ctx.tif", "OUTPUT={d}/evc.tif", "BROWSE={d}/evc.tif"),
         r"same file", ("ctx.tif",), ("evc.tif",)),
    Case("predictspectra-output-png",
         predict("INPUT={d}/ctx.tif", "OUTPUT={d}/evc.png"), r"extension", ("ctx.tif",),
         ("evc.png",)),
    Case("predictspectra-truncated-geotiff",
         predict("INPUT={d}/truncated.tif", "OUTPUT={d}/evc.tif"),
         r"truncated|cannot read|GDAL cannot", ("truncated.tif",), ("evc.tif",)),
    Case("predictspectra-earth-crs",
         predict("INPUT={d}/earth_utm.tif", "OUTPUT={d}/evc.tif"), r"Earth.*ALLOW_NON_MARS",
         ("earth_utm.tif",), ("evc.tif",)),
    Case("predictspectra-stride-9",  # checked once, by the request: the CLI's words
         predict("INPUT={d}/ctx.tif", "OUTPUT={d}/evc.tif", "STRIDE_FACTOR=9"), r"stride",
         ("ctx.tif",), ("evc.tif",)),
    Case("predictspectra-output-folder-missing",
         predict("INPUT={d}/ctx.tif", "OUTPUT={d}/missing/evc.tif"), r"does not exist",
         ("ctx.tif",)),
    Case("binconfidence-output-is-input",
         ("run", "marsspec:binconfidence", "--", "INPUT={d}/ctx.tif", "MODEL=evc-bins20",
          "CONFIDENCE={d}/ctx.tif"), r"is the input", ("ctx.tif",)),
    Case("superresolve-output-is-input",
         ("run", "marsspec:superresolve", "--", "INPUT={d}/ctx.tif", "OUTPUT={d}/ctx.tif"),
         r"is the input", ("ctx.tif",)),
    Case("superresolve-truncated-geotiff",
         ("run", "marsspec:superresolve", "--", "INPUT={d}/truncated.tif",
          "OUTPUT={d}/sr.tif"), r"truncated|cannot read|GDAL cannot", ("truncated.tif",),
         ("sr.tif",)),
    Case("coregistercrism-output-is-reference",
         coregister("OUTPUT={d}/ctx.tif", "OUTPUT_CTX={d}/c_ctx.tif",
                    "OUTPUT_POINTS={d}/c_points.gpkg"),
         r"is the input", PAIR, ("c_ctx.tif", "c_points.gpkg")),
    Case("coregistercrism-ctx-cutout-is-target",
         coregister("OUTPUT={d}/c.tif", "OUTPUT_CTX={d}/crism.tif",
                    "OUTPUT_POINTS={d}/c_points.gpkg"),
         r"is the input", PAIR, ("c.tif", "c_points.gpkg")),
]  # fmt: skip


@pytest.fixture(scope="module")
def batch(request, qgis_process_env, tmp_path_factory) -> Batch:
    materials = make_materials(tmp_path_factory.mktemp("bad-inputs-qgis-materials"))

    def run(argv: list[str], folder: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [qgis_process_runner.QGIS_PROCESS, *argv],
            env=qgis_process_env,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return Batch(
        CASES,
        tmp_path_factory.mktemp("bad-inputs-qgis"),
        materials,
        run,
        selected_case_ids(request, "test_bad_input_qgis_process"),
    )


def test_cases_are_enough():
    assert len(CASES) >= 8 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_qgis_process(case, batch):
    check(batch.get(case.id), qgis=True)
