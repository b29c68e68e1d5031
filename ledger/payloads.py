"""The standard payloads: one published JSON Schema per event type (``ledger/schemas/``).

Each ``execution.*``, ``system.*`` and ``integration.*`` type ChatSnapshot's own
instrumentation, span promotion (``receiver.genai``) and the projections agree on has a
JSON Schema (draft 2020-12) file named after it, shipped in the package: the keys the
projections read, with their types. Schemas name what a payload *should* carry; they
allow other keys (raw attributes, a runtime's own serialisation), and the ledger never
refuses a fact for its payload's shape: ``check`` says what does not follow, and the
projections still show what they can (a message without ``content`` shows its payload).
``x.<vendor>.*`` types have no schema.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_DIR", "check", "schema", "schema_types"]

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def schema_types() -> list[str]:
    """The event types that have a published schema, sorted."""
    return sorted(p.name.removesuffix(".json") for p in SCHEMA_DIR.glob("*.json"))


@cache
def _published() -> frozenset[str]:
    return frozenset(schema_types())


def schema(event_type: str) -> dict[str, Any] | None:
    """The JSON Schema of ``event_type``'s payload, or None when it has none."""
    # Only published types: never a path (or a cache entry) made of what a file or a producer said.
    return _read(event_type) if event_type in _published() else None


@cache
def _read(event_type: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{event_type}.json").read_text(encoding="utf-8"))


@cache
def _validator(event_type: str) -> Any:
    """The validator of a published type."""
    from jsonschema import Draft202012Validator  # loaded only by what checks payloads

    return Draft202012Validator(_read(event_type))


def check(event_type: str, payload: Any) -> list[str]:
    """What in ``payload`` does not follow ``event_type``'s schema: one line per problem,
    naming the key (empty when it follows, or when the type has no schema)."""
    if event_type not in _published():
        return []
    problems = []
    for error in sorted(_validator(event_type).iter_errors(payload), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(map(str, error.absolute_path)) or "payload"
        problems.append(f"{where}: {error.message}")
    return problems
