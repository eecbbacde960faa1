"""Import the kubernetes client without its optional schema validation.

``import kubernetes`` imports ``kubernetes.dynamic``, which imports ``kubernetes_validate`` when it
is installed (it is, as a test dependency); that imports jsonschema's format checkers, and one of
them compiles an RFC 3987 grammar: 5-10 s on every ``import labs``, in every notebook kernel and
every ``python -m labs`` command. The labs never use the dynamic client's validation, so the
client is imported with ``kubernetes_validate`` hidden for that one import; it stays importable
afterwards (the manifest tests use it directly).
"""

from __future__ import annotations

import sys

if "kubernetes" not in sys.modules and "kubernetes_validate" not in sys.modules:
    sys.modules["kubernetes_validate"] = None  # type: ignore[assignment]  # ImportError inside
    try:
        import kubernetes  # noqa: F401
    finally:
        del sys.modules["kubernetes_validate"]
