"""Projections: pure functions of a replay, never writers of truth.

Each takes one run's envelopes in seq order (``Ledger.replay``) and gives the same output,
byte for byte, for the same facts: on every run of the code, before and after compaction.

=====================  ==========================================================
``transcript``         the conversation: messages, tool calls and results, human
                       input and handoffs inline, per agent
``timeline``           each fact at its time in lanes per agent; operations (run,
                       turn, tool, human wait, LLM call) and their durations
``causal_dag``         one node per fact, an edge per causation; JSON, DOT, Mermaid;
                       causes outside the run kept as ``dangling_cause``
``context``            the newest history as chat messages within a character budget
``describe``           one run at a glance: status, agents, tokens and cost, model
                       inputs, errors, lineage
``metrics``            counts, tool calls and failures, LLM calls, tokens, cost,
                       wall time, human wait
=====================  ==========================================================

``ProjectionEngine`` keeps a projection over the whole ledger up to date incrementally, from
a checkpoint kept with the ledger (``RunMetricsProjection``: every run's metrics).
"""

from chatsnapshot.ledger.projections.context import PromptContext, context
from chatsnapshot.ledger.projections.dag import CausalDag, DagNode, causal_dag
from chatsnapshot.ledger.projections.describe import describe, failed
from chatsnapshot.ledger.projections.engine import Projection, ProjectionEngine, RunMetricsProjection
from chatsnapshot.ledger.projections.metrics import RunMetrics, metrics
from chatsnapshot.ledger.projections.summary import fact_summary
from chatsnapshot.ledger.projections.timeline import Operation, Timeline, render_timeline, timeline
from chatsnapshot.ledger.projections.transcript import (
    TranscriptEntry,
    render_transcript,
    transcript,
    transcript_json,
)

__all__ = [
    "CausalDag",
    "DagNode",
    "Operation",
    "Projection",
    "ProjectionEngine",
    "PromptContext",
    "RunMetrics",
    "RunMetricsProjection",
    "Timeline",
    "TranscriptEntry",
    "causal_dag",
    "context",
    "describe",
    "fact_summary",
    "failed",
    "metrics",
    "render_timeline",
    "render_transcript",
    "timeline",
    "transcript",
    "transcript_json",
]
