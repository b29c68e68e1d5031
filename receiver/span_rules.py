"""Rules that promote whole spans into facts, for services traced without ChatSnapshot.

A span matches a rule by its ``gen_ai.operation.name`` attribute (the GenAI
semantic conventions), or else by its name's first word (``"execute_tool
get_weather"`` is an ``execute_tool`` span). The matched span becomes one fact,
at the span's end time, of the rule's event type (or ``error_event_type`` when
the span's status is ERROR), with a payload summarising the span:
``{"span": name, "operation": ..., "duration_ms": ..., "status": "ok"|"error",
"status_message": ..., "attributes": {...the span's gen_ai.* and ag2.* attributes}}``.

Built-in table (``DEFAULT_RULES``):

=====================  ==============================  ==========================
operation              event type                      on error
=====================  ==============================  ==========================
invoke_workflow        execution.run_completed         execution.run_failed
invoke_agent           execution.turn_completed        execution.run_failed
chat                   execution.llm_call              execution.llm_call
text_completion        execution.llm_call              execution.llm_call
generate_content       execution.llm_call              execution.llm_call
execute_tool           execution.tool_result           execution.tool_result
create_agent           execution.state_change          execution.alert
await_human_input      execution.human_input_received  execution.alert
=====================  ==============================  ==========================

A span that carries ``chatsnapshot.recorded = true`` matches no rule: ChatSnapshot's
own AG2 instrumentation sets it on the operation spans whose facts it records, so
AG2's TelemetryMiddleware (or autogen.opentelemetry) can run alongside without
storing an operation twice.

A rules file (TOML) replaces or extends the table::

    replace_defaults = false          # true: only the rules below
    [[rule]]
    operation = "retrieve"            # gen_ai.operation.name, or the span name's first word
    event_type = "integration.call"
    error_event_type = "system.error" # optional, defaults to event_type
    origin = "integration"            # optional, default "agent"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from chatsnapshot.errors import EnvelopeError
from chatsnapshot.ledger.envelope import ORIGINS, check_event_type

__all__ = ["DEFAULT_RULES", "Rule", "Rules", "load_rules"]


@dataclass(frozen=True, slots=True)
class Rule:
    operation: str
    event_type: str
    error_event_type: str
    origin: str = "agent"


@dataclass(frozen=True)
class Rules:
    """Span promotion rules by operation name."""

    by_operation: dict[str, Rule]

    def match(self, operation: str | None, span_name: str) -> Rule | None:
        if operation is not None:
            rule = self.by_operation.get(operation)
            if rule is not None:
                return rule
        return self.by_operation.get(span_name.split(" ", 1)[0])


def _table(*rows: tuple[str, str, str]) -> dict[str, Rule]:
    return {op: Rule(op, ok, error) for op, ok, error in rows}


DEFAULT_RULES = Rules(_table(
    ("invoke_workflow", "execution.run_completed", "execution.run_failed"),
    ("invoke_agent", "execution.turn_completed", "execution.run_failed"),
    ("chat", "execution.llm_call", "execution.llm_call"),
    ("text_completion", "execution.llm_call", "execution.llm_call"),
    ("generate_content", "execution.llm_call", "execution.llm_call"),
    ("execute_tool", "execution.tool_result", "execution.tool_result"),
    ("create_agent", "execution.state_change", "execution.alert"),
    ("await_human_input", "execution.human_input_received", "execution.alert"),
))


def load_rules(path: str | Path) -> Rules:
    """Read a rules file; raises ``ValueError`` naming the file and what to change."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"cannot read rules file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"rules file {path} is not valid TOML: {e}") from None
    unknown = set(document) - {"replace_defaults", "rule"}
    if unknown:
        raise ValueError(f"rules file {path}: unknown keys {sorted(unknown)} (expected replace_defaults, [[rule]])")
    table = {} if document.get("replace_defaults", False) else dict(DEFAULT_RULES.by_operation)
    for n, item in enumerate(document.get("rule", []), 1):
        where = f"rules file {path}, rule {n}"
        if not isinstance(item, dict) or not isinstance(item.get("operation"), str) or "event_type" not in item:
            raise ValueError(f"{where}: needs operation = \"...\" and event_type = \"...\"")
        extra = set(item) - {"operation", "event_type", "error_event_type", "origin"}
        if extra:
            raise ValueError(f"{where}: unknown keys {sorted(extra)}")
        event_type, origin = item["event_type"], item.get("origin", "agent")
        error_event_type = item.get("error_event_type", event_type)
        if not (isinstance(event_type, str) and isinstance(error_event_type, str) and isinstance(origin, str)):
            raise ValueError(f"{where}: event_type, error_event_type and origin must be strings")
        rule = Rule(item["operation"], event_type, error_event_type, origin)
        try:
            check_event_type(rule.event_type)
            check_event_type(rule.error_event_type)
        except EnvelopeError as e:
            raise ValueError(f"{where}: {e}") from None
        if rule.origin not in ORIGINS:
            raise ValueError(f"{where}: origin must be one of {', '.join(ORIGINS)}, got {rule.origin!r}")
        table[rule.operation] = rule
    return Rules(table)
