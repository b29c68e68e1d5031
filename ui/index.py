"""The runs table of the web UI: one row per run, kept in memory and folded from the ledger's
envelopes in commit order, so that listing, filtering, sorting and paging 100,000 runs is a
matter of milliseconds and a new fact changes its run's row at once.

A row holds what ``chatsnapshot runs`` shows (status, agents, services, start, duration,
facts, tokens, cost, errors, conversation, lineage), computed by the same ``RunMetrics`` fold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chatsnapshot.ledger import Envelope
from chatsnapshot.ledger.envelope import FORK_TYPE
from chatsnapshot.ledger.projections import RunMetrics
from chatsnapshot.ledger.timestamps import format_rfc3339_ns

__all__ = ["SORTABLE", "Page", "RunIndex", "RunRow"]

SORTABLE = ("started", "duration_ms", "facts", "total_tokens", "cost", "errors", "status", "correlation_id")


@dataclass
class RunRow:
    correlation_id: str
    metrics: RunMetrics = field(default_factory=RunMetrics)
    first_ns: int = 0
    last_ns: int = 0
    facts: int = 0
    last_event_type: str = ""
    agents: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)
    conversation_id: str | None = None
    forked_from: str | None = None
    version: int = 0  # the index version of this row's last change

    def add(self, e: Envelope) -> None:
        self.metrics.add(e)
        self.first_ns = e.occurred_at if not self.facts else min(self.first_ns, e.occurred_at)
        self.last_ns = max(self.last_ns, e.occurred_at)
        self.facts += 1
        self.last_event_type = e.event_type
        if e.source.agent:
            self.agents.add(e.source.agent)
        if e.source.service:
            self.services.add(e.source.service)
        if e.event_type == FORK_TYPE and e.seq == 1:
            self.forked_from = e.payload.get("forked_from")
        named = e.payload.get("conversation_id") if e.source.runtime == "none" else None
        if isinstance(named, str):
            self.conversation_id = max(named, self.conversation_id or named)  # as the run_conversations view

    @property
    def errors(self) -> int:
        return self.metrics.errors

    def to_json(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "correlation_id": self.correlation_id, "status": m.status, "agents": sorted(self.agents),
            "services": sorted(self.services), "started": format_rfc3339_ns(self.first_ns),
            "last": format_rfc3339_ns(self.last_ns), "duration_ms": round((self.last_ns - self.first_ns) / 1e6, 3),
            "facts": self.facts, "total_tokens": m.total_tokens, "cost": m.cost,
            "cost_estimated": m.cost_estimated, "errors": self.errors, "last_event_type": self.last_event_type,
            "conversation_id": self.conversation_id, "forked_from": self.forked_from,
        }

    def sort_key(self, column: str) -> Any:
        if column == "started":
            return self.first_ns
        if column == "duration_ms":
            return self.last_ns - self.first_ns
        if column in ("total_tokens", "cost"):
            return getattr(self.metrics, column) or 0
        if column == "status":
            return self.metrics.status
        return getattr(self, column)


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    total: int  # rows matching the filters
    runs: int  # rows in the index
    version: int
    facets: dict[str, list[str]]  # the values the filters can take (statuses, agents, services)


class RunIndex:
    """Every run's row; ``add`` folds envelopes in, ``page`` answers the table. Thread-safe."""

    def __init__(self) -> None:
        self._rows: dict[str, RunRow] = {}
        self._lock = threading.Lock()
        self.version = 0  # grows with every change; the page's live updates name it
        self._listeners: list[Callable[[int, list[str]], None]] = []
        self._sorted: dict[tuple[str, bool], tuple[int, list[RunRow]]] = {}  # by (column, descending): at version
        self._facets: tuple[int, dict[str, list[str]]] | None = None

    def add(self, envelopes: Iterable[Envelope]) -> list[str]:
        """Fold ``envelopes`` (commit order) in; returns the runs they changed and tells listeners."""
        changed: dict[str, None] = {}
        with self._lock:
            self.version += 1
            for e in envelopes:
                row = self._rows.get(e.correlation_id)
                if row is None:
                    row = self._rows[e.correlation_id] = RunRow(e.correlation_id)
                row.add(e)
                row.version = self.version
                changed[e.correlation_id] = None
            version, listeners = self.version, list(self._listeners)
        for listener in listeners:
            listener(version, list(changed))
        return list(changed)

    def listen(self, callback: Callable[[int, list[str]], None]) -> Callable[[], None]:
        """Call ``callback(version, changed_runs)`` after each ``add``; returns the unsubscriber."""
        with self._lock:
            self._listeners.append(callback)
        return lambda: self._unlisten(callback)

    def _unlisten(self, callback: Callable[[int, list[str]], None]) -> None:
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def get(self, correlation_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._rows.get(correlation_id)
            return None if row is None else row.to_json()

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._rows)

    def forks_of(self, correlation_id: str) -> list[str]:
        with self._lock:
            return [r.correlation_id for r in self._rows.values() if r.forked_from == correlation_id]

    def page(self, *, offset: int = 0, limit: int = 50, sort: str = "started", descending: bool = True,
             status: str | None = None, agent: str | None = None, service: str | None = None,
             conversation: str | None = None, only: set[str] | None = None) -> Page:
        """One page of the rows that pass every filter given: ``only`` (ids a search found), status,
        agent, service, conversation."""
        if sort not in SORTABLE:
            raise ValueError(f"cannot sort by {sort!r}: one of {', '.join(SORTABLE)}")
        with self._lock:
            ordered = self._ordered(sort, descending)
            rows = [r for r in ordered
                    if (only is None or r.correlation_id in only)
                    and (status is None or r.metrics.status == status)
                    and (agent is None or agent in r.agents)
                    and (service is None or service in r.services)
                    and (conversation is None or r.conversation_id == conversation)]
            return Page([r.to_json() for r in rows[offset:offset + limit]], len(rows), len(self._rows),
                        self.version, self._facet_values())

    def conversations(self, *, offset: int = 0, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
        """The runs grouped by conversation (``gen_ai.conversation.id`` / ``session.id``), newest first:
        one page of groups and how many there are."""
        with self._lock:
            groups: dict[str, list[RunRow]] = {}
            for row in self._ordered("started", True):
                if row.conversation_id is not None:
                    groups.setdefault(row.conversation_id, []).append(row)
            page = list(groups.items())[offset:offset + limit]
            out = []
            for conversation, rows in page:
                costs = [r.metrics.cost for r in rows if r.metrics.cost is not None]
                statuses: dict[str, int] = {}
                for r in rows:
                    statuses[r.metrics.status] = statuses.get(r.metrics.status, 0) + 1
                out.append({
                    "conversation_id": conversation, "runs": len(rows), "statuses": statuses,
                    "started": format_rfc3339_ns(min(r.first_ns for r in rows)),
                    "last": format_rfc3339_ns(max(r.last_ns for r in rows)), "facts": sum(r.facts for r in rows),
                    "total_tokens": sum(r.metrics.total_tokens or 0 for r in rows),
                    "cost": round(sum(costs), 12) if costs else None, "errors": sum(r.errors for r in rows),
                    "agents": sorted({a for r in rows for a in r.agents}),
                })
            return out, len(groups)

    def _ordered(self, sort: str, descending: bool) -> list[RunRow]:
        """Every row in ``sort`` order, sorted again only once the index changed (caller holds the lock)."""
        cached = self._sorted.get((sort, descending))
        if cached is None or cached[0] != self.version:
            rows = sorted(self._rows.values(), key=lambda r: (r.sort_key(sort), r.correlation_id), reverse=descending)
            cached = self._sorted[(sort, descending)] = (self.version, rows)
        return cached[1]

    def _facet_values(self) -> dict[str, list[str]]:
        if self._facets is None or self._facets[0] != self.version:
            rows = self._rows.values()
            self._facets = (self.version, {"status": sorted({r.metrics.status for r in rows}),
                                           "agent": sorted({a for r in rows for a in r.agents}),
                                           "service": sorted({s for r in rows for s in r.services})})
        return self._facets[1]
