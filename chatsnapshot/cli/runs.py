"""chatsnapshot runs: one line per correlation, with its status, agents, duration, tokens and cost."""

from __future__ import annotations

import argparse
from typing import Any

from chatsnapshot.cli import common
from chatsnapshot.cli.output import add_format_argument, emit
from chatsnapshot.ledger import LedgerReader, LedgerUnion, RunSummary
from chatsnapshot.ledger.projections import ProjectionEngine, RunMetrics, RunMetricsProjection
from chatsnapshot.ledger.timestamps import format_rfc3339_ns


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "runs", parents=[parent], help="list the correlations (runs) in the ledger",
        description="List every correlation: its status, agents, start, duration, facts, tokens and cost (the "
                    "run metrics projection, kept with the ledger), the conversation it belongs to when a "
                    "producer said (gen_ai.conversation.id, session.id), and the run it was forked from.",
    )
    add_format_argument(p, ("table", "json", "jsonl", "csv"))
    p.add_argument("--status", metavar="STATUS", help="only runs with this status (running, completed, failed, "
                                                      "unknown)")
    p.add_argument("--since", metavar="TIME", help="only runs that started at or after TIME (RFC 3339)")
    p.add_argument("--agent", metavar="NAME", help="only runs in which this agent took part")
    p.add_argument("--service", metavar="NAME", help="only runs with facts from this OTel service")
    p.add_argument("--query", metavar="SQL", help="only runs with an envelope matching this SQL condition over "
                                                  "the envelopes view, e.g. \"payload->>'status' = 'error'\"")
    common.add_server_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    since = common.since_ns(args.since)
    if args.server:
        if args.agent or args.service or args.query or args.status:
            raise common.UserError("--status, --agent, --service and --query read the ledger directory: "
                                   "drop --server (use --ledger)")
        with common.connect(args) as client:
            rows = [_row(r, None, {}) for r in common.remote(client.runs, args.server)]
    else:
        with common.open_readers(args) as ledger:
            summaries, metrics, parts = ledger.runs(), _metrics(ledger), _parts(ledger, args.query)
            rows = [_row(r, metrics.get(r.correlation_id), parts.get(r.correlation_id, {})) for r in summaries
                    if not args.query or parts.get(r.correlation_id, {}).get("matched")]
    rows = [row for row in rows if (args.status is None or row["status"] == args.status)
            and (since is None or row["first_ns"] >= since)
            and (args.agent is None or args.agent in row["agents"])
            and (args.service is None or args.service in row["services"])]
    for row in rows:
        del row["first_ns"]
    columns = list(_COLUMNS)
    if args.format == "table":
        columns = [c for c in _TABLE if c not in ("conversation_id", "forked_from") or any(r[c] for r in rows)]
    emit(args.format, columns, [tuple(_cell(c, row[c], args.format) for c in columns) for row in rows])
    return 0


_COLUMNS = ("correlation_id", "status", "agents", "services", "first_occurred_at", "last_occurred_at", "duration_ms",
            "envelopes", "total_tokens", "cost", "errors", "event_types", "last_event_type", "last_seq",
            "conversation_id", "forked_from")
_TABLE = ("correlation_id", "status", "agents", "first_occurred_at", "duration_ms", "envelopes", "total_tokens",
          "cost", "errors", "conversation_id", "forked_from")


def _cell(column: str, value: Any, fmt: str) -> Any:
    if fmt != "table":
        return value
    if isinstance(value, list):
        return ",".join(value)
    if column == "cost" and value is not None:
        return f"{value:.6f}"
    return "" if value is None else value


def _row(r: RunSummary, m: RunMetrics | None, part: dict[str, Any]) -> dict[str, Any]:
    return {
        "correlation_id": r.correlation_id, "status": m.status if m is not None else None,
        "agents": part.get("agents", []), "services": part.get("services", []),
        "first_occurred_at": format_rfc3339_ns(r.first_occurred_at),
        "last_occurred_at": format_rfc3339_ns(r.last_occurred_at),
        "duration_ms": round((r.last_occurred_at - r.first_occurred_at) / 1e6, 3), "envelopes": r.envelopes,
        "total_tokens": m.total_tokens if m is not None else None, "cost": m.cost if m is not None else None,
        "errors": m.errors if m is not None else None,
        "event_types": r.event_types, "last_event_type": r.last_event_type, "last_seq": r.last_seq,
        "conversation_id": r.conversation_id, "forked_from": r.forked_from, "first_ns": r.first_occurred_at,
    }


def _metrics(ledger: LedgerReader | LedgerUnion) -> dict[str, RunMetrics]:
    """Every run's metrics: the projection kept with each ledger, brought up to date."""
    out: dict[str, RunMetrics] = {}
    for reader in ledger.readers if isinstance(ledger, LedgerUnion) else [ledger]:
        out.update(ProjectionEngine(reader, RunMetricsProjection()).update())
    return out


def _parts(ledger: LedgerReader | LedgerUnion, query: str | None) -> dict[str, dict[str, Any]]:
    """Who took part in each run (agents, services), and, with ``query``, whether an envelope matched."""
    import duckdb

    matched = "false"
    if query:
        matched = f"bool_or({query})"
    try:
        table = ledger.sql(f"SELECT correlation_id, list(DISTINCT source_agent ORDER BY source_agent) "
                           f"FILTER (source_agent IS NOT NULL) AS agents, list(DISTINCT source_service ORDER BY "
                           f"source_service) FILTER (source_service IS NOT NULL) AS services, {matched} AS matched "
                           "FROM envelopes GROUP BY 1")
    except duckdb.Error as e:
        raise common.UserError(f"--query is not a condition over the envelopes view: "
                               f"{common.database_message(e)}") from None
    return {row["correlation_id"]: {"agents": row["agents"] or [], "services": row["services"] or [],
                                    "matched": row["matched"]} for row in table.to_pylist()}
