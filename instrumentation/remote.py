"""Where remote facts go: ``configure()``'s endpoint, from its arguments, from
``CHATSNAPSHOT_ENDPOINT``, or from the OpenTelemetry exporter variables.

First that applies: ``configure(endpoint=...)``; ``CHATSNAPSHOT_ENDPOINT`` (with
``CHATSNAPSHOT_PROTOCOL`` and ``CHATSNAPSHOT_TOKEN``); ``CHATSNAPSHOT_LEDGER`` (embedded:
an application whose own traces go where ``OTEL_EXPORTER_OTLP_ENDPOINT`` says keeps its
facts in the ledger it names); the OpenTelemetry exporter variables, the signal's own
first (``OTEL_EXPORTER_OTLP_TRACES_*`` for the ``spans`` transport,
``OTEL_EXPORTER_OTLP_LOGS_*`` for ``logs``), then the general ``OTEL_EXPORTER_OTLP_*``;
else nothing, and ``configure()`` writes an embedded ledger.

The OpenTelemetry variables mean what the OTel SDKs make them mean:

- ``PROTOCOL``: ``grpc`` (the default, as in the Python SDK) or ``http/protobuf``;
  ``http/json`` is refused (the spool sends protobuf).
- ``ENDPOINT`` for HTTP: the general one is a base URL, to which ``/v1/traces`` or
  ``/v1/logs`` is added; a signal's own is the whole URL, used as it is.
- ``ENDPOINT`` for gRPC: ``http://`` is plaintext and ``https://`` is TLS; without a
  scheme, plaintext only with ``INSECURE=true``.
- ``HEADERS``: ``key=value,key2=value2``, values URL-encoded.
- ``CERTIFICATE``: the CA certificates to trust (PEM); ``CLIENT_CERTIFICATE`` and
  ``CLIENT_KEY``: the client's own, for mTLS.

An endpoint from ``configure()`` or ``CHATSNAPSHOT_ENDPOINT`` is TLS when it starts with
``https://`` or a CA file is given, and plaintext otherwise (``host:port``, ``http://``).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from chatsnapshot.environment_variables import (
    CHATSNAPSHOT_ENDPOINT,
    CHATSNAPSHOT_LEDGER,
    CHATSNAPSHOT_PROTOCOL,
    CHATSNAPSHOT_TOKEN,
    OTEL_EXPORTER_OTLP,
)
from chatsnapshot.exporter.spooling import Protocol, Tls

__all__ = ["Remote", "resolve"]

_SIGNAL = {"spans": "TRACES", "logs": "LOGS"}
_PROTOCOLS = ("grpc", "http/protobuf")


@dataclass(frozen=True)
class Remote:
    """Where and how the spool's sender delivers. ``url_is_full``: an HTTP endpoint that
    already names its path (a signal's own OTel endpoint). ``chosen_by``: the setting it came
    from, for the start-up line."""

    endpoint: str
    protocol: Protocol
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    token: str | None = field(default=None, repr=False)
    tls: Tls | None = None
    url_is_full: bool = False
    chosen_by: str = "configure(endpoint=...)"


def resolve(transport: str, *, endpoint: str | None, protocol: str | None, token: str | None,
            headers: Mapping[str, str] | None, tls: Tls | None,
            environ: Mapping[str, str] | None = None) -> Remote | None:
    """The remote destination, or None for the embedded ledger. Raises ``ValueError`` for a
    setting that cannot work, naming the variable."""
    env = os.environ if environ is None else environ
    if endpoint is None and env.get(CHATSNAPSHOT_ENDPOINT):
        endpoint, chosen_by = env[CHATSNAPSHOT_ENDPOINT], CHATSNAPSHOT_ENDPOINT
    elif endpoint is not None:
        chosen_by = "configure(endpoint=...)"
    elif env.get(CHATSNAPSHOT_LEDGER):
        return None  # an embedded ledger named: it wins over where the program's own telemetry goes
    else:
        return _from_otel(transport, env, token or env.get(CHATSNAPSHOT_TOKEN), headers, tls)
    protocol = _protocol(protocol or env.get(CHATSNAPSHOT_PROTOCOL) or "grpc", "protocol / " + CHATSNAPSHOT_PROTOCOL)
    if tls is None and endpoint.startswith("https://"):
        tls = Tls()
    if tls is not None and protocol == "http/protobuf" and endpoint.startswith("http://"):
        raise ValueError(f"TLS settings were given for the plaintext URL {endpoint}: use https://")
    return Remote(endpoint, protocol, dict(headers or {}), token or env.get(CHATSNAPSHOT_TOKEN), tls,
                  chosen_by=chosen_by)


def _from_otel(transport: str, env: Mapping[str, str], token: str | None, headers: Mapping[str, str] | None,
               tls: Tls | None) -> Remote | None:
    own = f"{OTEL_EXPORTER_OTLP}_{_SIGNAL[transport]}_"
    general = f"{OTEL_EXPORTER_OTLP}_"

    def setting(name: str) -> tuple[str | None, str]:
        for prefix in (own, general):
            value = env.get(prefix + name)
            if value:
                return value.strip(), prefix + name
        return None, general + name

    endpoint, chosen_by = setting("ENDPOINT")
    if endpoint is None:
        return None
    protocol_text, protocol_name = setting("PROTOCOL")
    protocol = _protocol(protocol_text or "grpc", protocol_name)
    url_is_full = protocol == "http/protobuf" and chosen_by.startswith(own)
    if protocol == "grpc":
        insecure_text, _ = setting("INSECURE")
        insecure = endpoint.startswith("http://") or (
            "://" not in endpoint and (insecure_text or "").lower() == "true")
    else:
        insecure = not endpoint.startswith("https://")
    if tls is None and not insecure:
        ca, _ = setting("CERTIFICATE")
        cert, _ = setting("CLIENT_CERTIFICATE")
        key, _ = setting("CLIENT_KEY")
        tls = Tls(ca_file=ca, cert_file=cert, key_file=key)
    header_text, header_name = setting("HEADERS")
    parsed = {**_parse_headers(header_text, header_name), **(headers or {})}
    return Remote(endpoint, protocol, parsed, token, tls, url_is_full, chosen_by)


def _protocol(value: str, name: str) -> Protocol:
    if value not in _PROTOCOLS:
        hint = " (the spool sends protobuf: use http/protobuf)" if value == "http/json" else ""
        raise ValueError(f"{name} is {value!r}; use one of {', '.join(_PROTOCOLS)}{hint}")
    return value  # type: ignore[return-value]


def _parse_headers(text: str | None, name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{name}: {item.strip()!r} is not key=value (the format is k1=v1,k2=v2)")
        out[urllib.parse.unquote(key.strip()).lower()] = urllib.parse.unquote(value.strip())
    return out
