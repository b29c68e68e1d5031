"""The receiver's counters, served as Prometheus text on HTTP ``/metrics``."""

from __future__ import annotations

import threading
from bisect import bisect_left

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_COUNTERS = {
    "requests": "OTLP export requests received, by signal, transport and outcome",
    "envelopes_committed": "envelopes newly committed to the ledger",
    "duplicates": "facts received again and already stored (idempotent re-delivery)",
    "rejected": "facts rejected (invalid, or same event_id with other content); see partial_success",
    "dead_lettered": "rejected facts kept in the dead_letters table",
    "attributes_dropped": "attributes over the limit per span, event or log record, not read (facts say how many)",
    "forwarded": "requests re-exported to the upstream OTLP endpoint",
    "forward_failures": "requests the upstream OTLP endpoint did not take",
}


class Metrics:
    """Thread-safe counters, a gauge for the queue depth and a commit latency histogram."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
        self._buckets = [0] * (len(_LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self.queue_depth = 0  # envelopes admitted and not yet committed
        self.queue_capacity = 0

    def add(self, name: str, n: int = 1, **labels: str) -> None:
        if not n:
            return
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n

    def count(self, name: str, **labels: str) -> int:
        """The sum of ``name`` over every label set matching ``labels``."""
        with self._lock:
            return sum(v for (n, ls), v in self._counts.items() if n == name and set(labels.items()) <= set(ls))

    def observe_commit(self, seconds: float) -> None:
        with self._lock:
            self._buckets[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
            self._latency_sum += seconds

    def render(self) -> str:
        """Prometheus text exposition format, version 0.0.4."""
        lines: list[str] = []
        with self._lock:
            counts = dict(self._counts)
            buckets, total = list(self._buckets), self._latency_sum
        for name, help_text in _COUNTERS.items():
            metric = f"chatsnapshot_{name}_total"
            lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} counter"]
            series = [(ls, v) for (n, ls), v in sorted(counts.items()) if n == name] or [((), 0)]
            for labels, value in series:
                label_text = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"{metric}{{{label_text}}} {value}" if label_text else f"{metric} {value}")
        lines += ["# HELP chatsnapshot_queue_depth envelopes admitted and not yet committed",
                  "# TYPE chatsnapshot_queue_depth gauge", f"chatsnapshot_queue_depth {self.queue_depth}",
                  "# HELP chatsnapshot_queue_capacity envelopes the ingest queue admits at once",
                  "# TYPE chatsnapshot_queue_capacity gauge", f"chatsnapshot_queue_capacity {self.queue_capacity}",
                  "# HELP chatsnapshot_commit_seconds time from a request's admission to its durable commit",
                  "# TYPE chatsnapshot_commit_seconds histogram"]
        cumulative = 0
        for bound, n in zip((*_LATENCY_BUCKETS, float("inf")), buckets, strict=True):
            cumulative += n
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'chatsnapshot_commit_seconds_bucket{{le="{le}"}} {cumulative}')
        lines += [f"chatsnapshot_commit_seconds_sum {total}", f"chatsnapshot_commit_seconds_count {cumulative}"]
        return "\n".join(lines) + "\n"
