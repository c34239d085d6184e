"""QGIS adapters for marsspec: the plugin shell, the Processing provider and its algorithms.

Thin by design: parameters become core configs, QgsProcessingFeedback becomes plain callables,
and core errors become QgsProcessingException, once, at the algorithm boundary.
"""
