"""Automatic facts from AG2 0.x (module ``autogen``, ``ConversableAgent``), and conversation restore.

``AutogenInstrumentor().instrument()`` wraps methods on the classes, so agents
created before and after it are covered alike (an agent that
``autogen.opentelemetry.instrument_agent`` wrapped *before* this instrumentor was
instrumented keeps instance attributes that bypass the class: instrument
ChatSnapshot first). What each wrapper records:

======================================  ==========================================
``ConversableAgent.initiate_chat``      outermost: ``run_started``, ``run_completed``
(and ``a_``)                            / ``run_failed``; inside a run: ``handoff``
                                        kind ``nested_chat`` (registered nested chats)
                                        or ``sequential_chat`` (one of a sequence)
``initiate_chats`` (the function and    outermost: one run for the whole sequence
the method, and ``a_``)
``ConversableAgent.send`` (and ``a_``)  ``message`` — every send, ``silent`` ones too
``ConversableAgent.generate_reply``     ``turn_started`` / ``turn_completed``;
(and ``a_``)                            ``state_change`` when the agent's context
                                        variables changed during the turn
``OpenAIWrapper.create``                ``llm_call`` (request summary, response,
                                        usage, cost, error), ``usage``
``ConversableAgent.execute_function``   ``tool_call``, ``tool_result`` (ok / error)
(and ``a_``)
``ConversableAgent.get_human_input``    ``human_input_requested``,
(and ``a_``)                            ``human_input_received``
``GroupChat.select_speaker`` (and      ``speaker_selected`` with the method (auto,
``a_``)                                 round_robin, random, manual, a callable's name)
the IOStream's events                   ``termination`` (``TerminationEvent`` and its
                                        reason), ``handoff`` (``ReplyResult``,
                                        ``OnCondition``, ``OnContextCondition``,
                                        ``AfterWork`` transitions), ``alert``
                                        (safeguard events)
======================================  ==========================================

A run is an outermost ``initiate_chat`` (``run``, ``run_iter`` and
``run_group_chat`` all reach it) or an outermost ``initiate_chats`` sequence. Its correlation is the enclosing
``chatsnapshot.correlation(id)``, else the one of the initiating agent's previous
run when the chat continues it (``clear_history=False``, as after ``restore``),
else a new UUIDv7; ``correlation_of(agent)`` reads it. ``run``/``run_iter``/
``run_group_chat`` run the chat in a thread: the caller's OTel context and
correlation are carried into it (captured when AG2 builds the run's IOStream).
The LLM speaker selection's internal chat is not recorded as a chat of its own;
its choice is the ``speaker_selected`` fact.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from chatsnapshot.instrumentation.autogen import hooks, runs
from chatsnapshot.instrumentation.flows import forked_facts, recorded_facts
from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.ledger import Ledger

__all__ = ["AutogenInstrumentor", "Restored", "correlation_of", "restore"]

_patches: list[tuple[Any, str, Any]] = []  # (owner, attribute, original)

class AutogenInstrumentor(BaseInstrumentor):
    """Records AG2 0.x agents' facts; see the module docstring."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("ag2 >= 0.14, < 1",)

    def _instrument(self, **kwargs: Any) -> None:
        from autogen import ConversableAgent, GroupChat
        from autogen.io.console import IOConsole
        from autogen.io.thread_io_stream import AsyncThreadIOStream, ThreadIOStream
        from autogen.oai.client import OpenAIWrapper

        runs.SWITCH.tracer_provider = kwargs.get("tracer_provider")
        if not _patches:  # each wrapper has the name of the method it wraps
            for owner, module, names in (
                (ConversableAgent, runs, ("initiate_chat", "a_initiate_chat")),
                (ConversableAgent, hooks, ("send", "a_send", "generate_reply", "a_generate_reply", "execute_function",
                                           "a_execute_function", "get_human_input", "a_get_human_input")),
                (OpenAIWrapper, hooks, ("create",)),
                (GroupChat, hooks, ("select_speaker", "a_select_speaker")),
            ):
                for name in names:
                    _patch(owner, name, getattr(module, name))
            _patch(GroupChat, "_auto_select_speaker", hooks.quietly)  # the LLM selector's internal chat
            _patch(GroupChat, "a_auto_select_speaker", hooks.a_quietly)
            for stream in (IOConsole, ThreadIOStream, AsyncThreadIOStream):
                _patch(stream, "send", hooks.stream_send)
            for stream in (ThreadIOStream, AsyncThreadIOStream):
                _patch(stream, "__init__", runs.stream_init)
        import autogen
        import autogen.agentchat
        import autogen.agentchat.chat
        import autogen.agentchat.conversable_agent

        # initiate_chats is a function that each of these modules binds (the last one for the method and nested chats)
        for module in (autogen, autogen.agentchat, autogen.agentchat.chat, autogen.agentchat.conversable_agent):
            _patch(module, "initiate_chats", runs.initiate_chats)
            _patch(module, "a_initiate_chats", runs.a_initiate_chats)
        runs.SWITCH.on = True

    def _uninstrument(self, **kwargs: Any) -> None:
        runs.SWITCH.on = False
        while _patches:
            owner, name, original = _patches.pop()
            setattr(owner, name, original)


def correlation_of(agent: Any) -> str | None:
    """The correlation of the last run ``agent`` took part in (None before its first)."""
    entry = runs.agent_runs.get(agent)
    return entry[0] if entry else None


@dataclass
class Restored:
    """What ``restore`` rebuilt: the run's correlation, the group chat messages (for
    ``GroupChatManager.resume`` or ``run_group_chat(pattern, messages=...)``) and the
    last recorded context variables."""

    correlation_id: str
    group_messages: list[dict[str, Any]] = field(default_factory=list)
    context_variables: dict[str, Any] = field(default_factory=dict)


def restore(source: Ledger | str | Path | Iterable[Envelope] | None, correlation_id: str, agents: Iterable[Any],
            *, groupchat: Any = None, server: str | None = None, upto_seq: int | None = None) -> Restored:
    """Rebuild the conversation state of ``agents`` from a recorded run, ready to continue.

    ``source`` is a ledger, a ledger directory or replayed envelopes; or None with
    ``server="HOST:PORT"``, a running receiver. What this process recorded is readable at
    once (``flows.recorded_facts``). ``upto_seq``: fork the run there (``ledger.fork``): the
    state is the run's up to that seq, and the agents' next chat is recorded into the new run
    (``Restored.correlation_id`` names it).

    Each agent's ``chat_messages`` gets back what it held: every recorded message
    is appended to the sender's history (role assistant) and the recipient's (role
    user), through AG2's own ``_append_oai_message`` — keyed by agent object, as AG2
    keeps them — for agents matched by name (messages with an agent not given are
    skipped). ``groupchat.messages`` gets the group's messages back when given;
    ``Restored.context_variables`` holds the last recorded values (also set on the
    agents' ``context_variables``). Nothing is re-recorded, and the next chat of these
    agents with ``clear_history=False`` records into the same correlation, its first
    fact caused by the last recorded one.
    """
    facts = recorded_facts(source, correlation_id, server=server)
    if upto_seq is not None:
        facts = forked_facts(facts, upto_seq)
        correlation_id = facts[0].correlation_id
    by_name = {a.name: a for a in agents}
    restored = Restored(correlation_id)
    for fact in facts:
        payload = fact.payload
        if fact.event_type == "execution.message" and "message" in payload:
            sender, recipient = by_name.get(payload["sender"]), by_name.get(payload["recipient"])
            message = payload["message"]
            if sender is not None and recipient is not None:
                sender._append_oai_message(message, recipient, role="assistant", name=sender.name)
                recipient._append_oai_message(message, sender, role="user", name=sender.name)
            if payload.get("group") and not payload.get("silent"):
                restored.group_messages.append({**message, "name": payload["sender"]} if isinstance(message, dict)
                                               else {"content": message, "role": "user", "name": payload["sender"]})
        elif fact.event_type == "execution.state_change" and payload.get("scope") == "context_variables":
            restored.context_variables.update(payload.get("values", {}))
    if groupchat is not None:
        groupchat.messages[:] = restored.group_messages
    for agent in by_name.values():
        variables = getattr(agent, "context_variables", None)
        if variables is not None and restored.context_variables:
            variables.update(restored.context_variables)
        runs.agent_runs[agent] = (correlation_id, facts[-1].event_id)
    return restored


# -- patching ---------------------------------------------------------------------------------


def _patch(owner: Any, name: str, wrapper: Any) -> None:
    original = owner.__dict__.get(name)
    if original is None:
        return  # not in this AG2 release

    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        return wrapper(original, *args, **kwargs)

    patched.__dict__.pop("__otel_wrapped__", None)  # autogen.opentelemetry must still wrap on top of us
    _patches.append((owner, name, original))
    setattr(owner, name, patched)
