"""OTel SDK exporters that commit facts straight into an embedded ledger: no receiver, no network.

``LedgerSpanExporter`` and ``LedgerLogExporter`` encode what the SDK hands
them as the OTLP request an OTLP exporter would send, and run the receiver's
own promotion and commit on it (``receiver.promotion``, ``receiver.committing``):
one implementation, the same envelopes either way.

The ledger (``ledger=``, else ``$CHATSNAPSHOT_LEDGER``, else
``./chatsnapshot-ledger``) is opened as its one writer on the first export, so
constructing an exporter never fails; exporters of one process writing the same
directory share one handle (a span and a log exporter set up by
``opentelemetry-instrument``, for instance). An export that cannot commit (the directory is
read-only, the disk is full, another process holds the ledger) returns FAILURE
and is logged once per kind of failure, not once per fact; it never raises into
the program.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from chatsnapshot.environment_variables import ledger_path
from chatsnapshot.ledger import Ledger
from chatsnapshot.ledger.store import Store
from chatsnapshot.receiver.committing import commit
from chatsnapshot.receiver.promotion import Promotion, promote_logs, promote_traces
from chatsnapshot.receiver.span_rules import Rules

__all__ = ["LedgerLogExporter", "LedgerSpanExporter"]

log = logging.getLogger("chatsnapshot.exporter")


class _EmbeddedLedger:
    """The ledger an exporter writes, opened on first use; shared by the span and log exporters of one
    ``configure()`` so that they are one writer."""

    def __init__(self, ledger: str | Path | Store) -> None:
        self._given = None if isinstance(ledger, str | Path) else ledger
        self._path = Path(ledger) if isinstance(ledger, str | Path) else None
        self._ledger: Store | None = self._given
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._users = 0

    def commit(self, promotion: Promotion) -> bool:
        if not promotion.envelopes and not promotion.rejected:
            return True
        try:
            with self._lock:
                if self._users <= 0:
                    return False  # shut down: never reopen (and hold) the ledger again
                if self._ledger is None:
                    assert self._path is not None
                    self._ledger = Ledger.open(self._path)
                ledger = self._ledger
            commit(ledger, promotion)
            return True
        except Exception as e:  # an exporter never raises into the program
            kind = type(e).__name__
            if kind not in self._warned:
                self._warned.add(kind)
                where = self._path if self._path is not None else self._given.path if self._given else "?"
                log.error("chatsnapshot: facts not stored in %s: %s (further %s errors are not logged)",
                          where, e, kind)
            return False

    def attach(self) -> _EmbeddedLedger:
        with self._lock:
            self._users += 1
        return self

    def release(self) -> None:
        """Close the ledger when its last exporter shuts down (a ledger passed in stays open)."""
        with _registry_lock:
            with self._lock:
                self._users -= 1
                last = self._users <= 0
                if last and self._ledger is not None and self._given is None:
                    self._ledger.close()
                    self._ledger = None
            if last and self._path is not None and _registry.get(self._path) is self:
                del _registry[self._path]


_registry: dict[Path, _EmbeddedLedger] = {}  # one writer handle per directory in this process
_registry_lock = threading.Lock()


def _embedded(ledger: str | Path | Store | None) -> _EmbeddedLedger:
    if ledger is not None and not isinstance(ledger, str | Path):
        return _EmbeddedLedger(ledger).attach()
    path = Path(ledger_path(ledger)).absolute()
    with _registry_lock:
        shared = _registry.get(path)
        if shared is None:
            shared = _registry[path] = _EmbeddedLedger(path)
        return shared.attach()


class _LedgerExporting:
    """What both exporters share: the embedded ledger, one commit per export, shutdown."""

    def __init__(self, ledger: str | Path | Store | None) -> None:
        self._ledger = _embedded(ledger)
        self._shut = False

    def _export(self, what: str, count: int, promote: Callable[[], Promotion]) -> bool:
        if self._shut:
            return False
        try:
            promotion = promote()
        except Exception as e:
            log.error("chatsnapshot: could not promote %d %s: %s", count, what, e)
            return False
        return self._ledger.commit(promotion)

    def shutdown(self) -> None:
        if not self._shut:
            self._shut = True
            self._ledger.release()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # every export is durable before it returns


class LedgerSpanExporter(_LedgerExporting, SpanExporter):
    """Promote the facts of finished spans (span events with ``chatsnapshot.*``
    attributes; whole GenAI spans too with ``rules``) into the ledger at ``ledger``."""

    def __init__(self, ledger: str | Path | Store | None = None, *, rules: Rules | None = None) -> None:
        _LedgerExporting.__init__(self, ledger)
        self._rules = rules

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self._export("span(s)", len(spans), lambda: promote_traces(encode_spans(spans), rules=self._rules))
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE


class LedgerLogExporter(_LedgerExporting, LogRecordExporter):
    """Promote log records carrying ``chatsnapshot.event_type`` into the ledger at ``ledger``."""

    def __init__(self, ledger: str | Path | Store | None = None) -> None:
        _LedgerExporting.__init__(self, ledger)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        ok = self._export("log record(s)", len(batch), lambda: promote_logs(encode_logs(batch)))
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE
