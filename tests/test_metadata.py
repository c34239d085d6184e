"""metadata.txt is complete and valid for QGIS's plugin manager."""

from __future__ import annotations

import configparser
import re

from marsspec.core.version import __version__
from tests.conftest import REPO_ROOT

REQUIRED_KEYS = (
    "name",
    "qgisMinimumVersion",
    "description",
    "version",
    "author",
    "email",
    "about",
    "tracker",
    "repository",
    "icon",
    "hasProcessingProvider",
)


def read_metadata() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keep camelCase keys
    parser.read(REPO_ROOT / "metadata.txt", encoding="utf-8")
    return parser["general"]


def test_required_keys_present_and_non_empty():
    metadata = read_metadata()
    missing = [key for key in REQUIRED_KEYS if not metadata.get(key, "").strip()]
    assert missing == []


def test_values_qgis_checks():
    metadata = read_metadata()
    assert metadata["name"] == "marsspec"
    assert metadata["qgisMinimumVersion"] == "3.22"
    assert metadata["hasProcessingProvider"] == "yes"
    assert re.fullmatch(r"\d+\.\d+\.\d+", metadata["version"])
    assert (REPO_ROOT / metadata["icon"]).is_file()


def test_ready_for_qgis_4():
    metadata = read_metadata()
    assert metadata["supportsQt6"] == "True"
    # QGIS's default maximum is 3.99: without 4.x QGIS 4 would not offer the plugin
    assert metadata["qgisMaximumVersion"].split(".")[0] == "4"


def test_urls_are_well_formed():
    from urllib.parse import urlsplit

    metadata = read_metadata()
    for key in ("tracker", "repository", "homepage"):
        parts = urlsplit(metadata[key])
        assert parts.scheme == "https" and parts.netloc, key


def test_version_single_source():
    assert __version__ == read_metadata()["version"]


def test_placeholders_are_marked():
    text = (REPO_ROOT / "metadata.txt").read_text(encoding="utf-8")
    assert "PLACEHOLDER" in text
    assert ".invalid" in read_metadata()["tracker"]  # never a real-looking fake address


def test_about_is_honest_about_simulated_training():
    assert "simulated" in read_metadata()["about"]
