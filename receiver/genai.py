"""What a GenAI or OpenInference span says, as the standard payloads of ``execution.*`` facts.

A span promotion rule (``receiver.span_rules``) names the span's *shape*; ``span_facts``
reads the span's attributes by the conventions producers use today and returns its
facts in order, each with the standard payload of its type, so that transcript,
timeline, context and stats read a promoted run as they read an instrumented one:

``llm`` (a model call: ``chat``, ``text_completion``, ``generate_content``, OpenInference ``LLM``)
    1. ``execution.message`` ``{role: "user", content}``: the call's newest input
       message when it is the user's (the prompt this call answers; earlier ones were
       the prompts of earlier calls), at the span's start;
    2. the rule's event (``execution.llm_call``) ``{model, status, duration_ms,
       finish_reasons, input_tokens, output_tokens, ...summary}``;
    3. one ``execution.tool_call`` ``{name, arguments, call_id}`` per tool call the
       model asked for (its id is derived from the call id, see ``tool``);
    4. ``execution.message`` ``{role: "assistant", content}``: the model's text answer;
    5. ``execution.usage`` ``{prompt_tokens, completion_tokens, total_tokens, model}``.
``tool`` (``execute_tool``, OpenInference ``TOOL``)
    the rule's event (``execution.tool_result``) ``{name, arguments, result, status,
    call_id}``; with a call id it is caused by the ``execution.tool_call`` that asked
    for it: both sides derive that fact's id from ``(trace_id, call id)``, so the link
    holds in any arrival order.
``agent``, ``workflow``, ``span``
    the rule's event with the span's summary.

Every main fact also carries the span summary (``span``, ``operation``,
``duration_ms``, ``status``, ``status_message``, ``conversation_id``) and the raw
attributes the rule keeps (``attributes``; string values over 32 KiB are cut, with
their length said). Messages are read from ``gen_ai.input.messages`` /
``gen_ai.output.messages`` (JSON, the current conventions), OpenInference's
``llm.input_messages.<i>.message.*`` / ``llm.output_messages.<i>.message.*``, or the
older ``gen_ai.prompt`` / ``gen_ai.completion``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chatsnapshot.ledger.ids import FACT_ID_DOMAIN, uuid8_of
from chatsnapshot.receiver.span_rules import Rule

__all__ = ["INFERENCE_DETAILS_EVENT", "SpanFact", "event_facts", "span_facts", "tool_call_id"]

# The GenAI conventions' log-based event with a model call's messages (when an instrumentation
# records content as events rather than on the span).
INFERENCE_DETAILS_EVENT = "gen_ai.client.inference.operation.details"

_STATUS_ERROR = 2  # opentelemetry.proto.trace.v1.Status.STATUS_CODE_ERROR
_RAW_LIMIT = 32 << 10


@dataclass(frozen=True, slots=True)
class SpanFact:
    """One fact of a promoted span: its type, standard payload and time; ``event_id`` and
    ``cause`` when they are not the span's own derived ones (tool calls and results)."""

    event_type: str
    payload: dict[str, Any]
    at: int
    event_id: str | None = None
    cause: str | None = None


def tool_call_id(trace_id: bytes, call_id: str) -> str:
    """The event id of the ``execution.tool_call`` fact for the model's call ``call_id``."""
    return uuid8_of(FACT_ID_DOMAIN + b"/tool_call/" + trace_id + call_id.encode())


def span_facts(span: Any, attrs: dict[str, Any], rule: Rule, conversation: str | None) -> list[SpanFact]:
    """The facts a span matched by ``rule`` becomes, in order (see the module docstring)."""
    error = span.status.code == _STATUS_ERROR
    start, end = span.start_time_unix_nano, span.end_time_unix_nano or span.start_time_unix_nano
    summary: dict[str, Any] = {
        "span": span.name,
        "operation": attrs.get("gen_ai.operation.name") or attrs.get("openinference.span.kind") or rule.operation,
        "duration_ms": max(0, end - start) / 1e6,
        "status": "error" if error else "ok",
        "attributes": _kept(attrs, rule.keep),
    }
    if span.status.message:
        summary["status_message"] = span.status.message
    if conversation is not None:
        summary["conversation_id"] = conversation
    main = rule.error_event_type if error else rule.event_type
    if rule.shape == "llm":
        return _llm(span, attrs, main, summary, start, end)
    if rule.shape == "tool":
        return [_tool(span, attrs, main, summary, end)]
    if rule.shape == "agent":
        agent = _first(attrs, "gen_ai.agent.name", "agent.name")
        return [SpanFact(main, {**summary, **({"agent": agent} if agent else {})}, end)]
    return [SpanFact(main, summary, end)]


def event_facts(attrs: dict[str, Any], trace_id: bytes, at: int) -> list[SpanFact]:
    """The conversation facts of an ``INFERENCE_DETAILS_EVENT`` log record: the user's new
    message, the tool calls asked for and the assistant's message (its span gives the
    ``llm_call`` and ``usage`` facts)."""
    return _conversation(attrs, trace_id, at, at)


def _conversation(attrs: dict[str, Any], trace: bytes, start: int, end: int,
                  call: SpanFact | None = None) -> list[SpanFact]:
    """The user's new message, ``call`` (the llm_call fact, when given), the tool calls asked for
    and the assistant's message, in that order."""
    facts = []
    inputs, outputs = _messages(attrs, "input"), _messages(attrs, "output")
    if inputs and inputs[-1]["role"] == "user" and inputs[-1]["content"]:
        facts.append(SpanFact("execution.message", {"role": "user", "content": inputs[-1]["content"]}, start))
    if call is not None:
        facts.append(call)
    for message in outputs:
        for tc in message["tool_calls"]:
            payload = {"name": tc["name"], "arguments": tc["arguments"], "call_id": tc["id"]}
            facts.append(SpanFact("execution.tool_call", {k: v for k, v in payload.items() if v is not None}, end,
                                  event_id=tool_call_id(trace, tc["id"]) if tc["id"] else None))
        if message["content"]:
            facts.append(SpanFact("execution.message", {"role": "assistant", "content": message["content"]}, end))
    return facts


def _system_instructions(attrs: dict[str, Any]) -> str | None:
    raw = attrs.get("gen_ai.system_instructions")
    if isinstance(raw, str) and raw:
        try:
            parts = json.loads(raw)
        except ValueError:
            return raw
        texts: list[str] = [p["content"] for p in parts if isinstance(p, dict) and isinstance(p.get("content"), str)] \
            if isinstance(parts, list) else []
        return "\n".join(texts) or raw
    system = [m["content"] for m in _messages(attrs, "input") if m["role"] == "system" and m["content"]]
    return "\n".join(system) or None


def _llm(span: Any, attrs: dict[str, Any], main: str, summary: dict[str, Any], start: int, end: int) -> list[SpanFact]:
    model = _first(attrs, "gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
    usage = {
        "prompt_tokens": _first(attrs, "gen_ai.usage.input_tokens", "llm.token_count.prompt"),
        "completion_tokens": _first(attrs, "gen_ai.usage.output_tokens", "llm.token_count.completion"),
        "total_tokens": _first(attrs, "llm.token_count.total"),
    }
    if usage["total_tokens"] is None and isinstance(usage["prompt_tokens"], int) and isinstance(
            usage["completion_tokens"], int):
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    reasons = attrs.get("gen_ai.response.finish_reasons") or attrs.get("llm.finish_reason")
    call = {**summary, "model": model, "input_tokens": usage["prompt_tokens"],
            "output_tokens": usage["completion_tokens"], "system_instructions": _system_instructions(attrs),
            "finish_reasons": list(reasons) if isinstance(reasons, list | tuple) else [reasons] if reasons else []}
    facts = _conversation(attrs, span.trace_id, start, end,
                          SpanFact(main, {k: v for k, v in call.items() if v is not None}, end))
    if any(v is not None for v in usage.values()):
        facts.append(SpanFact("execution.usage", {**{k: v for k, v in usage.items() if v is not None},
                                                  **({"model": model} if model else {})}, end))
    return facts


def _tool(span: Any, attrs: dict[str, Any], main: str, summary: dict[str, Any], end: int) -> SpanFact:
    name = _first(attrs, "gen_ai.tool.name", "tool.name") or span.name.partition(" ")[2] or span.name or None
    call_id = _first(attrs, "gen_ai.tool.call.id", "tool_call.id", "tool.call_id")
    payload = {
        **summary, "name": name, "call_id": call_id,
        "arguments": _first(attrs, "gen_ai.tool.call.arguments", "tool.parameters", "input.value"),
        "result": _first(attrs, "gen_ai.tool.call.result", "output.value"),
    }
    if summary["status"] == "error":
        payload["error"] = summary.get("status_message") or "the tool failed"
    cause = tool_call_id(span.trace_id, call_id) if isinstance(call_id, str) and call_id else None
    return SpanFact(main, {k: v for k, v in payload.items() if v is not None}, end, cause=cause)


# -- reading the conventions ---------------------------------------------------------------


def _first(attrs: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return value
    return None


def _kept(attrs: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    kept = {}
    for k, v in attrs.items():
        if k.startswith(prefixes):
            if isinstance(v, str) and len(v) > _RAW_LIMIT:
                v = v[:_RAW_LIMIT] + f"… (cut: {len(v.encode())} bytes)"
            kept[k] = list(v) if isinstance(v, tuple) else v
    return kept


def _messages(attrs: dict[str, Any], side: str) -> list[dict[str, Any]]:
    """The input or output messages as ``{role, content, tool_calls: [{id, name, arguments}]}``."""
    raw = attrs.get(f"gen_ai.{side}.messages")  # JSON text on a span, structured on a log-based event
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if isinstance(raw, list):
        return [_semconv_message(m) for m in raw if isinstance(m, dict)]
    flat = _openinference_messages(attrs, f"llm.{side}_messages.")
    if flat:
        return flat
    legacy = attrs.get("gen_ai.prompt" if side == "input" else "gen_ai.completion")
    if isinstance(legacy, str) and legacy:
        return [{"role": "user" if side == "input" else "assistant", "content": legacy, "tool_calls": []}]
    return []


def _semconv_message(m: dict[str, Any]) -> dict[str, Any]:
    texts, calls = [], []
    for part in m.get("parts") or []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("content"), str):
            texts.append(part["content"])
        elif part.get("type") == "tool_call":
            arguments = part.get("arguments")
            calls.append({"id": part.get("id"), "name": part.get("name"),
                          "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)})
    return {"role": m.get("role") or "", "content": "\n".join(texts), "tool_calls": calls}


def _openinference_messages(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    by_index: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        index, _, rest = key[len(prefix):].partition(".")
        if not index.isdigit():
            continue
        message = by_index.setdefault(int(index), {"role": "", "content": "", "calls": {}})
        if rest == "message.role":
            message["role"] = value
        elif rest == "message.content":
            message["content"] = value
        elif rest.startswith("message.tool_calls."):
            n, _, field = rest[len("message.tool_calls."):].partition(".")
            if n.isdigit():
                call = message["calls"].setdefault(int(n), {})
                call[field.removeprefix("tool_call.")] = value
    out = []
    for _, m in sorted(by_index.items()):
        calls = [{"id": c.get("id"), "name": c.get("function.name"), "arguments": c.get("function.arguments")}
                 for _, c in sorted(m["calls"].items())]
        out.append({"role": m["role"], "content": m["content"] if isinstance(m["content"], str) else "",
                    "tool_calls": calls})
    return out
