"""Turning framework objects into JSON-safe fact payloads.

``jsonable(value)`` never raises: agents become their names, pydantic models and
dataclasses their fields, exceptions ``{"type", "message"}``, bytes their size,
and anything else its ``repr``. Strings longer than ``max_chars`` keep their head
and end with ``TRUNCATION_MARK`` and the original length, so a reader knows that
the text is not whole and how big it was. NaN and infinities (which JSON cannot
hold) become strings.

``exact(value)`` is for the state that restore rebuilds from: it is JSON-safe but
never truncates; ``None`` (and a ``chatsnapshot.dropped`` note from the caller)
when it is over ``max_bytes``, so that a fact never exceeds the envelope limit.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_CHARS", "TRUNCATION_MARK", "exact", "jsonable", "text"]

MAX_CHARS = 8_192
MAX_DEPTH = 24
TRUNCATION_MARK = "…[truncated by chatsnapshot; original length "


def text(value: Any, max_chars: int = MAX_CHARS) -> str | None:
    """``value`` as a string (None stays None), truncated with a marker when long."""
    if value is None:
        return None
    value = value if isinstance(value, str) else _repr(value)
    if len(value) <= max_chars:
        return value
    return f"{value[:max_chars]}{TRUNCATION_MARK}{len(value)} chars]"


def jsonable(value: Any, max_chars: int = MAX_CHARS, _depth: int = 0) -> Any:
    """A JSON-safe copy of ``value``; see the module docstring. Never raises."""
    try:
        return _convert(value, max_chars, _depth)
    except Exception as e:  # a __repr__ or property that raises: still never into the host
        return f"<unrepresentable {type(value).__name__}: {type(e).__name__}>"


def exact(value: Any, max_bytes: int = 512 * 1024) -> Any | None:
    """``value`` made JSON-safe without truncation, or None when its JSON is over ``max_bytes``."""
    converted = jsonable(value, max_chars=max_bytes)
    try:
        size = len(json.dumps(converted, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        return None
    return converted if size <= max_bytes else None


def _convert(value: Any, max_chars: int, depth: int) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return text(value, max_chars)
    if depth >= MAX_DEPTH:
        return text(_repr(value), 200)
    if isinstance(value, enum.Enum):
        return _convert(value.value, max_chars, depth + 1)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": len(value)}
    if isinstance(value, BaseException):
        return {"type": type(value).__name__, "message": text(str(value), max_chars)}
    if isinstance(value, Mapping):
        return {str(k) if not isinstance(k, str) else k: _convert(v, max_chars, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_convert(v, max_chars, depth + 1) for v in value]
    name = _agent_name(value)
    if name is not None:
        return name
    dump = getattr(value, "model_dump", None)  # pydantic v2
    if callable(dump):
        try:
            return _convert(dump(mode="json"), max_chars, depth + 1)
        except Exception:
            pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _convert(getattr(value, f.name, None), max_chars, depth + 1) for f in dataclasses.fields(value)}
    return text(_repr(value), min(max_chars, 1_000))


def _agent_name(value: Any) -> str | None:
    """Agents travel by name: anything with a string ``name`` and a reply or ask method."""
    name = getattr(type(value), "name", None)
    if isinstance(name, str) or name is None:  # class attribute, not an instance's name property
        name = getattr(value, "name", None)
    if isinstance(name, str) and (hasattr(value, "generate_reply") or hasattr(value, "ask")):
        return name
    return None


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as e:
        return f"<{type(value).__name__} with a failing repr: {type(e).__name__}>"
