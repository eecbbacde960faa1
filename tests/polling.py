"""Waiting in tests: poll with a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(what: str, fn: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``fn`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
