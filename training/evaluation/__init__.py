"""Evaluations behind ``python -m marsspec eval NAME``; each prints key=value lines."""
