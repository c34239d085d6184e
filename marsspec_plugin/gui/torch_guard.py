"""Keep torch from loading Triton inside the QGIS desktop application.

Seen with Debian's QGIS 3.22 under Xvfb and the torch 2.14.1 wheel: ``import torchvision``
imports ``torch._dynamo``, which probes for Triton (``import triton``); loading Triton's
native library into the QGIS main process segfaults QGIS (its bundled LLVM collides with the
one QGIS's OpenGL stack has loaded). marsspec never uses ``torch.compile``, the only user of
Triton, so the plugin makes ``import triton`` fail cleanly (torch then reports "no Triton")
before anything imports torch. ``qgis_process`` and the CLI are not affected and not changed.
"""

from __future__ import annotations

import sys


def block_triton() -> bool:
    """Make ``import triton`` raise ImportError in this process, unless it is already loaded.

    Returns True when the block is in place.
    """
    if "triton" in sys.modules and sys.modules["triton"] is not None:
        return False
    sys.modules["triton"] = None  # the import system treats None as "not importable"
    return True
