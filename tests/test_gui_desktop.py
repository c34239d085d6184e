"""The plugin in the real QGIS desktop (main window, layer tree menu, Processing dialog, map
canvas), driven under Xvfb by tests/desktop_scenario.py: one QGIS session, many checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import qgis_desktop
from tests.gui_fixtures import ctx_raster, tiny_bin_model

SCENARIO = Path(__file__).with_name("desktop_scenario.py")
# The click arrives in a Mars sinusoidal canvas CRS; the layer is Mars equirectangular.
CANVAS_CRS = "+proj=sinu +lon_0=40 +R=3396190 +units=m +no_defs"

pytestmark = pytest.mark.skipif(bool(qgis_desktop.available()), reason=qgis_desktop.available())


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("desktop")
    env = {
        "MARSSPEC_SCENARIO_CTX": str(ctx_raster(work / "ctx.tif")),
        "MARSSPEC_SCENARIO_MANIFEST": str(tiny_bin_model(work / "model")),
        "MARSSPEC_SCENARIO_CANVAS_CRS": CANVAS_CRS,
        "MARSSPEC_SCENARIO_UNLOAD": "1",
    }
    return qgis_desktop.run_scenario(SCENARIO, work / "run", env=env)


def test_plugin_loads_in_the_desktop(session):
    assert session["gui_application"] and session["plugin_loaded"] and session["provider"]
    assert "marsspec:describe" in session["algorithms"]
    assert not session["errors"], session["errors"]


def test_layer_menu_has_the_actions_and_opens_the_dialog(session):
    assert "Predict spectra..." in session["context_menu"]
    assert "Super-resolve 4x..." in session["context_menu"]
    if "marsspec:predictspectra" in session["algorithms"]:
        assert session["dialog_algorithm"] == "marsspec:predictspectra"
        assert session["dialog_input"]  # the clicked layer is preset
        assert "ctx" in session["dialog_input"].lower()
    else:  # until the algorithm exists, the friendly message names it
        assert "marsspec:predictspectra" in session["dialog_text"]


def test_missing_packages_dialog_names_them_and_the_command(session):
    assert session["dependency_ok"] is False
    assert "marsspec-no-such-package" in session["dependency_dialog"]
    assert session["dependency_command"].split()[1:4] == ["-m", "pip", "install"]
    assert session["dependency_second_time_bar"]  # no second modal dialog


def test_inspector_shows_bars_for_the_clicked_pixel(session):
    assert session["canvas_crs_differs"]
    assert session["map_tool_is_inspector"]
    assert session["inspector_error"] == ""
    assert session["inspected_pixel"] == session["expected_pixel"]
    requested, inspected = session["requested_pixel"], session["inspected_pixel"]
    assert all(abs(a - b) <= 1 for a, b in zip(requested, inspected, strict=True))
    assert session["bars_drawn"] == [8, 8, 8]
    assert [band["name"] for band in session["bands"]] == ["R592", "R533", "R442"]
    assert "row" in session["status"] and "test-bins8" in session["status"]
    multimodal = any(band["modes"] > 1 for band in session["bands"])
    assert session["warning_visible"] == multimodal


def test_unload_removes_everything(session):
    assert session["after_unload_provider"] is False
    assert "Predict spectra..." not in session["after_unload_menu"]
    assert "Super-resolve 4x..." not in session["after_unload_menu"]
