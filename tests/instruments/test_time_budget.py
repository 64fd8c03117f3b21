"""``time_budget`` stops pure-Python work that never yields, names its limit, and leaves no hook."""

from __future__ import annotations

import sys
import threading

import pytest

from instruments.errors import LimitExceeded
from instruments.time_budget import time_budget


def spin() -> None:
    def step(i: int) -> int:
        return i + 1

    i = 0
    while True:  # a loop that only function calls can interrupt
        i = step(i)


def test_a_loop_past_its_budget_is_stopped_with_the_limit_named():
    with pytest.raises(LimitExceeded) as err:
        with time_budget(0.05, "spinning", "spin_time_limit", "spin less"):
            spin()
    assert err.value.limit == "spin_time_limit"
    assert err.value.detail == "Stopped spinning after the 0.05 s time limit (spin_time_limit); spin less."
    assert sys.gettrace() is None


def test_a_broad_except_inside_the_block_does_not_swallow_the_stop():
    def stubborn() -> None:
        while True:
            try:
                spin()
            except Exception:  # noqa: BLE001, S112 - what third-party code sometimes does
                continue

    with pytest.raises(LimitExceeded):
        with time_budget(0.05, "spinning", "spin_time_limit"):
            stubborn()


def test_work_within_the_budget_and_other_threads_are_untouched():
    seen: list[object] = []
    t = threading.Thread(target=lambda: seen.append(sys.gettrace()))
    with time_budget(30, "nothing", "x"):
        t.start()
        t.join(5)
        value = sum(range(1000))
    assert value == 499500 and seen == [None] and sys.gettrace() is None
