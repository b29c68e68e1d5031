"""The projection engine: projections kept up to date from a checkpointed ledger position.

A ``Projection`` is a fold over envelopes in position (commit) order: ``initial()``, then
``apply(state, envelope)`` for each, with ``dump``/``load`` to and from JSON. Within a run,
position order is seq order, so a per-run fold sees each run as a replay would. The engine
keeps one checkpoint per projection with the ledger::

    LEDGER_DIR/projections/<name>.json    {"projection", "version", "position", "state"}
                                          replaced atomically (temporary file, fsync, rename)

``update()`` loads the checkpoint, folds only the envelopes after its position, and saves the
new one: the work is proportional to what is new, not to the ledger. A checkpoint of another
version of the projection, or one ahead of the ledger (a ledger replaced by another), is
discarded and the projection rebuilt from position 0. Checkpoints are a cache: deleting the
folder only costs a rebuild, and a ledger folder that cannot be written to still gets the
right answer (without saving it). Every handle folds what is durable (a read-only one
reads a running writer's WAL too); positions are committed in order, so the checkpoint is a
prefix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.ledger import LedgerReader
from chatsnapshot.ledger.projections.metrics import RunMetrics

__all__ = ["Projection", "ProjectionEngine", "RunMetricsProjection"]

log = logging.getLogger("chatsnapshot.projections")
S = TypeVar("S")


class Projection(ABC, Generic[S]):
    """A fold over the ledger's envelopes in position order. Change ``version`` whenever
    ``apply`` or the state changes meaning: checkpoints of other versions are rebuilt."""

    name: ClassVar[str]
    version: ClassVar[int]

    @abstractmethod
    def initial(self) -> S: ...

    @abstractmethod
    def apply(self, state: S, envelope: Envelope) -> S: ...

    @abstractmethod
    def dump(self, state: S) -> Any: ...

    @abstractmethod
    def load(self, data: Any) -> S: ...


class RunMetricsProjection(Projection[dict[str, RunMetrics]]):
    """Every run's ``RunMetrics``, by correlation id (what ``chatsnapshot stats`` shows)."""

    name = "run_metrics"
    version = 1

    def initial(self) -> dict[str, RunMetrics]:
        return {}

    def apply(self, state: dict[str, RunMetrics], envelope: Envelope) -> dict[str, RunMetrics]:
        state.setdefault(envelope.correlation_id, RunMetrics()).add(envelope)
        return state

    def dump(self, state: dict[str, RunMetrics]) -> Any:
        return {correlation: m.to_state() for correlation, m in state.items()}

    def load(self, data: Any) -> dict[str, RunMetrics]:
        return {correlation: RunMetrics.from_state(m) for correlation, m in data.items()}


class ProjectionEngine(Generic[S]):
    """Keeps ``projection`` up to date over ``ledger``; see the module docstring."""

    def __init__(self, ledger: LedgerReader, projection: Projection[S], *, directory: str | Path | None = None,
                 batch: int = 4096) -> None:
        self.ledger, self.projection, self.batch = ledger, projection, batch
        self.path = Path(directory or Path(ledger.path) / "projections") / f"{projection.name}.json"
        self.rebuilt = False  # whether the last update started from position 0

    def update(self, progress: Callable[[int, int], None] | None = None) -> S:
        """The projection's state with every envelope this handle can see folded in.
        ``progress(position, last_position)`` is called after each batch."""
        last = self.ledger.last_position
        position, state = self._load(last)
        self.rebuilt = position == 0
        start = position
        while position < last:
            batch = self.ledger.since(position, self.batch)
            if not batch:
                break
            for envelope in batch:
                state = self.projection.apply(state, envelope)
            position = batch[-1].position or position
            if progress is not None:
                progress(position, last)
        if position != start or self.rebuilt:
            self._save(position, state)
        return state

    def _load(self, last_position: int) -> tuple[int, S]:
        fresh = (0, self.projection.initial())
        try:
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            return fresh
        except (OSError, ValueError) as e:
            log.warning("%s: unreadable checkpoint (%s); rebuilding the projection", self.path, e)
            return fresh
        if doc.get("projection") != self.projection.name or doc.get("version") != self.projection.version:
            log.info("%s: checkpoint of version %s, projection is version %s: rebuilding", self.path,
                     doc.get("version"), self.projection.version)
            return fresh
        position = doc.get("position")
        if not isinstance(position, int) or not 0 <= position <= last_position:
            log.warning("%s: checkpoint at position %s, ledger ends at %s: rebuilding", self.path, position,
                        last_position)
            return fresh
        try:
            return position, self.projection.load(doc["state"])
        except (KeyError, TypeError, ValueError) as e:
            log.warning("%s: checkpoint state does not load (%s); rebuilding", self.path, e)
            return fresh

    def _save(self, position: int, state: S) -> None:
        doc = {"projection": self.projection.name, "version": self.projection.version, "position": position,
               "state": self.projection.dump(state)}
        try:
            self.path.parent.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(json.dumps(doc, sort_keys=True, separators=(",", ":")))  # one write: json.dump makes many
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as e:
            log.warning("%s: checkpoint not saved (%s); the next update starts over", self.path, e)
