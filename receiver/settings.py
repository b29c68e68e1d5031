"""Receiver settings: a flag beats its ``CHATSNAPSHOT_*`` environment variable, which beats the default.

The variables are declared in ``chatsnapshot.environment_variables``.

=========================  ==============================  =======================
setting                    environment variable            default
=========================  ==============================  =======================
``--ledger DIR``           CHATSNAPSHOT_LEDGER             ./chatsnapshot-ledger
``--grpc HOST:PORT``       CHATSNAPSHOT_GRPC               127.0.0.1:4317 (``off``: none)
``--http HOST:PORT``       CHATSNAPSHOT_HTTP               127.0.0.1:4318 (``off``: none)
``--max-request-bytes N``  CHATSNAPSHOT_MAX_REQUEST_BYTES  67108864 (64 MiB, after decompression)
``--max-pending N``        CHATSNAPSHOT_MAX_PENDING        65536 envelopes admitted, not yet committed
``--max-pending-bytes N``  CHATSNAPSHOT_MAX_PENDING_BYTES  67108864 bytes of requests in flight (admission,
                                                           before any decoding)
``--promote-spans``        CHATSNAPSHOT_PROMOTE_SPANS      off (1/true/on: GenAI span rules)
``--rules FILE``           CHATSNAPSHOT_RULES              none (a TOML rules file; implies promote)
``--token-file FILE``      CHATSNAPSHOT_TOKENS             none (tokens, one per line / comma-separated)
``--tls-cert/--tls-key``   CHATSNAPSHOT_TLS_CERT/_KEY      none (PEM files: serve TLS)
``--tls-client-ca FILE``   CHATSNAPSHOT_TLS_CLIENT_CA      none (require client certificates: mTLS)
``--shutdown-grace S``     CHATSNAPSHOT_SHUTDOWN_GRACE     10 seconds for in-flight requests
``--forward-otlp H:P``     CHATSNAPSHOT_FORWARD_OTLP       none (re-export requests upstream, OTLP/gRPC)
``--signing-key FILE``     CHATSNAPSHOT_SIGNING_KEY        none (sign the checkpoint written after each seal)
``--workers N``            CHATSNAPSHOT_WORKERS            1 on a machine with 2+ cores, else 0: processes
                                                           that decode and promote requests (0: in the
                                                           receiver's own process)
=========================  ==============================  =======================

Tokens are secrets: they are read from a file (or the environment), never from a
flag that ``ps`` would show, and never written to a log or an error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chatsnapshot import environment_variables as V

__all__ = ["Settings", "parse_endpoint", "resolve_tokens"]


@dataclass(frozen=True)
class Settings:
    """The receiver's configuration; ``resolve`` builds it, ``validate`` checks it."""

    ledger: str = V.DEFAULT_LEDGER
    grpc: tuple[str, int] | None = ("127.0.0.1", 4317)
    http: tuple[str, int] | None = ("127.0.0.1", 4318)
    max_request_bytes: int = 64 << 20
    max_pending: int = 65_536
    max_pending_bytes: int = 64 << 20
    max_queue_delay: float = 0.5
    promote_spans: bool = False
    rules_file: str | None = None
    tokens: tuple[str, ...] = field(default=(), repr=False)
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    shutdown_grace: float = 10.0
    forward_otlp: str | None = None
    signing_key: str | None = None  # the key file that signs checkpoints
    workers: int = 0  # resolve() picks 1 on a machine with 2+ cores

    @classmethod
    def resolve(cls, flags: Mapping[str, object], environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from parsed flags (``None`` = not given) over the environment over defaults,
        validated. Raises ``ValueError`` naming the flag or variable to fix."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, variable, parse in _PARSERS:
            where = f"--{name.replace('_', '-')} / {variable}"
            raw = flags.get(name)
            raw = raw if raw is not None else env.get(variable)
            if raw is not None and raw != "":
                values[name] = parse(raw, where)
        values["ledger"] = str(flags.get("ledger") or env.get(V.CHATSNAPSHOT_LEDGER) or V.DEFAULT_LEDGER)
        values.setdefault("workers", int((os.cpu_count() or 1) >= 2))
        values["tokens"] = resolve_tokens(flags.get("token_file"), env)
        return cls(**values).validate()  # type: ignore[arg-type]

    def validate(self) -> Settings:
        """Return ``self`` if the settings make sense together, else raise ``ValueError``
        naming the value to change."""
        for name, minimum in (("max_request_bytes", 1), ("max_pending", 1), ("max_pending_bytes", 1), ("workers", 0)):
            value = getattr(self, name)
            if value < minimum:
                raise ValueError(f"--{name.replace('_', '-')}: must be at least {minimum}, got {value}")
        if not self.max_queue_delay > 0:
            raise ValueError(f"--max-queue-delay: must be positive, got {self.max_queue_delay}")
        if not self.shutdown_grace > 0:
            raise ValueError(f"--shutdown-grace: must be positive, got {self.shutdown_grace}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both --tls-cert and --tls-key")
        if self.tls_client_ca and not self.tls_cert:
            raise ValueError("--tls-client-ca (mTLS) needs --tls-cert and --tls-key")
        if self.grpc is None and self.http is None:
            raise ValueError("both --grpc and --http are off: the receiver would listen nowhere")
        return self


def parse_endpoint(text: str, where: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[v6]:PORT`` too), or ``off``."""
    if text.strip().lower() == "off":
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{where}: expected HOST:PORT or 'off', got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _int(raw: object, where: str, *, minimum: int = 1) -> int:
    try:
        value = int(str(raw))
    except ValueError:
        raise ValueError(f"{where}: expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{where}: must be at least {minimum}, got {value}")
    return value


def _positive_float(raw: object, where: str) -> float:
    try:
        value = float(str(raw))
    except ValueError:
        raise ValueError(f"{where}: expected seconds, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{where}: must be positive, got {value}")
    return value


def _flag(raw: object, where: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{where}: expected on/off, got {raw!r}")


def resolve_tokens(token_file: object, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The bearer tokens to require: those of ``token_file`` (one per line), else of
    $CHATSNAPSHOT_TOKENS (comma-separated), else none. Raises ``ValueError`` naming the source."""
    env = os.environ if env is None else env
    if token_file:
        return _tokens(_read_secret(str(token_file)), "--token-file")
    if env.get(V.CHATSNAPSHOT_TOKENS):
        return _tokens(env[V.CHATSNAPSHOT_TOKENS], V.CHATSNAPSHOT_TOKENS)
    return ()


def _read_secret(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"cannot read the token file {path}: {e.strerror}") from None


def _tokens(text: str, where: str) -> tuple[str, ...]:
    tokens = tuple(t.strip() for t in text.replace(",", "\n").splitlines() if t.strip())
    if not tokens:
        raise ValueError(f"{where}: no tokens in it")
    return tokens


def _forward(raw: object, where: str) -> str | None:
    return str(raw) if parse_endpoint(str(raw), where) else None


def _text(raw: object, where: str) -> str:
    return str(raw)


# field, environment variable, parser (raw value, "--flag / VARIABLE") -> value
_PARSERS: tuple[tuple[str, str, Callable[[object, str], object]], ...] = (
    ("grpc", V.CHATSNAPSHOT_GRPC, lambda raw, where: parse_endpoint(str(raw), where)),
    ("http", V.CHATSNAPSHOT_HTTP, lambda raw, where: parse_endpoint(str(raw), where)),
    ("max_request_bytes", V.CHATSNAPSHOT_MAX_REQUEST_BYTES, lambda raw, where: _int(raw, where)),
    ("max_pending", V.CHATSNAPSHOT_MAX_PENDING, lambda raw, where: _int(raw, where)),
    ("max_pending_bytes", V.CHATSNAPSHOT_MAX_PENDING_BYTES, lambda raw, where: _int(raw, where)),
    ("max_queue_delay", V.CHATSNAPSHOT_MAX_QUEUE_DELAY, _positive_float),
    ("workers", V.CHATSNAPSHOT_WORKERS, lambda raw, where: _int(raw, where, minimum=0)),
    ("shutdown_grace", V.CHATSNAPSHOT_SHUTDOWN_GRACE, _positive_float),
    ("promote_spans", V.CHATSNAPSHOT_PROMOTE_SPANS, _flag),
    ("forward_otlp", V.CHATSNAPSHOT_FORWARD_OTLP, _forward),
    ("rules_file", V.CHATSNAPSHOT_RULES, _text),
    ("tls_cert", V.CHATSNAPSHOT_TLS_CERT, _text),
    ("tls_key", V.CHATSNAPSHOT_TLS_KEY, _text),
    ("tls_client_ca", V.CHATSNAPSHOT_TLS_CLIENT_CA, _text),
    ("signing_key", V.CHATSNAPSHOT_SIGNING_KEY, _text),
)
