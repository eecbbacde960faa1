"""Progress of long steps (cluster start, rollouts, probes), in a terminal and in a notebook.

rich renders the same live display in both: a spinner line in a terminal, a live output area
in JupyterLab.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console

console = Console(highlight=False)


class Progress:
    """A live status line: ``with Progress("Rollout") as p: p.update("2/3 ready")``."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.started = time.monotonic()
        self._status = console.status(title)
        self.last = ""

    def __enter__(self) -> Progress:
        self._status.__enter__()
        return self

    def update(self, state: str) -> None:
        if state and state != self.last:
            self.last = state
            self._status.update(f"{self.title}: {state}")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._status.__exit__(kind, exc, tb)
        seconds = time.monotonic() - self.started
        mark = "[green]✓[/]" if kind is None else "[red]✗[/]"
        console.print(f"{mark} {self.title}{': ' + self.last if self.last else ''} "
                      f"[dim]({seconds:.1f} s)[/]")
