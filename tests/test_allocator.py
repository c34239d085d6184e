"""The engine keeps freed memory for the next batch (core/tiling/allocator.py).

Measured through the kernel's own count of page faults: a 256 MB block allocated, filled and
freed, then allocated and filled again, faults in every page anew under glibc's defaults (it is
mmapped and unmapped) and reuses the pages inside :func:`reuse_freed_memory`. Each case runs in
a fresh interpreter, so neither pytest's own heap nor another test's setting plays a part.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # so that the probe imports tests.page_faults

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the allocator setting exists only with glibc on Linux",
)

PROBE = """
from marsspec.core.tiling.allocator import keeps_freed_memory, reuse_freed_memory
from tests.page_faults import refaults_per_page

outside = refaults_per_page()
with reuse_freed_memory():
    with reuse_freed_memory():  # nested, as concurrent runs in one process are
        inside = refaults_per_page()
    still_inside = refaults_per_page()
after = refaults_per_page()
print(keeps_freed_memory(), outside, inside, still_inside, after)
"""


def _probe(env_extra: dict[str, str]) -> tuple[bool, float, float, float, float]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUN"))}
    env.pop("MARSSPEC_KEEP_FREED_MEMORY", None)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**env, **env_extra}, cwd=ROOT, capture_output=True,
        text=True,
        check=True, timeout=120,
    ).stdout.split()  # fmt: skip
    return out[0] == "True", *(float(x) for x in out[1:])


def test_freed_memory_is_reused_inside_and_given_back_after():
    active, outside, inside, still_inside, after = _probe({})
    assert active
    assert outside > 0.9  # glibc's default: every page of the new block faulted in again
    assert inside < 0.05 and still_inside < 0.05  # the freed block is reused in place
    assert after > 0.9  # the usual limits are back once the last run has ended


def test_a_process_with_its_own_malloc_settings_is_left_alone():
    """An explicit ``MALLOC_*_`` setting (marsspec's Dask workers start with one) wins, and
    ``MARSSPEC_KEEP_FREED_MEMORY=0`` switches the behaviour off."""
    for env in ({"MALLOC_TRIM_THRESHOLD_": "131072"}, {"MARSSPEC_KEEP_FREED_MEMORY": "0"}):
        active, outside, inside, _, _ = _probe(env)
        assert not active, env
        assert outside > 0.9 and inside > 0.9, env
