"""Identifiers: UUIDv7 for new facts, and the text/binary forms of ids.

Text forms are what users see: UUIDs in canonical lowercase 8-4-4-4-12 form,
OTel trace ids as 32 and span ids as 16 lowercase hex digits. Binary forms (16
and 8 bytes) are what the WAL, the hash chain and the Parquet segments hold.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterable

__all__ = [
    "FACT_ID_DOMAIN",
    "canonical_uuid",
    "derived_id",
    "hex_id",
    "hex_to_bytes",
    "runs_named",
    "uuid7",
    "uuid7_unix_ms",
    "uuid8_of",
    "uuid_bytes",
    "uuid_text",
]

_HEX = frozenset("0123456789abcdef")
_lock = threading.Lock()
_last = 0  # last (unix_ms << 12 | sub-ms fraction) handed out, for monotonicity
_random = b""  # os.urandom fetched in blocks: one syscall per 512 ids ...
_taken = 0  # ... of which this many bytes are used


def _forget_random() -> None:
    """A forked child must not hand out the random bits its parent will use too."""
    global _random, _taken
    _random, _taken = b"", 0


os.register_at_fork(after_in_child=_forget_random)


def uuid7() -> str:
    """A new UUIDv7 (RFC 9562) as text.

    48 bits of Unix milliseconds, 12 bits of sub-millisecond clock (RFC 9562
    method 3, bumped when the clock stands still so ids from this process are
    strictly increasing), then 62 random bits.
    """
    global _last, _random, _taken
    now = time.time_ns()
    stamp = (now // 1_000_000) << 12 | ((now % 1_000_000) * 4096 // 1_000_000)
    with _lock:
        if stamp <= _last:
            stamp = _last + 1
        _last = stamp
        if _taken >= len(_random):
            _random, _taken = os.urandom(4096), 0
        rand = int.from_bytes(_random[_taken:_taken + 8]) & 0x3FFF_FFFF_FFFF_FFFF
        _taken += 8
    value = (stamp >> 12) << 80 | 0x7 << 76 | (stamp & 0xFFF) << 64 | 0x2 << 62 | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid7_unix_ms(text: str) -> int | None:
    """The Unix milliseconds embedded in a UUIDv7, or None for other versions."""
    if len(text) != 36 or text[14] != "7":
        return None
    return int(text[:8] + text[9:13], 16)


def uuid_text(raw: bytes) -> str:
    """16 bytes -> canonical UUID text."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def canonical_uuid(value: object) -> str | None:
    """``value`` as canonical lowercase UUID text, or None when it is not a UUID in 8-4-4-4-12 form."""
    if not isinstance(value, str) or len(value) != 36:
        return None
    text = value.lower()
    if text[8] == text[13] == text[18] == text[23] == "-" and is_lower_hex(text.replace("-", ""), 32):
        return text
    return None


def uuid_bytes(text: str) -> bytes:
    """Canonical UUID text -> 16 bytes (the caller has validated the text)."""
    return bytes.fromhex(text.replace("-", ""))


def hex_to_bytes(text: str | None) -> bytes | None:
    """Lowercase hex text -> bytes; None stays None."""
    return None if text is None else bytes.fromhex(text)


def hex_id(raw: bytes | None) -> str | None:
    """bytes -> lowercase hex text; None stays None."""
    return None if raw is None else raw.hex()


def is_lower_hex(text: str, length: int) -> bool:
    """True when ``text`` is exactly ``length`` lowercase hex digits."""
    return len(text) == length and _HEX.issuperset(text)


FACT_ID_DOMAIN = b"chatsnapshot/v1/fact"  # what every id derived from a fact's place starts from


def uuid8_of(data: bytes) -> str:
    """A UUIDv8 (RFC 9562) made of the first 16 bytes of ``SHA-256(data)``."""
    raw = bytearray(hashlib.sha256(data).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80  # version 8
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 9562 variant
    return uuid_text(bytes(raw))


def derived_id(trace_id: bytes, span_id: bytes, k: int) -> str:
    """The id of the k-th fact (0-based) of a span that was given none:
    ``uuid8_of(FACT_ID_DOMAIN || trace_id || span_id || u32 BE k)``. Promotion derives
    fact ids and causes with it (``receiver.promotion``); readers resolve causes with it
    (``ledger.causes``)."""
    return uuid8_of(FACT_ID_DOMAIN + trace_id + span_id + k.to_bytes(4, "big"))



def runs_named(wanted: str, ids: Iterable[str]) -> list[str]:
    """The runs ``wanted`` names: itself when it is one of ``ids``, else those it is the start or
    the end of (UUIDv7 ids of the same minute share their start; their end tells them apart)."""
    ids = list(ids)
    if wanted in ids:
        return [wanted]
    return [c for c in ids if c.startswith(wanted) or c.endswith(wanted)]
