"""chatsnapshot fork: a new run whose history is a recorded run's up to a seq (ledger.fork)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from chatsnapshot.cli import common
from chatsnapshot.ledger import Envelope
from chatsnapshot.ledger.fork import check_new_run, fork_envelopes


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "fork", parents=[parent], help="start a new run from a recorded run's history up to a seq",
        description="Start a new run (a new correlation) whose first fact, system.run_forked, records where it "
                    "came from (the run, the seq, that fact's id), followed by copies of the run's facts 1..SEQ; "
                    "the original is not changed. Agents continue the new run from there (AG2: restore(..., "
                    "upto_seq=SEQ) does both). Prints the new run's id.",
    )
    p.add_argument("correlation_id", metavar="ID", help=common.RUN_HELP)
    p.add_argument("--at", type=common.non_negative, required=True, metavar="SEQ",
                   help="the last seq of the original the new run keeps")
    p.add_argument("--as", dest="new_id", metavar="ID", help="the new run's correlation id (default: a new UUIDv7)")
    common.add_server_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.server:
        with common.connect(args) as client:
            run_id = common.resolve_remote_run(client, args.correlation_id, args.server)
            history = common.remote(lambda: list(client.replay(run_id)), args.server)
            facts = _fork(history, args)
            existing = common.remote(lambda: list(client.replay(facts[0].correlation_id)), args.server)
            _check(existing, facts)
        common.remote(lambda: _send(facts, args), args.server)
    else:
        with common.open_writer(args, existing=True) as ledger:
            run_id = common.resolve_run(ledger, args.correlation_id)
            facts = _fork(list(ledger.replay(run_id)), args)
            _check(list(ledger.replay(facts[0].correlation_id)), facts)
            results = ledger.append(facts)
            if any(r.status == "conflict" for r in results):
                raise common.UserError(f"run {facts[0].correlation_id} holds other facts under these ids")
    print(facts[0].correlation_id)
    return 0


def _fork(history: list[Envelope], args: argparse.Namespace) -> list[Envelope]:
    try:
        return fork_envelopes(history, args.at, args.new_id)
    except ValueError as e:
        raise common.UserError(str(e)) from None


def _check(existing: list[Envelope], facts: list[Envelope]) -> None:
    try:
        check_new_run(existing, facts)
    except ValueError as e:
        raise common.UserError(str(e)) from None


def _send(facts: list[Envelope], args: argparse.Namespace) -> None:
    """The facts to a running receiver as an OTLP export: one span per fact, the fact its event."""
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    from chatsnapshot.environment_variables import CHATSNAPSHOT_TOKEN
    from chatsnapshot.proto import attributes as A

    request = trace_service_pb2.ExportTraceServiceRequest()
    scopes: dict[str | None, Any] = {}
    for e in facts:
        if e.source.service not in scopes:  # one resource per service: the copies keep their source
            resource = request.resource_spans.add()
            if e.source.service:
                resource.resource.attributes.add(key="service.name").value.string_value = e.source.service
            scopes[e.source.service] = resource.scope_spans.add()
            scopes[e.source.service].scope.name = "chatsnapshot.fork"
        # No trace or span ids (the fork's facts name their causes): the same fork sent twice is the same
        # request, duplicates and not conflicts.
        span = scopes[e.source.service].spans.add(trace_id=b"", span_id=b"", name=e.event_type,
                                                  start_time_unix_nano=e.occurred_at,
                                                  end_time_unix_nano=e.occurred_at)
        span.attributes.add(key=A.CORRELATION_ID).value.string_value = e.correlation_id  # routing by run
        event = span.events.add(time_unix_nano=e.occurred_at, name=e.event_type)
        values = {A.EVENT_TYPE: e.event_type, A.EVENT_ID: e.event_id, A.CORRELATION_ID: e.correlation_id,
                  A.CAUSATION_ID: e.causation_id or "", A.SOURCE_ORIGIN: e.source.origin,
                  A.SOURCE_RUNTIME: e.source.runtime, A.PAYLOAD: e.payload_json}
        if e.source.agent:
            values[A.SOURCE_AGENT] = e.source.agent
        for key, value in values.items():
            event.attributes.add(key=key).value.string_value = value
    token = os.environ.get(CHATSNAPSHOT_TOKEN)
    channel = (grpc.insecure_channel(args.server) if not args.server_ca else
               grpc.secure_channel(args.server, grpc.ssl_channel_credentials(Path(args.server_ca).read_bytes())))
    with channel:
        export: Any = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                     request_serializer=None, response_deserializer=None)
        answer = trace_service_pb2.ExportTraceServiceResponse.FromString(export(
            request.SerializeToString(), timeout=60, metadata=(("authorization", f"Bearer {token}"),) if token else ()))
    if answer.partial_success.rejected_spans:
        raise common.UserError(f"the receiver refused {answer.partial_success.rejected_spans} fact(s) of the fork: "
                               f"{answer.partial_success.error_message}")
