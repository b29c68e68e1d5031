"""The canonical JSON text is the standard library's, byte for byte, whichever encoder wrote it.

Every hash in every ledger depends on these bytes (``ledger.canonical``): orjson may
write them only where it writes exactly what ``json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False, allow_nan=False)`` writes.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatsnapshot.ledger import canonical


def reference(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# Values JSON can hold, with the corners where the two encoders differ: floats in exponent
# form, integers beyond 64 bits, non-ASCII and astral keys, control characters.
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(1 << 70), max_value=1 << 70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(values)
def test_dumps_writes_what_the_standard_library_writes(value: object) -> None:
    assert canonical.dumps(value) == reference(value)


@settings(max_examples=400, deadline=None)
@given(values, st.sampled_from([None, 2]))
def test_canonical_text_of_any_json_text_is_the_reference(value: object, indent: int | None) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=indent is None)  # other spacing, \u escapes
    parsed, text_out = canonical.canonical_text(text)
    assert text_out == reference(json.loads(text))
    assert parsed == json.loads(text)


@pytest.mark.parametrize("text, expected", [
    ('{"b": 1e-7, "a": 1E5}', '{"a":100000.0,"b":1e-07}'),            # orjson would write 1e-7
    ('{"x": 0.00001}', '{"x":1e-05}'),                                  # orjson would write 0.00001
    ('{"n": 100000000000000000000000}', '{"n":100000000000000000000000}'),  # orjson reads a float
    ('{"n": -9223372036854775809}', '{"n":-9223372036854775809}'),
    ('{"n": 18446744073709551615}', '{"n":18446744073709551615}'),     # the largest orjson keeps exact
    ('{"s": "\\ud800"}', '{"s":"\ud800"}'),                             # a lone surrogate: orjson refuses it
    ('{"a": 1, "a": 2}', '{"a":2}'),                                    # the last duplicate wins, as json.loads
    ('{"\\u00e9": "\\u2028\\u0000\\t\\/"}', '{"é":"\u2028\\u0000\\t/"}'),
])
def test_the_corners_are_the_standard_library_s(text: str, expected: str) -> None:
    assert canonical.canonical_text(text)[1] == expected


@pytest.mark.parametrize("text", ["", "{", "NaN", '{"a": NaN}', '{"a": Infinity}', "[1,]"])
def test_what_json_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        canonical.canonical_text(text)


def test_python_values_orjson_would_accept_are_written_or_refused_as_json_does() -> None:
    import enum
    import uuid

    class Colour(enum.Enum):
        RED = "red"

    class Text(str):
        pass

    assert canonical.dumps({1: "a"}) == '{"1":"a"}'  # json writes the key as text; orjson would refuse it
    assert canonical.dumps(("a", 1)) == '["a",1]'
    assert canonical.dumps({"t": Text("x")}) == reference({"t": Text("x")})
    for value in (Colour.RED, uuid.UUID(int=1), {"f": math.nan}, {"f": math.inf}):
        with pytest.raises((TypeError, ValueError)):
            canonical.dumps(value)
    deep: object = "leaf"
    for _ in range(300):
        deep = [deep]
    assert canonical.dumps(deep) == reference(deep)
