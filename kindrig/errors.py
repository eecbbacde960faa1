"""The rig's one error type: what went wrong and what to do about it."""

from __future__ import annotations


class RigError(RuntimeError):
    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.fix = fix

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n  fix: {self.fix}" if self.fix else base
