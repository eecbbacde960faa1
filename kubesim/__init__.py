"""kubesim: an embedded, Kubernetes-compatible cluster for the labs (no Docker needed).

Run as its own process (``python -m kubesim up --state-dir DIR``); clients reach it only through
the Kubernetes API with the kubeconfig it writes. Nothing here imports ``labs``.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
