"""A client of ``LedgerService``, for the CLI's ``--server`` and for programs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pyarrow as pa

from chatsnapshot.ledger import ChainBreak, Envelope, Problem, RunSummary, VerifyReport, envelope_from_proto
from chatsnapshot.ledger.checkpoint import InclusionProof
from chatsnapshot.proto.chatsnapshot.v1 import ledger_service_pb2 as pb
from chatsnapshot.proto.chatsnapshot.v1 import ledger_service_pb2_grpc as pb_grpc

__all__ = ["LedgerClient"]

_MAX_ANSWER = 256 << 20  # bytes: the summaries of about a million runs (gRPC's default stops at 4 MiB)


class LedgerClient:
    """``LedgerClient("127.0.0.1:4317", token=..., ca_file=...)``; a context manager."""

    def __init__(self, target: str, *, token: str | None = None, ca_file: str | None = None) -> None:
        options = [("grpc.max_receive_message_length", _MAX_ANSWER)]  # Runs answers in one message
        if ca_file is not None:
            with open(ca_file, "rb") as f:
                credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = pb_grpc.LedgerServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def replay(self, correlation_id: str, after_seq: int = 0, timeout: float = 60.0) -> Iterator[Envelope]:
        for batch in self._stub.Replay(pb.ReplayRequest(correlation_id=correlation_id, after_seq=after_seq),
                                       metadata=self._metadata, timeout=timeout):
            for msg in batch.envelopes:
                yield envelope_from_proto(msg)

    def tail(self, after_position: int | None = 0) -> Iterator[Envelope]:
        """Envelopes in commit order after ``after_position`` (``None``: from the current end),
        forever: until the server stops or the iterator is closed."""
        for batch in self.tail_batches(after_position):
            yield from batch

    def tail_batches(self, after_position: int | None = 0) -> Iterator[list[Envelope]]:
        """``tail`` as the server sends it: a list of envelopes per message (up to 512)."""
        request = (pb.TailRequest(from_end=True) if after_position is None
                   else pb.TailRequest(after_position=after_position))
        stream = self._stub.Tail(request, metadata=self._metadata)
        try:
            for batch in stream:
                yield [envelope_from_proto(msg) for msg in batch.envelopes]
        finally:
            stream.cancel()

    def verify(self, correlation_id: str | None = None, timeout: float = 600.0) -> VerifyReport:
        """What ``Ledger.verify`` answers, computed by the receiver."""
        answer = self._stub.Verify(pb.VerifyRequest(correlation_id=correlation_id or ""), metadata=self._metadata,
                                   timeout=timeout)
        return VerifyReport(
            correlations=answer.correlations, envelopes=answer.envelopes,
            breaks=[ChainBreak(b.correlation_id, b.seq, b.reason) for b in answer.breaks],
            problems=[Problem(p.file, p.reason) for p in answer.problems],
        )

    def checkpoint(self, timeout: float = 30.0) -> str | None:
        """The newest checkpoint the receiver's ledger wrote (None: none yet)."""
        answer = self._stub.Checkpoint(pb.CheckpointRequest(), metadata=self._metadata, timeout=timeout)
        return answer.note or None

    def runs(self, timeout: float = 60.0) -> list[RunSummary]:
        """One summary per run, ordered by first occurrence (as ``Ledger.runs``)."""
        response = self._stub.Runs(pb.RunsRequest(), metadata=self._metadata, timeout=timeout)
        return [RunSummary(r.correlation_id, r.first_occurred_at, r.last_occurred_at, r.envelopes,
                           dict(r.event_types), r.last_event_type, r.last_seq, r.conversation_id or None,
                           r.forked_from or None)
                for r in response.runs]

    def sql(self, query: str, timeout: float = 300.0) -> tuple[pa.Table, frozenset[str]]:
        """A read-only query over the receiver's ledger (``Ledger.sql_confined`` there): the result,
        and the names of its JSON columns."""
        answer = self._stub.Sql(pb.SqlRequest(query=query), metadata=self._metadata, timeout=timeout)
        table = pa.ipc.open_stream(answer.arrow_ipc_stream).read_all()
        return table, frozenset(answer.json_columns)

    def prove(self, event_id: str, checkpoint: str | None = None, timeout: float = 60.0) -> InclusionProof:
        """The inclusion proof of ``event_id`` in ``checkpoint`` (None: the receiver's newest)."""
        answer = self._stub.Prove(pb.ProveRequest(event_id=event_id, checkpoint=checkpoint or ""),
                                  metadata=self._metadata, timeout=timeout)
        return InclusionProof.from_json(json.loads(answer.proof_json))

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
