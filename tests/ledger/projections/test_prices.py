"""Cost estimated from the user's model price table where the runtime reported none."""

from __future__ import annotations

import pytest

from chatsnapshot.environment_variables import CHATSNAPSHOT_PRICES
from chatsnapshot.ledger import Envelope
from chatsnapshot.ledger.projections import metrics
from chatsnapshot.ledger.projections.prices import _load


def usage(model: str, cost: float | None = None) -> Envelope:
    payload = {"model": model, "prompt_tokens": 1_000_000, "completion_tokens": 500_000, "total_tokens": 1_500_000}
    if cost is not None:
        payload["cost"] = cost
    return Envelope.create("execution.usage", correlation_id="r", payload=payload)


@pytest.fixture
def table(tmp_path, monkeypatch):
    path = tmp_path / "prices.toml"
    path.write_text('[models."m-1"]\ninput_per_million = 2.0\noutput_per_million = 8.0\n')
    monkeypatch.setenv(CHATSNAPSHOT_PRICES, str(path))
    _load.cache_clear()
    yield path
    _load.cache_clear()


def test_a_cost_the_runtime_did_not_report_is_estimated_from_the_table(table):
    m = metrics([usage("m-1")]).summary()
    assert m["cost"] == 2.0 + 4.0 and m["cost_estimated"] is True
    reported = metrics([usage("m-1", cost=1.5)]).summary()
    assert reported["cost"] == 1.5 and reported["cost_estimated"] is False  # what the runtime says wins
    unknown = metrics([usage("not-in-the-table")]).summary()
    assert unknown["cost"] is None and unknown["cost_estimated"] is False


def test_without_a_table_nothing_is_estimated(monkeypatch):
    monkeypatch.delenv(CHATSNAPSHOT_PRICES, raising=False)
    assert metrics([usage("m-1")]).summary()["cost"] is None


def test_a_bad_table_says_what_to_change(table):
    table.write_text('[models."m-1"]\ninput_per_million = "cheap"\n')
    _load.cache_clear()
    with pytest.raises(ValueError, match="input_per_million and output_per_million"):
        metrics([usage("m-1")])
