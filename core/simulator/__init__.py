"""Mars scene simulator: the demo's default data, the tests' data and the starter models'
training data (no co-located real CRISM + CTX pair exists here; see docs/simulator.md).

    from marsspec.core.simulator import SceneConfig, simulate_scene
    result = simulate_scene(SceneConfig(seed=1, size=512, site="gale"), "scene-out")
"""

from marsspec.core.simulator.misregistration import (
    Misregistration,
    misregistration_from_truth,
    true_offset_ctx_px,
    true_offset_m,
)
from marsspec.core.simulator.scene import (
    EVC_NM,
    FC_NM,
    PRODUCTS,
    SceneConfig,
    SceneResult,
    simulate_scene,
)
from marsspec.core.simulator.sites import SITES, SitePreset, get_site
from marsspec.core.simulator.spectra import ENDMEMBERS, Endmember

__all__ = [
    "ENDMEMBERS",
    "EVC_NM",
    "FC_NM",
    "PRODUCTS",
    "SITES",
    "Endmember",
    "Misregistration",
    "SceneConfig",
    "SceneResult",
    "SitePreset",
    "get_site",
    "misregistration_from_truth",
    "simulate_scene",
    "true_offset_ctx_px",
    "true_offset_m",
]
