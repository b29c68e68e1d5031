"""A process that records one AG2 0.x chat into an embedded ledger and keeps the ledger open (its writer
stays alive), for the read-your-writes test: prints ``DONE <correlation> <messages>`` once the chat's
facts are committed, then waits until its stdin closes.

    python -m tests.instrumentation.autogen_recorder LEDGER_DIR
"""

from __future__ import annotations

import sys

import pytest

import chatsnapshot
from chatsnapshot.instrumentation.autogen import correlation_of
from tests.instrumentation.autogen_scripted import ScriptedClient, instrumented, pair
from tests.instrumentation.recorded import acknowledge_then_wait


def main() -> None:
    chatsnapshot.configure(ledger=sys.argv[1])
    with pytest.MonkeyPatch.context() as patch:
        next(instrumented(patch))  # ScriptedClient as the model, the instrumentor on
        ScriptedClient.SCRIPT[:] = [{"tool_calls": [("get_weather", {"city": "Paris"})]}, "Sunny. TERMINATE"]
        assistant, user = pair()
        user.human_input_mode = "NEVER"
        user.initiate_chat(assistant, message="Paris?", max_turns=3)
        acknowledge_then_wait(correlation_of(user), len(assistant.chat_messages[user]))


if __name__ == "__main__":
    main()
