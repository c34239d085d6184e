"""How many pages a freed block faults in again when it is allocated once more.

The kernel's own count (``ru_minflt``) around a second malloc + memset of a block that was just
filled and freed: about 1 per page when glibc unmapped it (its default for large blocks), about
0 when it kept the block for reuse. Shared by the allocator and Dask worker tests; the Dask test
ships it to a worker by value (the worker need not import ``tests``).
"""

from __future__ import annotations


def refaults_per_page(size: int = 256 << 20) -> float:
    import ctypes
    import resource

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    block = libc.malloc(size)
    libc.memset(block, 1, size)
    libc.free(block)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(size)
    libc.memset(block, 2, size)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    libc.free(block)
    return faults / (size // resource.getpagesize())
