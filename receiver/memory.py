"""The receiver process's allocator and collector policy: freed memory goes back to the system,
and collecting garbage does not stop the process for long.

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

And the cyclic garbage collector's policy for a serving process
(``collect_for_a_server``: ``chatsnapshot serve`` and each promotion worker): a
receiver allocates hundreds of thousands of short-lived objects a second (facts
on their way), nearly none of them in cycles, next to a large heap that lives as
long as the process (modules, the ledger's catalog). By default CPython collects
its youngest generation every 700 allocations and, every few hundred of those,
walks the whole heap, holding the GIL: at 16 requests in flight, 1,344 young and
12 full collections in 20 s, 1.2 s in all (36 ms each full one, during which
nothing in the process moves). Frozen after start-up (``gc.freeze``) the
long-lived heap is no longer walked, and the young generation is collected every
10,000 allocations: 0.14 s in 14 s at the same load.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os

from chatsnapshot import environment_variables as V

__all__ = ["collect_for_a_server", "return_freed_memory"]

log = logging.getLogger("chatsnapshot.receiver")

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 1 << 20
YOUNG_COLLECTION_EVERY = 10_000  # allocations; CPython's default is 700


def return_freed_memory() -> None:
    """Apply the policy above to this process, as far as it can still be applied (idempotent;
    without glibc, only Arrow's part)."""
    if not os.environ.get(V.ARROW_DEFAULT_MEMORY_POOL):
        import pyarrow as pa  # here: a promotion worker uses this module without Arrow

        pa.set_memory_pool(pa.system_memory_pool())
    try:
        libc = ctypes.CDLL(None)  # the C library this process runs on
    except (OSError, TypeError):  # none to ask (TypeError: Windows wants a name)
        return
    if hasattr(libc, "gnu_get_libc_version") and libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        log.warning("glibc refused an mmap threshold of %d bytes; freed memory may stay in its heaps",
                    MMAP_THRESHOLD)


def collect_for_a_server() -> None:
    """Apply the collector policy above to this process, once it has started: the garbage
    there is now is collected, what is alive is frozen, the young generation collected less
    often. For a process of its own (it changes the interpreter's settings); tests and
    programs that embed a ``Receiver`` keep theirs. What is frozen is never collected again:
    apply it once the process has started and before it serves, when what is alive stays."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])
