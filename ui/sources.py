"""Where the web UI reads: ledger directories on this machine, or a running receiver.

Both answer the same questions: follow every envelope in commit order (what keeps the runs
table and the live views current), replay one run, run read-only SQL, search payload text,
verify. Queries from the page always go through the confined SQL connection
(``Ledger.sql_confined`` here, ``LedgerService.Sql`` there): the page may be open to someone
who is not trusted with this machine's files.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from chatsnapshot.ledger import Envelope, LedgerReader, LedgerUnion, VerifyReport
from chatsnapshot.ledger.querying import confined_query
from chatsnapshot.receiver.client import LedgerClient

__all__ = ["FOLLOW_POLL_SECONDS", "LocalSource", "RemoteSource", "Source", "search_query"]

log = logging.getLogger("chatsnapshot.ui")

FOLLOW_POLL_SECONDS = 0.2  # how often a ledger directory is looked at for new envelopes
QUERY_TIMEOUT = 30.0  # seconds a query from the page runs at most
_BATCH = 4096


class Source(Protocol):
    @property
    def name(self) -> str: ...

    def follow(self, deliver: Callable[[list[Envelope]], object], stop: threading.Event,
               caught_up: threading.Event) -> None: ...

    def replay(self, correlation_id: str) -> list[Envelope]: ...

    def sql(self, query: str) -> tuple[pa.Table, frozenset[str]]: ...

    def search(self, text: str) -> set[str]: ...

    def verify(self, correlation_id: str | None) -> VerifyReport: ...

    def close(self) -> None: ...


def search_query(text: str) -> str:
    """The runs holding an envelope whose payload or agent contains ``text`` (any case)."""
    literal = "'" + text.lower().replace("'", "''") + "'"
    return ("SELECT DISTINCT correlation_id FROM envelopes WHERE contains(lower(payload::VARCHAR), "
            f"{literal}) OR contains(lower(coalesce(source_agent, '')), {literal})")


class LocalSource:
    """One or several ledger directories, read-only, while their writers run."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self._union = LedgerUnion.open(paths)
        self._readers = self._union.readers
        self._one: LedgerReader | LedgerUnion = self._readers[0] if len(self._readers) == 1 else self._union
        self._lock = threading.Lock()  # a reader handle is used by one thread at a time

    @property
    def name(self) -> str:
        return ", ".join(str(p) for p in self._union.paths)

    def follow(self, deliver: Callable[[list[Envelope]], object], stop: threading.Event,
               caught_up: threading.Event) -> None:
        """Hand every envelope to ``deliver`` in commit order (per ledger), then each new one, until
        ``stop``; through handles of its own, so that a long query never holds the live view up."""
        readers = [LedgerReader.open(r.path) for r in self._readers]
        positions = [0] * len(readers)
        try:
            while not stop.is_set():
                try:
                    grew = False
                    for i, reader in enumerate(readers):
                        batch = reader.since(positions[i], _BATCH)
                        if batch:
                            positions[i] = batch[-1].position or positions[i]
                            deliver(batch)
                            grew = True
                except Exception:  # a bad moment of the disk must not end the live view: say it, try again
                    log.exception("reading new envelopes failed; trying again in 1 s")
                    stop.wait(1.0)
                    continue
                if not grew:
                    caught_up.set()
                    stop.wait(FOLLOW_POLL_SECONDS)
        finally:
            for reader in readers:
                reader.close()

    def replay(self, correlation_id: str) -> list[Envelope]:
        with self._lock:
            return list(self._one.replay(correlation_id))

    def sql(self, query: str) -> tuple[pa.Table, frozenset[str]]:
        with self._lock:
            return confined_query(self._one, query, QUERY_TIMEOUT)

    def search(self, text: str) -> set[str]:
        with self._lock:
            return set(self._one.sql_confined(search_query(text), QUERY_TIMEOUT).column(0).to_pylist())

    def verify(self, correlation_id: str | None) -> VerifyReport:
        with self._lock:
            return self._one.verify(correlation_id)

    def close(self) -> None:
        self._union.close()


class RemoteSource:
    """A running receiver's LedgerService (``chatsnapshot serve``), with its bearer token."""

    def __init__(self, target: str, *, token: str | None = None, ca_file: str | None = None) -> None:
        self._target = target
        self._client = LedgerClient(target, token=token, ca_file=ca_file)

    @property
    def name(self) -> str:
        return f"receiver {self._target}"

    def follow(self, deliver: Callable[[list[Envelope]], object], stop: threading.Event,
               caught_up: threading.Event) -> None:
        import grpc

        try:  # where the ledger ends now: caught up once the stream reaches it
            table, _ = self._client.sql("SELECT coalesce(max(position), 0) AS last FROM envelopes", timeout=60)
            target = int(table.column("last")[0].as_py())
        except grpc.RpcError as e:
            log.warning("could not ask the receiver where its ledger ends (%s): showing runs as they come", e.code())
            target = 0
        position = 0
        if position >= target:
            caught_up.set()
        while not stop.is_set():
            stream: Iterator[list[Envelope]] = self._client.tail_batches(after_position=position)
            try:
                for batch in stream:
                    if stop.is_set():
                        break
                    if batch:
                        position = batch[-1].position or position
                        deliver(batch)
                    if position >= target:
                        caught_up.set()
            except grpc.RpcError as e:
                log.warning("the receiver's Tail stream ended (%s); following again in 1 s", e.code())
                caught_up.set()  # what we have is what there is, for now
                stop.wait(1.0)
            except Exception:  # never end the live view silently
                log.exception("following the receiver failed; following again in 1 s")
                stop.wait(1.0)
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()

    def replay(self, correlation_id: str) -> list[Envelope]:
        return list(self._client.replay(correlation_id))

    def sql(self, query: str) -> tuple[pa.Table, frozenset[str]]:
        return self._client.sql(query, timeout=QUERY_TIMEOUT)

    def search(self, text: str) -> set[str]:
        table, _ = self._client.sql(search_query(text), timeout=QUERY_TIMEOUT)
        return set(table.column(0).to_pylist())

    def verify(self, correlation_id: str | None) -> VerifyReport:
        return self._client.verify(correlation_id)

    def close(self) -> None:
        self._client.close()
