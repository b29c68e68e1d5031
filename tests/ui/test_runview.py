"""The run document the page draws (``ui.runview``): times on one axis, every failure marked, per-call
and per-agent numbers that add up to the run's."""

from __future__ import annotations

from chatsnapshot.ledger import Ledger
from chatsnapshot.ui.runview import LEGEND, kind_of, run_document
from tests.ledger.projections.golden_run import golden_envelopes
from tests.ui.conftest import failed_run


def replayed(tmp_path, envelopes):
    with Ledger.open(tmp_path / "ledger") as ledger:
        ledger.append(envelopes)
        return list(ledger.replay(envelopes[0].correlation_id))


def test_the_timeline_and_the_facts_share_one_axis(tmp_path):
    doc = run_document(replayed(tmp_path, golden_envelopes()), [])
    end = doc["timeline"]["end_ms"]
    assert end == max(f["t_ms"] for f in doc["facts"]) > 100  # the golden run lasts ~280 ms
    assert doc["timeline"]["operations"]
    for o in doc["timeline"]["operations"]:
        assert 0 <= o["start_ms"] <= (o["end_ms"] if o["end_ms"] is not None else end) <= end


def test_every_failure_is_an_error_whatever_its_kind(tmp_path):
    facts = replayed(tmp_path, failed_run())
    doc = run_document(facts, [])
    assert [(f["type"], f["status"]) for f in doc["facts"] if f["status"] == "error"] == [
        ("execution.tool_result", "error"), ("execution.llm_call", "error"), ("execution.run_failed", "error")]
    assert {kind_of(f)[0] for f in facts} <= set(LEGEND)
    assert [c["status"] for c in doc["llm_calls"]] == ["error"]


def test_per_agent_tokens_add_up_to_the_run(tmp_path):
    doc = run_document(replayed(tmp_path, golden_envelopes()), [])
    llm = doc["run"]["llm"]
    assert sum(a["prompt_tokens"] for a in doc["agents"]) == llm["prompt_tokens"] > 0
    assert sum(a["completion_tokens"] for a in doc["agents"]) == llm["completion_tokens"] > 0
    assert len(doc["llm_calls"]) == llm["calls"]
    causes = {f["seq"]: f["cause"] for f in doc["facts"]}
    for f in doc["facts"]:
        for effect in f["effects"]:
            assert causes[effect] == f["seq"]  # effects are the inverse of causes


def test_a_fact_recorded_before_the_first_seq_still_sits_on_the_axis(tmp_path):
    from chatsnapshot.ledger import Envelope

    late = Envelope.create("execution.run_started", correlation_id="skewed", agent="a", payload={},
                           occurred_at=2_000_000_000)
    early = Envelope.create("execution.message", correlation_id="skewed", agent="a",
                            payload={"role": "user", "content": "hi"}, occurred_at=1_500_000_000)
    doc = run_document(replayed(tmp_path, [late, early]), [])
    assert sorted(f["t_ms"] for f in doc["facts"]) == [0.0, 500.0] and doc["timeline"]["end_ms"] == 500.0


def test_the_exported_page_keeps_payload_text_out_of_its_markup(tmp_path):
    """A payload or run id that looks like HTML stays text: the file has exactly its two scripts."""
    from html.parser import HTMLParser

    from chatsnapshot.ledger import Envelope
    from chatsnapshot.ui.export import export_page

    hostile = "</script><script>window.pwned = 1</script><!--<script>"
    facts = replayed(tmp_path, [Envelope.create("execution.message", correlation_id="r</title><script>x</script>",
                                                agent="a", payload={"role": "user", "content": hostile})])

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []

        def handle_starttag(self, tag, attrs) -> None:
            self.tags.append(tag)

    parsed = Tags()
    parsed.feed(export_page(facts))
    assert parsed.tags.count("script") == 2 and parsed.tags.count("title") == 1
