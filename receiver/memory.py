"""The receiver process's allocator policy: freed memory goes back to the system.

A receiver runs for weeks and its allocations come in waves (request bodies,
sealing, compaction); what matters is that its RSS follows its working set, not
its worst moment. Two process-wide settings:

- Arrow allocates with the C library's malloc: Arrow's default, mimalloc, keeps the
  pages freed by sealing and compaction (here 130+ MiB of a 1 GiB reservation) and
  does not give them back when asked. Arrow picks its allocator once, when first
  used, from ``ARROW_DEFAULT_MEMORY_POOL``: the command line sets that to ``system``
  before any command imports Arrow (unless the operator set it). ``Receiver`` also
  makes it pyarrow's default for a receiver embedded in another program, which covers
  what pyarrow allocates, not what Arrow's C++ allocates on its own.
- glibc serves every allocation of 1 MiB or more by its own mapping, unmapped when
  freed. By default glibc raises that threshold to the largest block freed so far
  (up to 32 MiB), after which blocks of megabytes (Parquet pages, zstd contexts,
  Arrow buffers) come from its heaps and stay there after they are freed.

Measured under 3x overload for 20 s after 370k envelopes (docs/performance.md):
peak RSS of the receiver's own process 417 MiB with neither, 242 with both.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import pyarrow as pa

from chatsnapshot import environment_variables as V

__all__ = ["return_freed_memory"]

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 1 << 20


def return_freed_memory() -> None:
    """Apply the policy above to this process, as far as it can still be applied (idempotent;
    without glibc, only Arrow's part)."""
    if not os.environ.get(V.ARROW_DEFAULT_MEMORY_POOL):
        pa.set_memory_pool(pa.system_memory_pool())
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return
    if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version"):
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
