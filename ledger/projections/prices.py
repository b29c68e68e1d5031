"""Model prices, to estimate an LLM call's cost when the runtime reports none.

ChatSnapshot ships no prices (they change, and differ by contract and region): the table is
yours, a TOML file named by ``CHATSNAPSHOT_PRICES``, one table per model name as the runtime
reports it, in currency units per million tokens::

    [models."gpt-4o-mini"]
    input_per_million = 0.15
    output_per_million = 0.60

``estimate(model, prompt_tokens, completion_tokens)`` is the cost by that table, or None
(no table, or the model is not in it). ``chatsnapshot stats`` and ``runs`` then say the cost
was estimated (``cost_estimated``). Every run's metrics are kept incrementally with the ledger
(``projections/``): after changing the table, delete that folder to estimate the past again.
"""

from __future__ import annotations

import functools
import os
import tomllib
from typing import Any

from chatsnapshot.environment_variables import CHATSNAPSHOT_PRICES

__all__ = ["cost_of", "estimate", "prices"]


@functools.lru_cache(maxsize=4)
def _load(path: str) -> dict[str, tuple[float, float]]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"{CHATSNAPSHOT_PRICES}={path}: cannot read the price table ({e})") from None
    table: dict[str, tuple[float, float]] = {}
    for model, entry in (data.get("models") or {}).items():
        try:
            table[str(model)] = (float(entry["input_per_million"]), float(entry["output_per_million"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: models.{model} needs input_per_million and output_per_million "
                             "(numbers)") from None
    return table


def prices() -> dict[str, tuple[float, float]]:
    """The price table (``{model: (input, output)}`` per million tokens); empty without one."""
    path = os.environ.get(CHATSNAPSHOT_PRICES)
    return _load(path) if path else {}


def estimate(model: Any, prompt_tokens: Any, completion_tokens: Any) -> float | None:
    price = prices().get(model) if isinstance(model, str) else None
    if price is None:
        return None
    tokens_in = prompt_tokens if isinstance(prompt_tokens, int) else 0
    tokens_out = completion_tokens if isinstance(completion_tokens, int) else 0
    return round((tokens_in * price[0] + tokens_out * price[1]) / 1e6, 12)


def cost_of(payload: dict[str, Any], prompt_tokens: Any, completion_tokens: Any) -> tuple[float | None, bool]:
    """A fact's cost: the ``cost`` its runtime reported, else the price table's estimate for its
    ``model``; and whether it is an estimate. (None, False): neither is known."""
    cost = payload.get("cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        return float(cost), False
    estimated = estimate(payload.get("model"), prompt_tokens, completion_tokens)
    return estimated, estimated is not None
