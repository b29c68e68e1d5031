"""The real OpenTelemetry Collector these tests run: built by tests/collector/build.sh (``make test``
does it when Go is present). Without it the tests skip with one line, except under ``CI=true``,
where a missing Collector fails them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import ROOT

OTELCOL = ROOT / "build" / "otelcol-chatsnapshot"


@pytest.fixture(scope="session")
def otelcol() -> Path:
    if not os.access(OTELCOL, os.X_OK):
        message = f"no Collector at {OTELCOL}: run tests/collector/build.sh (needs Go 1.26+)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return OTELCOL
