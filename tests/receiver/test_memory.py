"""The allocator and collector policy of the command line and the receiver (``chatsnapshot.receiver.memory``):
Arrow allocates with malloc, which gives freed memory back, unless the operator chose otherwise; a serving
process freezes its start-up heap."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

PROBE = """
import contextlib, io
from chatsnapshot.cli.main import main
with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):
    main(["sql", "--help"])
import pyarrow as pa
print(pa.default_memory_pool().backend_name)
"""


@pytest.mark.parametrize(("chosen", "expected"), [(None, "system"), ("mimalloc", "mimalloc")])
def test_a_command_has_arrow_allocate_with_malloc_unless_the_operator_chose(chosen, expected):
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [expected]


COLLECTOR_PROBE = """
import gc, weakref
gc.disable()  # nothing collects the cycle below but the policy's own collection
from chatsnapshot.receiver.memory import YOUNG_COLLECTION_EVERY, collect_for_a_server
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a  # a cycle: only the collector frees it
gone = []
weakref.finalize(a, gone.append, "a")
del a, b
collect_for_a_server()
print(gone == ["a"], gc.get_freeze_count() > 0, gc.get_threshold()[0] == YOUNG_COLLECTION_EVERY)
"""


def test_a_serving_process_collects_then_freezes_its_heap_and_collects_the_young_less_often():
    done = subprocess.run([sys.executable, "-c", COLLECTOR_PROBE], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True"]
