"""Stored records and the canonical encoding that the hash chain covers.

A ``Record`` is an envelope in storage form: ids as bytes, one field per Parquet
column, in column order. ``encode`` turns a record (without its hash) into the
canonical byte string; ``hash = SHA-256(encode(record))``. The same bytes are
the body of a WAL record, so the chain hash is also the WAL's checksum.

Canonical encoding, version 1 (integers big-endian; strings UTF-8)::

    offset size  field
         0    4  magic b"CSE1"
         4    2  schema_version                    u16
         6    8  occurred_at, UTC ns               i64
        14    8  recorded_at, UTC ns               i64
        22    8  seq                               i64
        30    8  position                          i64
        38    1  presence bits: 1 service, 2 agent, 4 causation_id,
                 8 trace_id, 16 span_id, 32 parent_span_id
        39   16  event_id
        55   16  causation_id     (zeros when absent)
        71   16  trace_id         (zeros when absent)
        87    8  span_id          (zeros when absent)
        95    8  parent_span_id   (zeros when absent)
       103   32  prev_hash        (zeros for seq 1)
       135    2  length of event_type              u16
       137    2  length of source.origin           u16
       139    2  length of source.runtime          u16
       141    2  length of source.service          u16 (0 when absent)
       143    2  length of source.agent            u16 (0 when absent)
       145    2  length of correlation_id          u16
       147    4  length of payload_json            u32
       151       event_type, origin, runtime, service, agent, correlation_id,
                 payload_json, concatenated

Any language can recompute a hash from the columns of a sealed segment with
this table; ``verify`` does exactly that.
"""

from __future__ import annotations

import hashlib
import struct
from typing import NamedTuple

from chatsnapshot.ledger.envelope import Envelope, source_of
from chatsnapshot.ledger.ids import hex_id, hex_to_bytes, uuid_bytes, uuid_text
from chatsnapshot.ledger.results import AppendResult, AppendStatus

__all__ = [
    "CONTENT_FIELDS",
    "GENESIS",
    "MAGIC",
    "Record",
    "Row",
    "decode",
    "digest",
    "draft",
    "duplicate_or_conflict",
    "encode",
    "record_to_envelope",
    "stored_record",
]

MAGIC = b"CSE1"
GENESIS = bytes(32)  # prev_hash of a correlation's first envelope
_HEAD = struct.Struct(">4sHqqqqB16s16s16s8s8s32sHHHHHHI")
_Z16, _Z8 = bytes(16), bytes(8)


class Record(NamedTuple):
    """An envelope in storage form; field order is the segment column order."""

    event_id: bytes
    event_type: str
    schema_version: int
    occurred_at: int
    recorded_at: int
    source_origin: str
    source_runtime: str
    source_service: str | None
    source_agent: str | None
    correlation_id: str
    causation_id: bytes | None
    trace_id: bytes | None
    span_id: bytes | None
    parent_span_id: bytes | None
    seq: int
    position: int
    payload: str
    prev_hash: bytes
    hash: bytes

    def content(self) -> tuple[object, ...]:
        """The producer-given fields, for telling a duplicate from a conflict."""
        return (
            self.event_type, self.schema_version, self.occurred_at, self.source_origin, self.source_runtime,
            self.source_service, self.source_agent, self.correlation_id, self.causation_id, self.trace_id,
            self.span_id, self.parent_span_id, self.payload,
        )


Row = tuple  # a Record's fields as a plain tuple: what the writer keeps in memory
# Plain tuples of atoms are untracked by CPython's cyclic GC; NamedTuple
# instances never are, so a buffer of 100k Records would be walked by every
# full collection. Hot paths index rows with these constants.
EVENT_ID, CORRELATION_ID, SEQ, POSITION, PREV_HASH, HASH = 0, 9, 14, 15, 17, 18

CONTENT_FIELDS = (
    "event_type", "schema_version", "occurred_at", "source_origin", "source_runtime", "source_service",
    "source_agent", "correlation_id", "causation_id", "trace_id", "span_id", "parent_span_id", "payload",
)


def encode(r: Record | tuple) -> bytes:
    """The canonical bytes of a record. ``r`` is a ``Record`` or a plain tuple of
    its fields in column order; ``hash`` (the 19th field) is never included."""
    (eid, event_type, version, occurred, recorded, origin, runtime, svc, agent, corr, caus, trace, span, parent,
     seq, position, payload, prev) = r if len(r) == 18 else r[:18]
    et, origin_b, runtime_b = event_type.encode(), origin.encode(), runtime.encode()
    svc_b = svc.encode() if svc is not None else b""
    agent_b = agent.encode() if agent is not None else b""
    corr_b, payload_b = corr.encode(), payload.encode()
    bits = (
        (svc is not None) | (agent is not None) << 1 | (caus is not None) << 2
        | (trace is not None) << 3 | (span is not None) << 4 | (parent is not None) << 5
    )
    head = _HEAD.pack(
        MAGIC, version, occurred, recorded, seq, position, bits, eid,
        caus or _Z16, trace or _Z16, span or _Z8, parent or _Z8, prev,
        len(et), len(origin_b), len(runtime_b), len(svc_b), len(agent_b), len(corr_b), len(payload_b),
    )
    return b"".join((head, et, origin_b, runtime_b, svc_b, agent_b, corr_b, payload_b))


def decode(body: bytes | memoryview, digest: bytes) -> Record:
    """Canonical bytes (and the stored hash) -> Record. Raises ValueError when
    the bytes are not a canonical record."""
    (magic, version, occurred, recorded, seq, position, bits, eid, caus, trace, span, parent, prev,
     n_et, n_origin, n_runtime, n_svc, n_agent, n_corr, n_payload) = _HEAD.unpack_from(body)
    if magic != MAGIC:
        raise ValueError("not a canonical record (bad magic)")
    if _HEAD.size + n_et + n_origin + n_runtime + n_svc + n_agent + n_corr + n_payload != len(body):
        raise ValueError("canonical record lengths do not add up")
    raw = bytes(body[_HEAD.size:])
    parts, at = [], 0
    for n in (n_et, n_origin, n_runtime, n_svc, n_agent, n_corr, n_payload):
        parts.append(raw[at:at + n].decode())
        at += n
    et, origin, runtime, svc, agent, corr, payload = parts
    return Record(
        eid, et, version, occurred, recorded, origin, runtime,
        svc if bits & 1 else None, agent if bits & 2 else None, corr,
        caus if bits & 4 else None, trace if bits & 8 else None,
        span if bits & 16 else None, parent if bits & 32 else None,
        seq, position, payload, prev, digest,
    )


def digest(r: Record) -> bytes:
    """SHA-256 of the record's canonical encoding: what its ``hash`` must be."""
    return hashlib.sha256(encode(r)).digest()


def record_to_envelope(r: Record) -> Envelope:
    """A stored record as an ``Envelope`` (no re-validation: the ledger wrote it)."""
    return Envelope._trusted(
        uuid_text(r.event_id), r.event_type, r.correlation_id, r.occurred_at,
        source_of(r.source_origin, r.source_runtime, r.source_service, r.source_agent),
        r.payload, uuid_text(r.causation_id) if r.causation_id else None,
        hex_id(r.trace_id), hex_id(r.span_id), hex_id(r.parent_span_id),
        r.schema_version, r.recorded_at, r.seq, r.position, r.prev_hash.hex(), r.hash.hex(),
    )


def draft(e: Envelope) -> Record:
    """An envelope in record form, ledger-assigned fields still empty."""
    s = e.source
    return Record(
        uuid_bytes(e.event_id), e.event_type, e.schema_version, e.occurred_at, 0,
        s.origin, s.runtime, s.service, s.agent, e.correlation_id,
        uuid_bytes(e.causation_id) if e.causation_id else None,
        hex_to_bytes(e.trace_id), hex_to_bytes(e.span_id), hex_to_bytes(e.parent_span_id),
        0, 0, e.payload_json, GENESIS, b"",
    )


def duplicate_or_conflict(env: Envelope, stored: Row) -> AppendResult:
    """DUPLICATE when ``env`` says what ``stored`` says, else CONFLICT naming the fields."""
    stored = Record._make(stored)
    mine, theirs = draft(env).content(), stored.content()
    if mine == theirs:
        return AppendResult(env.event_id, AppendStatus.DUPLICATE, stored.seq, stored.position)
    differ = [name for name, a, b in zip(CONTENT_FIELDS, mine, theirs, strict=True) if a != b]
    return AppendResult(
        env.event_id, AppendStatus.CONFLICT, stored.seq, stored.position,
        f"event_id already stored with different {', '.join(differ)}; the stored envelope stays",
    )


def stored_record(e: Envelope) -> Record:
    """A stored envelope (``seq``, ``position``, ``prev_hash``, ``hash`` assigned) in record
    form: what its ``hash`` must be the digest of. Raises ``ValueError`` for an unstored one."""
    if e.seq is None or e.position is None or e.prev_hash is None or e.hash is None:
        raise ValueError("the envelope was never stored: it has no seq, position or hash")
    return draft(e)._replace(recorded_at=e.recorded_at or 0, seq=e.seq, position=e.position,
                             prev_hash=bytes.fromhex(e.prev_hash), hash=bytes.fromhex(e.hash))
