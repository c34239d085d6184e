"""Co-registration of CRISM to CTX with arosics (paper 000 Appendix A.1).

    from marsspec.core.coreg import CoregRequest, coregister
    result = coregister(
        CoregRequest("ctx.tif", "crism.img", "crism_on_ctx.tif", "ctx_cut.tif", "points.gpkg")
    )

Names are resolved lazily: the QGIS plugin imports ``config`` at start-up, and must not pull
numpy/rasterio/arosics in before an algorithm runs.
"""

from __future__ import annotations

__all__ = [
    "MATCH_WAVELENGTH_NM",
    "CoregConfig",
    "CoregRequest",
    "CoregResult",
    "PairsRequest",
    "PairsResult",
    "coregister",
    "make_pair",
]


def __getattr__(name: str):
    if name in ("MATCH_WAVELENGTH_NM", "CoregConfig"):
        from marsspec.core.coreg import config

        return getattr(config, name)
    if name in ("CoregRequest", "CoregResult", "coregister"):
        from marsspec.core.coreg import pipeline

        return getattr(pipeline, name)
    if name in ("PairsRequest", "PairsResult", "make_pair"):
        from marsspec.core.coreg import pairs

        return getattr(pairs, name)
    raise AttributeError(f"module 'marsspec.core.coreg' has no attribute {name!r}")
