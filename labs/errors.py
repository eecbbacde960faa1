"""Errors a learner can act on: each says what went wrong, where, and what to do next.

Third-party exceptions (YAML, the Kubernetes client, urllib3) are caught at the edge and
re-raised as one of these, chained with ``raise ... from``, so a learner never sees a raw
traceback from a library for a mistake they can fix.
"""

from __future__ import annotations


class LabError(Exception):
    """Base class: ``what`` went wrong, ``where`` (file:line, field, object) and the ``fix``."""

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None,
                 details: list[str] | None = None, key: str | None = None,
                 args: dict[str, object] | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        self.details = details or []
        self.key, self.values = key, dict(args or {})  # labs/messages.py ERRORS: any language
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"{self.where}: {self.what}" if self.where else self.what
        lines = [head, *(f"  {d}" for d in self.details)]
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


class ClusterUnavailable(LabError):
    """No cluster could be started or reached."""


class ManifestError(LabError):
    """A manifest file cannot be read, parsed or filled in."""


class ApplyError(LabError):
    """The API server refused a manifest."""


class WaitTimeout(LabError):
    """A condition was not reached before its deadline."""


class ProbeError(LabError):
    """A probe could not run at all (no client pod, exec refused)."""


class CheckFileError(LabError):
    """A check file (checks/<lab>.yaml) is malformed."""


def cut(text: object, limit: int = 256) -> str:
    """Shorten a server or tool message for display."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
