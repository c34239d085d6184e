"""`python -m marsspec`: the command-line adapter, beside the QGIS one (marsspec_plugin).

It turns arguments into the same job requests the Processing algorithms build and prints
results, progress and one-line errors; the work itself is in marsspec.core.
"""
