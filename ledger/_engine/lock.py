"""One writer per ledger directory.

The writer holds an exclusive ``flock`` on ``LOCK`` for as long as it runs and
writes who it is into the file (pid, host, command, since when). The kernel
releases the lock when the process dies, even by SIGKILL, so a crash never
leaves a stale lock behind. Readers take no lock; ``writer_alive`` lets them ask
whether a writer runs right now.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from chatsnapshot.errors import LedgerLockedError

__all__ = ["WriterLock", "describe_holder", "writer_alive"]

_ATTEMPTS = 50  # a reader's probe holds a shared lock for microseconds; ride over it


class WriterLock:
    """The exclusive writer lock of one ledger directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1

    def acquire(self) -> None:
        """Take the lock or raise ``LedgerLockedError`` naming the holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        for attempt in range(_ATTEMPTS):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == _ATTEMPTS - 1:
                    os.close(fd)
                    raise LedgerLockedError(
                        f"ledger {self.path.parent} is being written by {describe_holder(self.path)}; "
                        "one process writes a ledger directory: stop that process, or open the ledger "
                        "read-only (Ledger.open(path, readonly=True))"
                    ) from None
                time.sleep(0.01)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join([os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]])[:200],
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1


def describe_holder(path: Path) -> str:
    """'pid 123 on host (chatsnapshot serve) since ...' from a LOCK file."""
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info.get("pid"):
        return "another process"
    return f"pid {info['pid']} on {info.get('host', '?')} ({info.get('command', '?')}) since {info.get('since', '?')}"


def writer_alive(path: Path) -> bool:
    """True when some process holds the writer lock at this moment."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
