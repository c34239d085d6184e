"""Model architectures, the bundled-model manifest and weight loading.

Importing this package is cheap: torch is imported only by the modules that build networks.
"""
