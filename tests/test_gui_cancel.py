"""Cancelling predictspectra from the progress callback stops at the next batch and leaves no
output file (what pressing Cancel in the Processing dialog does: QgsProcessingFeedback.cancel)."""

from __future__ import annotations

import pytest

from tests.gui_fixtures import ctx_raster, fast_cpu, model_choice


@pytest.mark.slow
def test_cancel_stops_within_one_batch_and_leaves_nothing(marsspec_provider, tmp_path):
    import processing
    from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback

    if QgsApplication.processingRegistry().algorithmById("marsspec:predictspectra") is None:
        pytest.skip("marsspec:predictspectra not implemented yet")
    from marsspec.core.models.manifest import load_manifest

    if "evc-regression" not in load_manifest().ids():
        pytest.skip("the bundled evc-regression model is not exported yet")
    ctx = ctx_raster(tmp_path / "ctx.tif", size=(768, 768))
    out = tmp_path / "out" / "evc.tif"
    out.parent.mkdir()
    feedback = QgsProcessingFeedback()
    seen: list[float] = []

    def on_progress(value: float) -> None:
        seen.append(value)
        if len(seen) == 1:
            feedback.cancel()

    feedback.progressChanged.connect(on_progress)
    parameters = {
        "INPUT": str(ctx),
        "MODEL": model_choice("marsspec:predictspectra", "evc-regression"),
        "OUTPUT": str(out),
        **fast_cpu("marsspec:predictspectra"),
    }
    with pytest.raises(QgsProcessingException, match=r"(?i)cancel"):
        processing.run("marsspec:predictspectra", parameters, feedback=feedback)
    assert feedback.isCanceled()
    assert len(seen) <= 2  # the progress that cancelled, at most one more batch
    assert seen[-1] < 100
    assert list(out.parent.iterdir()) == []  # no output, no temporary file
