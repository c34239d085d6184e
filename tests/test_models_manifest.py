"""models/manifest.json is valid and every weights file it names is present."""

from __future__ import annotations

import json

from tests.conftest import REPO_ROOT


def test_manifest_parses_and_files_exist():
    manifest = json.loads((REPO_ROOT / "models" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["schema_version"] == 1
    assert isinstance(manifest["models"], list)
    for model in manifest["models"]:
        assert (REPO_ROOT / "models" / model["weights"]).is_file(), model["id"]
        assert (REPO_ROOT / "models" / f"{model['id']}.md").is_file(), model["id"]
