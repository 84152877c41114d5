"""Running a test's async scenario in a thread of its own.

In the full suite, the session's Playwright browser (sync API) leaves an event loop registered in
the main thread, so asyncio.run and async_to_sync refuse to run there; a fresh thread has none."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def in_own_thread(fn: Callable[[], Any], timeout: float = 120) -> Any:
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name="test-scenario")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"the scenario did not finish within {timeout} s")
    if "error" in result:
        raise result["error"]
    return result.get("value")
