"""Promotion workers never outlive their receiver, also when it dies while they are starting."""

from __future__ import annotations

import multiprocessing
import os
import time

from chatsnapshot.receiver import workers


def _start_worker(parent: int) -> None:
    """A worker's start-up, told which process started it, then idle as a worker is."""
    workers._init(None, parent)
    time.sleep(60)


def _alive_after(parent: int, seconds: float) -> bool:
    process = multiprocessing.get_context("spawn").Process(target=_start_worker, args=(parent,))
    process.start()
    try:
        process.join(timeout=seconds)
        return process.is_alive()
    finally:
        process.kill()
        process.join()


def test_a_worker_whose_receiver_is_already_gone_when_it_starts_exits_at_once():
    # Its recorded receiver (pid 1 here) is not its parent: as after a SIGKILL during start-up,
    # when the worker has been re-parented before its initializer ran.
    assert not _alive_after(1, seconds=5)


def test_a_worker_whose_receiver_lives_keeps_working():
    assert _alive_after(os.getpid(), seconds=2)
