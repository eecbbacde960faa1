"""What some tests need from this machine beyond Python, and the reason they give when it is missing."""

from __future__ import annotations

import subprocess
import sys

import pytest

CLONE_NEWUSER = 0x10000000


def user_namespaces() -> bool:
    """Can a process here make a user namespace (the embedded cluster's pod sandboxes do)?"""
    code = ("import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); "
            f"sys.exit(0 if libc.unshare({CLONE_NEWUSER}) == 0 else 1)")
    return subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0


USERNS = user_namespaces()

needs_userns = pytest.mark.skipif(
    not USERNS,
    reason="this machine does not let processes make user namespaces (a chroot, "
    "kernel.unprivileged_userns_clone=0, or AppArmor's apparmor_restrict_unprivileged_userns=1), "
    "so the embedded cluster runs pods in plain mode (tests/kubesim_dataplane/test_fallbacks.py "
    "covers it); to run these, run the tests outside a chroot or allow user namespaces")
