"""Stored records and the canonical encoding that the hash chain covers.

A ``Record`` is an envelope in storage form: ids as bytes, one field per Parquet
column, in column order. ``preimage`` turns a record (without its hash) into the
canonical byte string that its hash covers: ``hash = SHA-256(preimage(record))``.

Two record formats live side by side (a ledger written by an older ChatSnapshot
keeps its format-1 records; every new record is format 2):

* **format 2** (``b"CSE2"``): the preimage holds, instead of the payload, its
  *salted digest* ``SHA-256(payload_salt || payload_json)``, where
  ``payload_salt`` is 16 random bytes drawn for this envelope and stored next to
  its payload. Erasing a payload (``chatsnapshot erase``) replaces it with a
  marker, drops the salt and keeps the digest (``payload_digest``), so the hash
  still checks out; without the salt the digest says nothing about even a short
  payload.
* **format 1** (``b"CSE1"``): the preimage holds the payload itself. Such a
  payload cannot be erased without breaking its chain.

Which one a record is follows from its two payload columns: salt set, format 2;
salt and digest both NULL, format 1; salt NULL and digest set, format 2 erased.

Canonical encoding (integers big-endian; strings UTF-8)::

    offset size  field
         0    4  magic b"CSE2" (format 2) or b"CSE1" (format 1)
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
       147    4  length of the payload field       u32 (format 2: always 32)
       151       event_type, origin, runtime, service, agent, correlation_id,
                 then the payload field, concatenated: format 2, the payload
                 digest SHA-256(payload_salt || payload_json); format 1,
                 payload_json itself

Any language can recompute a hash from the columns of a sealed segment with
this table; ``verify`` does exactly that.

A WAL frame's body (``_engine/wal.py``) is the preimage followed, for format 2,
by the 16-byte salt and the payload; ``wal_body`` and ``decode`` convert.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any, NamedTuple

from chatsnapshot.ledger.envelope import Envelope, source_of
from chatsnapshot.ledger.ids import hex_id, hex_to_bytes, uuid_bytes, uuid_text
from chatsnapshot.ledger.results import AppendResult, AppendStatus

__all__ = [
    "CONTENT_FIELDS",
    "GENESIS",
    "MAGIC",
    "MAGIC_1",
    "SALT_BYTES",
    "Record",
    "Row",
    "decode",
    "digest",
    "draft",
    "duplicate_or_conflict",
    "intact",
    "pack",
    "payload_digest",
    "preimage",
    "record_to_envelope",
    "stored_record",
    "wal_body",
    "wal_size",
]

MAGIC = b"CSE2"  # format 2: the hash covers the payload's salted digest
MAGIC_1 = b"CSE1"  # format 1: the hash covers the payload bytes
SALT_BYTES = 16
GENESIS = bytes(32)  # prev_hash of a correlation's first envelope
_HEAD = struct.Struct(">4sHqqqqB16s16s16s8s8s32sHHHHHHI")
_Z16, _Z8 = bytes(16), bytes(8)
_DIGEST = 32


class Record(NamedTuple):
    """An envelope in storage form; field order is the segment column order.

    ``payload_salt`` and ``payload_digest`` say which format the record is (see
    the module docstring); both None is a format-1 record."""

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
    payload_salt: bytes | None = None
    payload_digest: bytes | None = None  # kept only once the payload is erased

    @property
    def erased(self) -> bool:
        """The payload was erased: only its digest is left."""
        return self.payload_salt is None and self.payload_digest is not None

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
EVENT_ID, CORRELATION_ID, SEQ, POSITION, PAYLOAD, PREV_HASH, HASH, PAYLOAD_SALT, PAYLOAD_DIGEST = (
    0, 9, 14, 15, 16, 17, 18, 19, 20)

CONTENT_FIELDS = (
    "event_type", "schema_version", "occurred_at", "source_origin", "source_runtime", "source_service",
    "source_agent", "correlation_id", "causation_id", "trace_id", "span_id", "parent_span_id", "payload",
)


def payload_digest(salt: bytes, payload_json: bytes) -> bytes:
    """``SHA-256(salt || payload_json)``: what a format-2 hash commits a payload with."""
    return hashlib.sha256(salt + payload_json).digest()


def pack(r: tuple[Any, ...], magic: bytes, payload_field: bytes) -> bytes:
    """The canonical bytes of a record's first 18 fields (``hash`` and after are
    never included) with ``payload_field`` in the payload's place: the hot path's
    way to build a preimage whose payload digest it computed itself."""
    (eid, event_type, version, occurred, recorded, origin, runtime, svc, agent, corr, caus, trace, span, parent,
     seq, position, _payload, prev) = r[:18]
    et, origin_b, runtime_b = event_type.encode(), origin.encode(), runtime.encode()
    svc_b = svc.encode() if svc is not None else b""
    agent_b = agent.encode() if agent is not None else b""
    corr_b = corr.encode()
    bits = (
        (svc is not None) | (agent is not None) << 1 | (caus is not None) << 2
        | (trace is not None) << 3 | (span is not None) << 4 | (parent is not None) << 5
    )
    head = _HEAD.pack(
        magic, version, occurred, recorded, seq, position, bits, eid,
        caus or _Z16, trace or _Z16, span or _Z8, parent or _Z8, prev,
        len(et), len(origin_b), len(runtime_b), len(svc_b), len(agent_b), len(corr_b), len(payload_field),
    )
    return b"".join((head, et, origin_b, runtime_b, svc_b, agent_b, corr_b, payload_field))


def preimage(r: tuple[Any, ...]) -> bytes:
    """The bytes a record's hash covers. ``r`` is a ``Record`` or a plain tuple of
    its fields in column order; a tuple of only the first 18 (no hash, salt or
    digest) is a format-1 record."""
    salt = r[PAYLOAD_SALT] if len(r) > PAYLOAD_SALT else None
    if salt is not None:
        return pack(r, MAGIC, payload_digest(salt, r[PAYLOAD].encode()))
    kept = r[PAYLOAD_DIGEST] if len(r) > PAYLOAD_DIGEST else None
    if kept is not None:
        return pack(r, MAGIC, kept)
    return pack(r, MAGIC_1, r[PAYLOAD].encode())


def digest(r: tuple[Any, ...]) -> bytes:
    """SHA-256 of the record's preimage: what its ``hash`` must be."""
    return hashlib.sha256(preimage(r)).digest()


def wal_body(r: tuple[Any, ...]) -> bytes:
    """A record's WAL frame body: the preimage, then (format 2) the salt and the payload.
    Raises ``ValueError`` for an erased record (erasure happens only to sealed ones)."""
    salt = r[PAYLOAD_SALT] if len(r) > PAYLOAD_SALT else None
    if salt is None:
        if len(r) > PAYLOAD_DIGEST and r[PAYLOAD_DIGEST] is not None:
            raise ValueError("an erased record has no WAL form")
        return pack(r, MAGIC_1, r[PAYLOAD].encode())
    payload = r[PAYLOAD].encode()
    return b"".join((pack(r, MAGIC, payload_digest(salt, payload)), salt, payload))


def wal_size(r: tuple[Any, ...]) -> int:
    """``len(wal_body(r))`` without hashing anything."""
    texts = (r[1], r[5], r[6], r[7] or "", r[8] or "", r[9], r[PAYLOAD])
    size = _HEAD.size + sum(len(t.encode()) for t in texts)
    salted = len(r) > PAYLOAD_SALT and r[PAYLOAD_SALT] is not None
    return size + _DIGEST + SALT_BYTES if salted else size


def _preimage_length(body: bytes | memoryview) -> int:
    lengths = struct.unpack_from(">HHHHHHI", body, _HEAD.size - 16)
    return _HEAD.size + sum(lengths)


def intact(body: bytes | memoryview, hash_: bytes | memoryview) -> bool:
    """Whether a WAL frame body checks out: its preimage hashes to ``hash_`` and,
    for format 2, its salt and payload to the digest in the preimage."""
    magic = bytes(body[:4])
    if magic == MAGIC_1:
        return hashlib.sha256(body).digest() == hash_
    if magic != MAGIC or len(body) < _HEAD.size:
        return False
    n = _preimage_length(body)
    if n + SALT_BYTES > len(body) or hashlib.sha256(body[:n]).digest() != hash_:
        return False
    return hashlib.sha256(body[n:]).digest() == body[n - _DIGEST:n]


def decode(body: bytes | memoryview, hash_: bytes) -> Record:
    """A WAL frame body (and the stored hash) -> Record, checksums aside (see
    ``intact``). Raises ValueError when the bytes are not a record."""
    (magic, version, occurred, recorded, seq, position, bits, eid, caus, trace, span, parent, prev,
     n_et, n_origin, n_runtime, n_svc, n_agent, n_corr, n_payload) = _HEAD.unpack_from(body)
    if magic not in (MAGIC, MAGIC_1):
        raise ValueError("not a canonical record (bad magic)")
    n = _HEAD.size + n_et + n_origin + n_runtime + n_svc + n_agent + n_corr + n_payload
    salt: bytes | None = None
    if magic == MAGIC:
        if n_payload != _DIGEST or n + SALT_BYTES > len(body):
            raise ValueError("a format-2 record's payload digest or salt is missing")
        salt, payload_b = bytes(body[n:n + SALT_BYTES]), bytes(body[n + SALT_BYTES:])
    elif n != len(body):
        raise ValueError("canonical record lengths do not add up")
    raw = bytes(body[_HEAD.size:n])
    parts, at = [], 0
    for size in (n_et, n_origin, n_runtime, n_svc, n_agent, n_corr):
        parts.append(raw[at:at + size].decode())
        at += size
    et, origin, runtime, svc, agent, corr = parts
    payload = payload_b.decode() if salt is not None else raw[at:].decode()
    return Record(
        eid, et, version, occurred, recorded, origin, runtime,
        svc if bits & 1 else None, agent if bits & 2 else None, corr,
        caus if bits & 4 else None, trace if bits & 8 else None,
        span if bits & 16 else None, parent if bits & 32 else None,
        seq, position, payload, prev, hash_, salt, None,
    )


def record_to_envelope(r: Record) -> Envelope:
    """A stored record as an ``Envelope`` (no re-validation: the ledger wrote it)."""
    return Envelope._trusted(
        uuid_text(r.event_id), r.event_type, r.correlation_id, r.occurred_at,
        source_of(r.source_origin, r.source_runtime, r.source_service, r.source_agent),
        r.payload, uuid_text(r.causation_id) if r.causation_id else None,
        hex_id(r.trace_id), hex_id(r.span_id), hex_id(r.parent_span_id),
        r.schema_version, r.recorded_at, r.seq, r.position, r.prev_hash.hex(), r.hash.hex(),
        r.payload_salt.hex() if r.payload_salt is not None else None,
        r.payload_digest.hex() if r.payload_digest is not None else None,
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
    if stored.erased:  # the payload is gone: every other field can still be compared
        mine, theirs = mine[:-1], theirs[:-1]
        if mine == theirs:
            return AppendResult(env.event_id, AppendStatus.DUPLICATE, stored.seq, stored.position,
                                "event_id already stored; its payload was erased, so the payload was not compared")
    if mine == theirs:
        return AppendResult(env.event_id, AppendStatus.DUPLICATE, stored.seq, stored.position)
    differ = [name for name, a, b in zip(CONTENT_FIELDS, mine, theirs, strict=False) if a != b]
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
                             prev_hash=bytes.fromhex(e.prev_hash), hash=bytes.fromhex(e.hash),
                             payload_salt=bytes.fromhex(e.payload_salt) if e.payload_salt else None,
                             payload_digest=bytes.fromhex(e.payload_digest) if e.payload_digest else None)
