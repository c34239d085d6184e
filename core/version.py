"""The marsspec version, read from the plugin's metadata.txt (the one place it is written)."""

from __future__ import annotations

import configparser
from pathlib import Path

PLUGIN_ROOT = Path(__file__).resolve().parent.parent


def _read_version() -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(PLUGIN_ROOT / "metadata.txt", encoding="utf-8")
    return parser.get("general", "version", fallback="0+unknown")


__version__ = _read_version()
