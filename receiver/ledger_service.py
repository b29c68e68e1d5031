"""``chatsnapshot.v1.LedgerService`` on the receiver's gRPC port: Replay, Tail, Verify, Checkpoint, Runs,
Sql, Prove.

Served by the process that writes the ledger, so it sees every durable envelope,
not only what is sealed. Authentication is the same bearer token as OTLP.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import grpc
import pyarrow as pa

from chatsnapshot.errors import CheckpointError, QueryRefusedError
from chatsnapshot.ledger import Envelope, envelope_to_proto
from chatsnapshot.ledger.querying import confined_query
from chatsnapshot.ledger.store import StoreReader
from chatsnapshot.proto.chatsnapshot.v1 import envelope_pb2
from chatsnapshot.proto.chatsnapshot.v1 import ledger_service_pb2 as pb
from chatsnapshot.proto.chatsnapshot.v1 import ledger_service_pb2_grpc as pb_grpc
from chatsnapshot.receiver.auth import Authenticator

__all__ = ["SQL_TIMEOUT", "TAIL_POLL_SECONDS", "LedgerServicer", "add_ledger_service"]

TAIL_POLL_SECONDS = 0.05
_BATCH = 512  # envelopes per streamed message
SQL_TIMEOUT = 300.0  # seconds a query runs at most (less when the call's deadline is nearer)


class LedgerServicer(pb_grpc.LedgerServiceServicer):
    def __init__(self, ledger: StoreReader, auth: Authenticator, stopping: threading.Event) -> None:
        self._ledger = ledger
        self._auth = auth
        self._stopping = stopping

    def _check(self, context: grpc.ServicerContext) -> None:
        if not self._auth.allows(dict(context.invocation_metadata()).get("authorization")):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

    def Replay(self, request: pb.ReplayRequest, context: grpc.ServicerContext) -> Iterator:
        self._check(context)
        if not request.correlation_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "correlation_id is required")
        batch: list = []
        for envelope in self._ledger.replay(request.correlation_id, after_seq=request.after_seq):
            batch.append(envelope_to_proto(envelope))
            if len(batch) == _BATCH:
                yield envelope_pb2.EnvelopeBatch(envelopes=batch)
                batch = []
        if batch:
            yield envelope_pb2.EnvelopeBatch(envelopes=batch)

    def Tail(self, request: pb.TailRequest, context: grpc.ServicerContext) -> Iterator:
        self._check(context)
        position = self._ledger.last_position if request.from_end else request.after_position
        while context.is_active() and not self._stopping.is_set():
            batch: list[Envelope] = self._ledger.since(position, _BATCH)
            if batch:
                yield envelope_pb2.EnvelopeBatch(envelopes=[envelope_to_proto(e) for e in batch])
                position = batch[-1].position or position
            else:
                self._stopping.wait(TAIL_POLL_SECONDS)

    def Verify(self, request: pb.VerifyRequest, context: grpc.ServicerContext) -> pb.VerifyResponse:
        self._check(context)
        report = self._ledger.verify(request.correlation_id or None)
        return pb.VerifyResponse(
            ok=report.ok, correlations=report.correlations, envelopes=report.envelopes,
            breaks=[pb.ChainBreak(correlation_id=b.correlation_id, seq=b.seq, reason=b.reason)
                    for b in report.breaks],
            problems=[pb.FileProblem(file=p.file, reason=p.reason) for p in report.problems],
        )

    def Checkpoint(self, request: pb.CheckpointRequest, context: grpc.ServicerContext) -> pb.CheckpointResponse:
        self._check(context)
        return pb.CheckpointResponse(note=self._ledger.latest_checkpoint() or "")

    def Runs(self, request: pb.RunsRequest, context: grpc.ServicerContext) -> pb.RunsResponse:
        self._check(context)
        return pb.RunsResponse(runs=[pb.RunSummary(
            correlation_id=r.correlation_id, first_occurred_at=r.first_occurred_at,
            last_occurred_at=r.last_occurred_at, envelopes=r.envelopes, event_types=r.event_types,
            last_event_type=r.last_event_type, last_seq=r.last_seq, conversation_id=r.conversation_id or "",
            forked_from=r.forked_from or "",
        ) for r in self._ledger.runs()])

    def Sql(self, request: pb.SqlRequest, context: grpc.ServicerContext) -> pb.SqlResponse:
        self._check(context)
        import duckdb

        remaining = context.time_remaining()
        timeout = SQL_TIMEOUT if remaining is None else min(SQL_TIMEOUT, remaining)
        try:
            table, json_names = confined_query(self._ledger, request.query, timeout)
        except QueryRefusedError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        except duckdb.InterruptException:
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"the query ran longer than {timeout:.0f} s: stopped")
        except duckdb.Error as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        # the store refused a result over its CONFINED_ANSWER already: this fits one message
        return pb.SqlResponse(arrow_ipc_stream=sink.getvalue().to_pybytes(), json_columns=sorted(json_names))

    def Prove(self, request: pb.ProveRequest, context: grpc.ServicerContext) -> pb.ProveResponse:
        self._check(context)
        note = request.checkpoint or self._ledger.latest_checkpoint()
        if note is None:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          "the receiver has written no checkpoint yet (it writes one after each seal): try again later")
        try:
            proof = self._ledger.prove(request.event_id, note)
        except LookupError as e:
            context.abort(grpc.StatusCode.NOT_FOUND, str(e).strip("'\""))
        except (CheckpointError, ValueError) as e:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(e))
        return pb.ProveResponse(proof_json=json.dumps(proof.to_json(), ensure_ascii=False))


def add_ledger_service(server: grpc.Server, ledger: StoreReader, auth: Authenticator,
                       stopping: threading.Event) -> None:
    pb_grpc.add_LedgerServiceServicer_to_server(LedgerServicer(ledger, auth, stopping), server)
