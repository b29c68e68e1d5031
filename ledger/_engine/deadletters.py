"""The dead-letter table: facts that promotion rejected, kept with the reason.

OTLP clients ignore ``partial_success``, so the ledger is the only place a
rejected fact survives (contract 6). Rejections are appended as JSON Lines to
``dead-letters.jsonl`` in the ledger directory and fsync'd before the request is
answered; SQL sees them as the view ``dead_letters``. The file is append-only:
a line torn by a crash is terminated by the next append and skipped by readers.

Columns: ``received_at`` (RFC 3339, UTC), ``reason``, ``field`` (the offending
envelope field, when known), ``event_type``, ``correlation_id``, ``trace_id``,
``span_id``, ``service``, ``attributes`` (the fact's attributes, as JSON).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chatsnapshot.errors import StoreUnavailableError
from chatsnapshot.ledger.fsutil import fsync_dir, write_all
from chatsnapshot.ledger.timestamps import format_rfc3339_ns

if TYPE_CHECKING:
    from chatsnapshot.ledger.results import Rejection

__all__ = ["DEAD_LETTERS_COLUMNS", "DeadLetters"]

DEAD_LETTERS_COLUMNS = {
    "received_at": "TIMESTAMPTZ", "reason": "VARCHAR", "field": "VARCHAR", "event_type": "VARCHAR",
    "correlation_id": "VARCHAR", "trace_id": "VARCHAR", "span_id": "VARCHAR", "service": "VARCHAR",
    "attributes": "JSON",
}


class DeadLetters:
    """Appends rejections durably. Writer only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, rejections: Sequence[Rejection]) -> None:
        """Write and fsync ``rejections``; raises ``StoreUnavailableError`` when the disk refuses."""
        if not rejections:
            return
        lines = "".join(json.dumps({
            "received_at": format_rfc3339_ns(r.received_at), "reason": r.reason, "field": r.field,
            "event_type": r.event_type, "correlation_id": r.correlation_id, "trace_id": r.trace_id,
            "span_id": r.span_id, "service": r.service, "attributes": json.loads(r.attributes_json),
        }, ensure_ascii=False) + "\n" for r in rejections).encode()
        with self._lock:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
                try:
                    size = os.fstat(fd).st_size
                    if size and os.pread(fd, 1, size - 1) != b"\n":
                        lines = b"\n" + lines  # end a line a crash tore
                    write_all(fd, lines)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if not size:  # a new file: make its directory entry durable too
                    fsync_dir(self.path.parent)
            except OSError as e:
                raise StoreUnavailableError(f"cannot write dead letters to {self.path}: {e.strerror}") from e

