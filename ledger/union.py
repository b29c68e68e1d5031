"""Several ledgers read as one: the ledgers of N receivers, each the one writer of its own directory.

Scale-out keeps one writer per correlation (its seq and hash chain are that writer's):
a router in front of the receivers sends every fact of a run to the same receiver
(docs/scale-out.md). ``LedgerUnion`` answers over all of their directories:
``sql`` over the views of every ledger's rows side by side, ``runs``, ``replay`` and
``verify``. A correlation found in two ledgers means the routing broke (a run split
between receivers: two seq 1, two chains): it is never merged. ``conflicts()`` lists
them; ``runs``, ``replay`` and ``sql`` raise ``RoutingError`` while there are any,
and ``verify`` reports each as a break.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from chatsnapshot.errors import RoutingError
from chatsnapshot.ledger._engine.sqlviews import SqlEngine
from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.ledger import LedgerReader
from chatsnapshot.ledger.results import ChainBreak, RunSummary, VerifyReport

__all__ = ["Conflict", "LedgerUnion"]


class Conflict(tuple[str, tuple[Path, ...]]):
    """A correlation and the ledgers that each hold part of it."""

    @property
    def correlation_id(self) -> str:
        return self[0]

    @property
    def ledgers(self) -> tuple[Path, ...]:
        return self[1]

    def describe(self) -> str:
        return (f"run {self.correlation_id} is in {len(self.ledgers)} ledgers ({', '.join(map(str, self.ledgers))}): "
                "the router split it between receivers; read each ledger alone to see its parts")


class LedgerUnion:
    """``LedgerUnion.open([dir, ...])``: read-only, over ledgers any writer may be writing."""

    def __init__(self, readers: Sequence[LedgerReader]) -> None:
        if not readers:
            raise ValueError("a union needs at least one ledger")
        self.readers = list(readers)
        self._sql = SqlEngine()
        self._confined_sql = SqlEngine(confined=True)
        self._conflicts: tuple[tuple[int, ...], list[Conflict]] | None = None  # (what it was computed at, found)

    @classmethod
    def open(cls, paths: Sequence[str | Path]) -> LedgerUnion:
        """Open every ledger read-only (``LedgerNotFoundError`` names the first missing one)."""
        readers: list[LedgerReader] = []
        try:
            for path in dict.fromkeys(Path(p).resolve() for p in paths):  # the same directory once
                readers.append(LedgerReader.open(path))
        except BaseException:
            for r in readers:
                r.close()
            raise
        return cls(readers)

    @property
    def paths(self) -> list[Path]:
        return [r.path for r in self.readers]

    def conflicts(self) -> list[Conflict]:
        """The correlations held by more than one ledger (computed again only once a ledger grew)."""
        at = tuple(r.last_position for r in self.readers)
        if self._conflicts is None or self._conflicts[0] != at:
            where: dict[str, list[Path]] = {}
            for r in self.readers:
                for run in r.sql("SELECT DISTINCT correlation_id FROM envelopes").column(0).to_pylist():
                    where.setdefault(run, []).append(r.path)
            self._conflicts = (at, [Conflict((c, tuple(p))) for c, p in where.items() if len(p) > 1])
        return self._conflicts[1]

    def _check_routing(self) -> None:
        found = self.conflicts()
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise RoutingError(found[0].describe() + more)

    def runs(self) -> list[RunSummary]:
        """Every ledger's runs, ordered by first occurrence. Raises ``RoutingError``."""
        self._check_routing()
        return sorted((run for r in self.readers for run in r.runs()),
                      key=lambda run: (run.first_occurred_at, run.correlation_id))

    def holder(self, correlation_id: str) -> LedgerReader | None:
        """The one ledger holding ``correlation_id`` (None: none). Raises ``RoutingError`` for two."""
        holders = [r for r in self.readers if r.holds(correlation_id)]
        if len(holders) > 1:
            raise RoutingError(Conflict((correlation_id, tuple(r.path for r in holders))).describe())
        return holders[0] if holders else None

    def holds(self, correlation_id: str) -> bool:
        return self.holder(correlation_id) is not None

    def replay(self, correlation_id: str, after_seq: int = 0) -> Iterator[Envelope]:
        """The run from the ledger that holds it (nothing when none does). Raises ``RoutingError``."""
        holder = self.holder(correlation_id)
        return holder.replay(correlation_id, after_seq) if holder is not None else iter(())

    def sql(self, query: str) -> pa.Table:
        """DuckDB SQL over the views of all the ledgers' rows. Raises ``RoutingError`` (a run in
        two ledgers would be merged by every view), or ``duckdb.Error``."""
        self._check_routing()
        return self._sql.query([(r._snapshot(), r._layout) for r in self.readers], query)

    def sql_confined(self, query: str, timeout: float | None = None) -> pa.Table:
        """``sql`` for an untrusted caller, as ``LedgerReader.sql_confined``."""
        self._check_routing()
        return self._confined_sql.query([(r._snapshot(), r._layout) for r in self.readers], query, timeout)

    def verify(self, correlation_id: str | None = None) -> VerifyReport:
        """Every ledger's checks together; each correlation found in two ledgers is a break."""
        total = VerifyReport()
        for r in self.readers:
            if correlation_id is not None and not r.holds(correlation_id):
                continue
            report = r.verify(correlation_id)
            total.correlations += report.correlations
            total.envelopes += report.envelopes
            total.erased += report.erased
            total.breaks += report.breaks
            total.problems += report.problems
        for conflict in self.conflicts():
            if correlation_id is None or conflict.correlation_id == correlation_id:
                total.breaks.append(ChainBreak(conflict.correlation_id, 1, conflict.describe()))
        return total

    @property
    def path(self) -> str:
        """The ledgers' directories, for messages."""
        return ", ".join(map(str, self.paths))

    def close(self) -> None:
        self._sql.close()
        self._confined_sql.close()
        for r in self.readers:
            r.close()

    def __enter__(self) -> LedgerUnion:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
