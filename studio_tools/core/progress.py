"""Progress reporting and cooperative cancellation.

Progress only moves forward and stays within 0..1 whatever a tool sends, because several pages
show the same run and a bar that jumps back reads as a bug. Cancellation is cooperative: tools call
`check_cancelled()` between steps, and the answer may come from a database, so `CallbackProgress`
can rate-limit both the updates it forwards and the cancel checks it makes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from studio_tools.core.errors import Cancelled


@dataclass(frozen=True)
class ProgressUpdate:
    fraction: float
    stage: str | None
    message: str | None


class Progress:
    """Base reporter: keeps the clamped, monotonic state; subclasses decide where updates go."""

    def __init__(self) -> None:
        # Reentrant and held while emitting, so concurrent updates reach the callback in order
        # and a callback may itself call update().
        self._lock = threading.RLock()
        self._fraction = 0.0
        self._stage: str | None = None

    @property
    def fraction(self) -> float:
        return self._fraction

    @property
    def stage(self) -> str | None:
        return self._stage

    def update(self, fraction: float, stage: str | None = None, message: str | None = None) -> None:
        """Report progress; values below the last one (or NaN) keep the last one, the stage is sticky."""
        with self._lock:
            value = float(fraction)
            if not math.isnan(value):
                self._fraction = max(self._fraction, min(1.0, max(0.0, value)))
            if stage is not None:
                self._stage = stage
            self._emit(ProgressUpdate(self._fraction, self._stage, message))

    def check_cancelled(self) -> None:
        """Raise Cancelled if the run was asked to stop."""
        if self._cancel_requested():
            raise Cancelled()

    def is_cancelled(self) -> bool:
        """The same question without raising: for a callback that polls (the media reader, ffmpeg runs)."""
        try:
            self.check_cancelled()
        except Cancelled:
            return True
        return False

    def scaled(self, start: float, end: float) -> Progress:
        """A child reporter whose 0..1 maps onto start..end of this one, for a step inside a bigger run."""
        if not 0.0 <= start <= end <= 1.0:
            raise ValueError("need 0 <= start <= end <= 1")
        return _ScaledProgress(self, start, end)

    def _emit(self, update: ProgressUpdate) -> None:
        pass

    def _cancel_requested(self) -> bool:
        return False


class NullProgress(Progress):
    """Tracks state, reports nowhere, never cancels: the default when nobody is watching."""


class CallbackProgress(Progress):
    """Forwards updates to `on_update` and asks `is_cancelled` whether to stop.

    `min_interval` (seconds) drops updates that come faster than that, except the first one, a stage
    change and completion, which always go through. `cancel_check_interval` reuses the last answer of
    `is_cancelled` for that long; once it has said yes the answer stays yes.
    """

    def __init__(
        self,
        on_update: Callable[[ProgressUpdate], None] | None = None,
        is_cancelled: Callable[[], bool] | None = None,
        *,
        min_interval: float = 0.0,
        cancel_check_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._on_update = on_update
        self._is_cancelled = is_cancelled
        self._min_interval = min_interval
        self._cancel_check_interval = cancel_check_interval
        self._clock = clock
        self._last_emit_at: float | None = None
        self._last_emitted: ProgressUpdate | None = None
        self._cancelled = False
        self._last_cancel_check_at: float | None = None

    def _emit(self, update: ProgressUpdate) -> None:
        if self._on_update is None:
            return
        now = self._clock()
        last = self._last_emitted
        due = (
            last is None
            or self._last_emit_at is None
            or update.stage != last.stage
            or (update.fraction >= 1.0 and last.fraction < 1.0)
            or now - self._last_emit_at >= self._min_interval
        )
        if not due:
            return
        self._last_emit_at = now
        self._last_emitted = update
        self._on_update(update)

    def _cancel_requested(self) -> bool:
        if self._cancelled or self._is_cancelled is None:
            return self._cancelled
        now = self._clock()
        if self._last_cancel_check_at is not None and now - self._last_cancel_check_at < self._cancel_check_interval:
            return False
        self._last_cancel_check_at = now
        self._cancelled = bool(self._is_cancelled())
        return self._cancelled


class _ScaledProgress(Progress):
    def __init__(self, parent: Progress, start: float, end: float) -> None:
        super().__init__()
        self._parent = parent
        self._start = start
        self._span = end - start

    def _emit(self, update: ProgressUpdate) -> None:
        self._parent.update(self._start + self._span * update.fraction, update.stage, update.message)

    def _cancel_requested(self) -> bool:
        try:
            self._parent.check_cancelled()
        except Cancelled:
            return True
        return False
