from __future__ import annotations

import threading

import pytest

from studio_tools.core import CallbackProgress, Cancelled, NullProgress, ProgressUpdate


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_update_clamps_and_never_goes_back():
    seen: list[ProgressUpdate] = []
    progress = CallbackProgress(seen.append)
    for value in (0.2, -1.0, 0.1, float("nan"), 0.5, 7.0, 0.3):
        progress.update(value)
    assert [u.fraction for u in seen] == [0.2, 0.2, 0.2, 0.2, 0.5, 1.0, 1.0]
    assert progress.fraction == 1.0


def test_stage_is_sticky_and_message_is_not():
    seen: list[ProgressUpdate] = []
    progress = CallbackProgress(seen.append)
    progress.update(0.1, stage="probe", message="looking")
    progress.update(0.2)
    progress.update(0.3, stage="frames", message="1/3")
    assert seen == [
        ProgressUpdate(0.1, "probe", "looking"),
        ProgressUpdate(0.2, "probe", None),
        ProgressUpdate(0.3, "frames", "1/3"),
    ]
    assert progress.stage == "frames"


def test_null_progress_tracks_state_and_never_cancels():
    progress = NullProgress()
    progress.update(0.4, stage="x")
    progress.update(0.1)
    progress.check_cancelled()
    assert (progress.fraction, progress.stage) == (0.4, "x")


def test_cancel_callback_raises_cancelled():
    answers = iter([False, True])
    progress = CallbackProgress(is_cancelled=lambda: next(answers))
    progress.check_cancelled()
    with pytest.raises(Cancelled):
        progress.check_cancelled()
    # Once cancelled, stays cancelled without asking again (the iterator is exhausted).
    with pytest.raises(Cancelled):
        progress.check_cancelled()


def test_cancel_checks_are_rate_limited():
    clock = FakeClock()
    calls = []

    def is_cancelled() -> bool:
        calls.append(clock.now)
        return clock.now >= 3

    progress = CallbackProgress(is_cancelled=is_cancelled, cancel_check_interval=2.0, clock=clock)
    # 3.0 and 3.9 reuse the "no" from 2.0 although the callback would now say yes.
    for now in (0.0, 1.0, 1.9, 2.0, 3.0, 3.9):
        clock.now = now
        progress.check_cancelled()
    assert calls == [0.0, 2.0]
    clock.now = 4.0
    with pytest.raises(Cancelled):
        progress.check_cancelled()
    assert calls == [0.0, 2.0, 4.0]


def test_updates_are_throttled_except_first_stage_changes_and_completion():
    clock = FakeClock()
    seen: list[ProgressUpdate] = []
    progress = CallbackProgress(seen.append, min_interval=1.0, clock=clock)
    steps = [
        (0.0, 0.1, "a"),
        (0.5, 0.2, None),
        (0.9, 0.3, None),
        (1.0, 0.4, None),
        (1.2, 0.5, "b"),
        (1.3, 0.6, None),
        (1.4, 1.0, None),
    ]
    for now, fraction, stage in steps:
        clock.now = now
        progress.update(fraction, stage)
    assert [(u.fraction, u.stage) for u in seen] == [(0.1, "a"), (0.4, "a"), (0.5, "b"), (1.0, "b")]


def test_scaled_child_maps_into_parent_range_and_shares_cancellation():
    seen: list[ProgressUpdate] = []
    cancelled = threading.Event()
    parent = CallbackProgress(seen.append, cancelled.is_set)
    parent.update(0.1, stage="frames")
    child = parent.scaled(0.2, 0.6)
    child.update(0.5, message="half")
    child.update(1.0)
    assert [(round(u.fraction, 6), u.stage, u.message) for u in seen[1:]] == [(0.4, "frames", "half"), (0.6, "frames", None)]
    child.check_cancelled()
    cancelled.set()
    with pytest.raises(Cancelled):
        child.check_cancelled()
    with pytest.raises(ValueError):
        parent.scaled(0.5, 0.4)


def test_concurrent_updates_reach_the_callback_in_order():
    seen: list[float] = []
    progress = CallbackProgress(lambda u: seen.append(u.fraction))

    def worker(offset: int) -> None:
        for i in range(offset, 1000, 4):
            progress.update(i / 1000)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == sorted(seen)
    assert seen[-1] == 0.999
