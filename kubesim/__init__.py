"""kubesim: an embedded, Kubernetes-compatible cluster for the labs (no Docker needed).

Run as its own process (``python -m kubesim up --state-dir DIR``); clients reach it only through
the Kubernetes API with the kubeconfig it writes. Nothing here imports ``labs``.
"""

import time as _time

STARTED = _time.perf_counter()  # startup phases in server.log are measured from here

__all__ = ["__version__", "STARTED"]
__version__ = "0.1.0"
