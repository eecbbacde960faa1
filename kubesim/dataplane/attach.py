"""attach: the container's main process (placeholder until main processes run)."""

from __future__ import annotations

from typing import Any

from .streams import Channels, internal_error


async def attach(plane: Any, ch: Channels, pod: dict[str, Any], container: dict[str, Any],
                 stdin: bool, tty: bool) -> None:
    await ch.status(internal_error("attach is not available yet in the embedded cluster"))
