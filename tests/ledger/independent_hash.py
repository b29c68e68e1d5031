"""A second, independent implementation of the canonical encoding documented
in ``ledger/records.py``, written from the documentation's table rather than
from the code: if the two disagree, either the code or its documentation is
wrong, and a verifier in another language would be too."""

from __future__ import annotations

import hashlib
import io
import uuid

from chatsnapshot.ledger import Envelope


def _i(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big", signed=True)


def _u(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


def payload_field(e: Envelope) -> tuple[bytes, bytes]:
    """(magic, the payload field) per the table: format 2 commits to SHA-256(salt || payload),
    which an erased envelope carries as ``payload_digest``; format 1 to the payload itself."""
    if e.payload_salt is not None:
        return b"CSE2", hashlib.sha256(bytes.fromhex(e.payload_salt) + e.payload_json.encode("utf-8")).digest()
    if e.payload_digest is not None:
        return b"CSE2", bytes.fromhex(e.payload_digest)
    return b"CSE1", e.payload_json.encode("utf-8")


def envelope_hash(e: Envelope) -> str:
    s = e.source
    texts = [e.event_type, s.origin, s.runtime, s.service or "", s.agent or "", e.correlation_id]
    magic, payload = payload_field(e)
    raw = [t.encode("utf-8") for t in texts] + [payload]
    present = [s.service is not None, s.agent is not None, e.causation_id is not None,
               e.trace_id is not None, e.span_id is not None, e.parent_span_id is not None]
    out = io.BytesIO()
    out.write(magic)
    out.write(_u(e.schema_version, 2))
    for value in (e.occurred_at, e.recorded_at, e.seq, e.position):
        out.write(_i(value, 8))
    out.write(_u(sum(1 << i for i, p in enumerate(present) if p), 1))
    out.write(uuid.UUID(e.event_id).bytes)
    out.write(uuid.UUID(e.causation_id).bytes if e.causation_id else bytes(16))
    out.write(bytes.fromhex(e.trace_id) if e.trace_id else bytes(16))
    out.write(bytes.fromhex(e.span_id) if e.span_id else bytes(8))
    out.write(bytes.fromhex(e.parent_span_id) if e.parent_span_id else bytes(8))
    out.write(bytes.fromhex(e.prev_hash))
    for part in raw[:-1]:
        out.write(_u(len(part), 2))
    out.write(_u(len(raw[-1]), 4))
    for part in raw:
        out.write(part)
    assert out.tell() == 151 + sum(map(len, raw)), "the documented offsets do not add up"
    return hashlib.sha256(out.getvalue()).hexdigest()
