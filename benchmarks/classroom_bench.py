"""Grading a classroom: 100 students' NodePort lab graded one after another, then in parallel (the
scoreboard's thread pool), printed side by side.

What is measured, honestly: BENCH_CLUSTERS live embedded clusters (default 10) are started, each
on its own loopback address with the NodePort lab solved; BENCH_STUDENTS students (default 100)
are spread over them round-robin, so each grading is the real thing (7 API requests, one exec
into the client pod with every in-cluster probe, and the host probes on the student's own
address) but the server side of ten students shares one embedded cluster. 100 clusters at once
would measure this machine's memory and start-up, not grading. The grader's work per student is
what classroom/scoreboard.py does each round.

    python -m benchmarks.classroom_bench
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STUDENTS = int(os.environ.get("BENCH_STUDENTS", "100"))
CLUSTERS = int(os.environ.get("BENCH_CLUSTERS", "10"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "16"))
ROOT = Path(__file__).resolve().parent.parent


def start(state: Path, address: str) -> Path:
    env = {**os.environ, "KUBESIM_HOST_IP": address, "LAB_STATE_DIR": str(state),
           "LAB_CLUSTER": "embedded", "LAB_HOST_IP": address}
    subprocess.run([sys.executable, "-m", "labs", "solve", "nodeport"], env=env, cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return state / "embedded" / "kubeconfig"


def main() -> int:
    from classroom import scoreboard

    with tempfile.TemporaryDirectory(prefix="classroom-bench-") as tmp:
        t0 = time.monotonic()
        addresses = [f"127.79.0.{i + 2}" for i in range(CLUSTERS)]
        kubeconfigs = []
        try:
            for i, address in enumerate(addresses):
                kubeconfigs.append(start(Path(tmp) / f"c{i}", address))
            started = time.monotonic() - t0
            students = [scoreboard.Student(f"s{i:03d}", kubeconfigs[i % CLUSTERS],
                                           addresses[i % CLUSTERS]) for i in range(STUDENTS)]
            scoreboard.grade_all(students[:CLUSTERS], ["nodeport"], workers=CLUSTERS)  # warm
            t = time.monotonic()
            one_by_one = scoreboard.grade_all(students, ["nodeport"], workers=1)
            sequential = time.monotonic() - t
            t = time.monotonic()
            parallel_rows = scoreboard.grade_all(students, ["nodeport"], workers=WORKERS)
            parallel = time.monotonic() - t
        finally:
            for i in range(len(kubeconfigs)):
                subprocess.run([sys.executable, "-m", "kubesim", "down", "--state-dir",
                                str(Path(tmp) / f"c{i}" / "embedded")], capture_output=True)

    def passed(rows: dict) -> int:
        return sum(all(o["status"] == "passed" for o in r.labs.get("nodeport", [])) and not r.error
                   for r in rows.values())

    print(f"{CLUSTERS} embedded clusters started and solved in {started:.1f} s; "
          f"{STUDENTS} students graded (NodePort lab, 9 objectives each)")
    print(f"{'':24}{'one after another':>20}{f'parallel ({WORKERS} threads)':>24}")
    print(f"{'wall time':24}{sequential:>19.1f}s{parallel:>23.1f}s")
    print(f"{'per student':24}{sequential / STUDENTS * 1000:>18.0f}ms"
          f"{parallel / STUDENTS * 1000:>22.0f}ms")
    print(f"{'all objectives passed':24}{passed(one_by_one):>20}{passed(parallel_rows):>24}")
    print(f"speed-up {sequential / parallel:.1f}x on {os.cpu_count()} CPUs; target: "
          f"{STUDENTS} students under 30 s: {'met' if parallel < 30 else 'NOT met'}")
    return 0 if passed(parallel_rows) == STUDENTS else 1


if __name__ == "__main__":
    sys.exit(main())
