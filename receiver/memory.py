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

Measured with bench/ingest.py, 3x overload for 20 s after 370k envelopes
(docs/performance.md): peak RSS of all the receiver's processes 497 MiB with
neither, 294 with both.
"""

from __future__ import annotations

import ctypes
import logging
import os

import pyarrow as pa

from chatsnapshot import environment_variables as V

__all__ = ["return_freed_memory"]

log = logging.getLogger("chatsnapshot.receiver")

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 1 << 20


def return_freed_memory() -> None:
    """Apply the policy above to this process, as far as it can still be applied (idempotent;
    without glibc, only Arrow's part)."""
    if not os.environ.get(V.ARROW_DEFAULT_MEMORY_POOL):
        pa.set_memory_pool(pa.system_memory_pool())
    try:
        libc = ctypes.CDLL(None)  # the C library this process runs on
    except (OSError, TypeError):  # none to ask (TypeError: Windows wants a name)
        return
    if hasattr(libc, "gnu_get_libc_version") and libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        log.warning("glibc refused an mmap threshold of %d bytes; freed memory may stay in its heaps",
                    MMAP_THRESHOLD)
