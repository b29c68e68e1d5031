"""Receiver settings: a flag beats its ``CHATSNAPSHOT_*`` environment variable, which beats the default.

=========================  ==============================  =======================
setting                    environment variable            default
=========================  ==============================  =======================
``--ledger DIR``           CHATSNAPSHOT_LEDGER             ./chatsnapshot-ledger
``--grpc HOST:PORT``       CHATSNAPSHOT_GRPC               127.0.0.1:4317 (``off``: none)
``--http HOST:PORT``       CHATSNAPSHOT_HTTP               127.0.0.1:4318 (``off``: none)
``--max-request-bytes N``  CHATSNAPSHOT_MAX_REQUEST_BYTES  67108864 (64 MiB, after decompression)
``--max-pending N``        CHATSNAPSHOT_MAX_PENDING        65536 envelopes admitted, not yet committed
``--promote-spans``        CHATSNAPSHOT_PROMOTE_SPANS      off (1/true/on: GenAI span rules)
``--rules FILE``           CHATSNAPSHOT_RULES              none (a TOML rules file; implies promote)
``--token-file FILE``      CHATSNAPSHOT_TOKENS             none (tokens, one per line / comma-separated)
``--tls-cert/--tls-key``   CHATSNAPSHOT_TLS_CERT/_KEY      none (PEM files: serve TLS)
``--tls-client-ca FILE``   CHATSNAPSHOT_TLS_CLIENT_CA      none (require client certificates: mTLS)
``--shutdown-grace S``     CHATSNAPSHOT_SHUTDOWN_GRACE     10 seconds for in-flight requests
``--forward-otlp H:P``     CHATSNAPSHOT_FORWARD_OTLP       none (re-export requests upstream, OTLP/gRPC)
``--workers N``            CHATSNAPSHOT_WORKERS            1 on a machine with 2+ cores, else 0: processes
                                                           that decode and promote requests (0: in the
                                                           receiver's own process)
=========================  ==============================  =======================

Tokens are secrets: they are read from a file (or the environment), never from a
flag that ``ps`` would show, and never written to a log or an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chatsnapshot.environment_variables import CHATSNAPSHOT_LEDGER, DEFAULT_LEDGER

__all__ = ["Settings", "parse_endpoint"]

_ENV = "CHATSNAPSHOT_"


@dataclass(frozen=True)
class Settings:
    ledger: str = DEFAULT_LEDGER
    grpc: tuple[str, int] | None = ("127.0.0.1", 4317)
    http: tuple[str, int] | None = ("127.0.0.1", 4318)
    max_request_bytes: int = 64 << 20
    max_pending: int = 65_536
    promote_spans: bool = False
    rules_file: str | None = None
    tokens: tuple[str, ...] = field(default=(), repr=False)
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    shutdown_grace: float = 10.0
    forward_otlp: str | None = None
    workers: int = 0  # resolve() picks 1 on a machine with 2+ cores

    @classmethod
    def resolve(cls, flags: Mapping[str, object], environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from parsed flags (``None`` = not given) over the environment over defaults.
        Raises ``ValueError`` naming the flag or variable to fix."""
        env = os.environ if environ is None else environ

        def pick(name: str, variable: str) -> object:
            value = flags.get(name)
            return value if value is not None else env.get(_ENV + variable)

        values: dict[str, object] = {}
        values["ledger"] = str(flags.get("ledger") or env.get(CHATSNAPSHOT_LEDGER) or DEFAULT_LEDGER)
        for name in ("grpc", "http"):
            raw = pick(name, name.upper())
            if raw is not None:
                values[name] = parse_endpoint(str(raw), f"--{name} / {_ENV}{name.upper()}")
        for name, variable in (("max_request_bytes", "MAX_REQUEST_BYTES"), ("max_pending", "MAX_PENDING")):
            raw = pick(name, variable)
            if raw is not None:
                values[name] = _int(raw, f"--{name.replace('_', '-')} / {_ENV}{variable}")
        raw = pick("workers", "WORKERS")
        values["workers"] = (_int(raw, f"--workers / {_ENV}WORKERS", minimum=0) if raw is not None
                             else int((os.cpu_count() or 1) >= 2))
        raw = pick("shutdown_grace", "SHUTDOWN_GRACE")
        if raw is not None:
            values["shutdown_grace"] = _positive_float(raw, f"--shutdown-grace / {_ENV}SHUTDOWN_GRACE")
        raw = pick("promote_spans", "PROMOTE_SPANS")
        if raw is not None:
            values["promote_spans"] = _flag(raw, f"--promote-spans / {_ENV}PROMOTE_SPANS")
        raw = pick("forward_otlp", "FORWARD_OTLP")
        if raw:
            host_port = parse_endpoint(str(raw), f"--forward-otlp / {_ENV}FORWARD_OTLP")
            values["forward_otlp"] = str(raw) if host_port else None
        for name, variable in (("rules_file", "RULES"), ("tls_cert", "TLS_CERT"), ("tls_key", "TLS_KEY"),
                               ("tls_client_ca", "TLS_CLIENT_CA")):
            raw = pick(name, variable)
            if raw:
                values[name] = str(raw)
        token_file = flags.get("token_file")
        if token_file:
            values["tokens"] = _tokens(_read_secret(str(token_file)), "--token-file")
        elif env.get(_ENV + "TOKENS"):
            values["tokens"] = _tokens(env[_ENV + "TOKENS"], f"{_ENV}TOKENS")
        settings = cls(**values)  # type: ignore[arg-type]
        if (settings.tls_cert is None) != (settings.tls_key is None):
            raise ValueError("TLS needs both --tls-cert and --tls-key")
        if settings.tls_client_ca and not settings.tls_cert:
            raise ValueError("--tls-client-ca (mTLS) needs --tls-cert and --tls-key")
        if settings.grpc is None and settings.http is None:
            raise ValueError("both --grpc and --http are off: the receiver would listen nowhere")
        return settings


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
