"""Start the embedded cluster for a test session (a real separate process, a real kubeconfig)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def up(state_dir: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "kubesim", "up", "--state-dir", str(state_dir)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"kubesim did not start: {done.stderr}"
    return Path(done.stdout.strip().splitlines()[-1])


def down(state_dir: Path) -> None:
    subprocess.run([sys.executable, "-m", "kubesim", "down", "--state-dir", str(state_dir)],
                   capture_output=True, text=True, timeout=60)
