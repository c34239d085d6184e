"""Example Graphical Modeler models shipped with the plugin (open them in Processing >
Graphical Modeler > Open Model...)."""

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent
COREGISTER_PREDICT_CONFIDENCE = EXAMPLES_DIR / "coregister_predict_confidence.model3"
