"""Bearer-token authentication, shared by gRPC and HTTP.

Several tokens may be valid at once (rotation: add the new one, move clients,
remove the old). Every configured token is compared in constant time, so the
answer's timing says nothing about how close a guess was. A token is never
logged nor put into an error message.
"""

from __future__ import annotations

import hmac

__all__ = ["Authenticator"]


class Authenticator:
    """``allows(header)``: True when no tokens are configured, or the
    ``Authorization: Bearer <token>`` header carries one of them."""

    def __init__(self, tokens: tuple[str, ...] = ()) -> None:
        self._tokens = tuple(t.encode() for t in tokens)

    def allows(self, header: str | bytes | None) -> bool:
        """``header``: the ``Authorization`` value (gRPC metadata may hand it over as bytes)."""
        if not self._tokens:
            return True
        if isinstance(header, bytes):
            header = header.decode("latin-1")
        scheme, _, given = (header or "").partition(" ")
        candidate = given.strip().encode() if scheme.lower() == "bearer" else b""
        matched = False
        for token in self._tokens:  # no early exit: the same work whichever token matches
            matched |= hmac.compare_digest(candidate, token)
        return matched

    def __repr__(self) -> str:  # never show the tokens
        return f"Authenticator({len(self._tokens)} token(s))"
