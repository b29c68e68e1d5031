"""Rules that promote whole spans into facts, for services traced without ChatSnapshot.

The rules are data: ``receiver/rules/default.toml`` holds the defaults (copy it, edit
it, and pass it as a rules file; its comments document every key). A span matches a
rule by its ``gen_ai.operation.name`` (the GenAI semantic conventions), else by its
``openinference.span.kind`` (OpenInference), else by its name's first word
(``"execute_tool get_weather"`` is an ``execute_tool`` span). The rule's ``shape`` says
how the span's attributes are read into the standard payloads of its facts
(``receiver.genai``); its event type (or ``error_event_type`` when the span's status
is ERROR) is the span's main fact.

A span that carries ``chatsnapshot.recorded = true`` matches no rule: ChatSnapshot's
own AG2 instrumentation sets it on the operation spans whose facts it records, so
AG2's TelemetryMiddleware (or autogen.opentelemetry) can run alongside without
storing an operation twice.

A rules file (TOML) replaces or extends the defaults::

    replace_defaults = false          # true: only the rules below
    [[rule]]
    operation = "retrieve"            # gen_ai.operation.name, or the span name's first word
    openinference_kind = "RETRIEVER"  # optional: or this openinference.span.kind
    event_type = "integration.call"
    error_event_type = "system.error" # optional, defaults to event_type
    shape = "span"                    # optional: llm, tool, agent, workflow, span (default)
    origin = "integration"            # optional, default "agent"
    keep = ["retrieval."]             # optional: attribute prefixes kept raw (default below)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatsnapshot.errors import EnvelopeError
from chatsnapshot.ledger.envelope import ORIGINS, check_event_type

__all__ = ["DEFAULT_RULES", "DEFAULT_RULES_FILE", "KEEP", "SHAPES", "Rule", "Rules", "load_rules"]

DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "rules" / "default.toml"
SHAPES = ("llm", "tool", "agent", "workflow", "span")
# Attributes kept raw beside the standard payload, by prefix: the GenAI and OpenInference
# conventions and AG2's own.
KEEP = ("gen_ai.", "ag2.", "llm.", "tool.", "input.", "output.", "openinference.", "session.", "user.",
        "embedding.", "retrieval.", "reranker.", "agent.", "graph.")
_KEYS = {"operation", "openinference_kind", "event_type", "error_event_type", "shape", "origin", "keep"}


@dataclass(frozen=True, slots=True)
class Rule:
    operation: str | None
    event_type: str
    error_event_type: str
    origin: str = "agent"
    shape: str = "span"
    openinference_kind: str | None = None
    keep: tuple[str, ...] = KEEP


@dataclass(frozen=True)
class Rules:
    """Span promotion rules by operation name and by OpenInference span kind."""

    by_operation: dict[str, Rule]
    by_kind: dict[str, Rule]

    def match(self, operation: str | None, span_name: str, kind: str | None = None) -> Rule | None:
        if operation is not None and operation in self.by_operation:
            return self.by_operation[operation]
        if kind is not None and kind in self.by_kind:
            return self.by_kind[kind]
        return self.by_operation.get(span_name.split(" ", 1)[0])


def load_rules(path: str | Path, *, base: Rules | None = None) -> Rules:
    """Read a rules file over ``base`` (default: ``DEFAULT_RULES``); raises ``ValueError``
    naming the file, the rule and what to change."""
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
    start = base if base is not None else DEFAULT_RULES
    keep = start is not None and not document.get("replace_defaults", False)
    by_operation = dict(start.by_operation) if keep else {}
    by_kind = dict(start.by_kind) if keep else {}
    for n, item in enumerate(document.get("rule", []), 1):
        rule = _rule(item, f"rules file {path}, rule {n}")
        if rule.operation is not None:
            by_operation[rule.operation] = rule
        if rule.openinference_kind is not None:
            by_kind[rule.openinference_kind] = rule
    return Rules(by_operation, by_kind)


def _rule(item: Any, where: str) -> Rule:
    if not isinstance(item, dict) or "event_type" not in item or not (
            isinstance(item.get("operation"), str) or isinstance(item.get("openinference_kind"), str)):
        raise ValueError(f"{where}: needs event_type = \"...\" and operation = \"...\" or openinference_kind = \"...\"")
    extra = set(item) - _KEYS
    if extra:
        raise ValueError(f"{where}: unknown keys {sorted(extra)} (known: {', '.join(sorted(_KEYS))})")
    event_type: Any = item["event_type"]
    error_event_type: Any = item.get("error_event_type", event_type)
    origin: Any = item.get("origin", "agent")
    shape: Any = item.get("shape", "span")
    if not all(isinstance(v, str) for v in (event_type, error_event_type, origin, shape)):
        raise ValueError(f"{where}: event_type, error_event_type, origin and shape must be strings")
    try:
        check_event_type(event_type)
        check_event_type(error_event_type)
    except EnvelopeError as e:
        raise ValueError(f"{where}: {e}") from None
    if origin not in ORIGINS:
        raise ValueError(f"{where}: origin must be one of {', '.join(ORIGINS)}, got {origin!r}")
    if shape not in SHAPES:
        raise ValueError(f"{where}: shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    keep = item.get("keep", KEEP)
    if not isinstance(keep, list | tuple) or not all(isinstance(k, str) for k in keep):
        raise ValueError(f"{where}: keep must be a list of attribute prefixes")
    return Rule(item.get("operation"), event_type, error_event_type, origin, shape, item.get("openinference_kind"),
                tuple(keep))


DEFAULT_RULES: Rules = load_rules(DEFAULT_RULES_FILE, base=Rules({}, {}))
