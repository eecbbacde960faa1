"""`make bench`: run every benchmark module here in turn; each prints its own figures."""

import subprocess
import sys
from pathlib import Path

failed = 0
for module in sorted(Path(__file__).parent.glob("*_bench.py")):
    print(f"== benchmarks.{module.stem}", flush=True)
    failed |= subprocess.run([sys.executable, "-m", f"benchmarks.{module.stem}"]).returncode
sys.exit(1 if failed else 0)
