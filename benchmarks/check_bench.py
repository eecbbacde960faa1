"""How long `make check` takes for the four core labs, and how many API requests it makes,
side by side with the same checks done by sequential kubectl calls, in one run.

Runs on the embedded cluster (started in a temporary state directory) unless KUBECONFIG and
LAB_CLUSTER=current name another. Each side runs ROUNDS times, interleaved, on solved labs.

    python -m benchmarks.check_bench
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ROOT = Path(__file__).resolve().parent.parent
KUBECTL = str(Path(sys.executable).parent / "kubectl")


def kubectl_checks(kubeconfig: str, lab, namespace: str, snap) -> int:
    """What a hand-written check script does: one kubectl call per fact it needs, and one
    `kubectl exec` per request it sends (the same URLs and counts as the grader's probes).
    Returns the number of API requests kubectl made (from its -v=6 request log)."""
    from labs.grading import planned
    from labs.probing import Dns

    env = {**os.environ, "KUBECONFIG": kubeconfig}
    calls = [["get", "namespace", namespace], ["get", "nodes", "-o", "json"]]
    for o in lab.objectives:
        p = o.params
        if "deployment" in p:
            calls.append(["get", "deployment", p["deployment"], "-n", namespace, "-o", "json"])
            calls.append(["get", "pods", "-n", namespace, "-o", "json"])
        if "pod" in p:
            calls.append(["get", "pod", p["pod"], "-n", namespace, "-o", "json"])
        if "service" in p:
            calls.append(["get", "service", p["service"], "-n", namespace, "-o", "json"])
        if o.check == "endpoints":
            calls.append(["get", "endpointslices", "-n", namespace, "-l",
                          f"kubernetes.io/service-name={p['service']}", "-o", "json"])
        for source, probe in planned(o, snap):
            if source == "host":
                continue
            if isinstance(probe, Dns):
                calls.append(["exec", "-n", namespace, source, "--", "getent", "hosts", probe.name])
            else:
                calls += [["exec", "-n", namespace, source, "--", "curl", "-s", "-o", "/dev/null",
                           "-w", "%{http_code}", probe.url]] * probe.count
    requests = 0
    for args in calls:
        done = subprocess.run([KUBECTL, "-v=6", *args], capture_output=True, text=True, env=env)
        requests += len(re.findall(r"\"Response\" verb=", done.stderr))
    return requests


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from labs import catalog, clusters, session
    from labs.grading import collect, grade
    from labs.kube import Kube

    state = Path(tempfile.mkdtemp(prefix="check-bench-"))
    own = os.environ.get("LAB_CLUSTER") != "current"
    if own:
        up = subprocess.run([sys.executable, "-m", "kubesim", "up", "--state-dir", str(state)],
                            capture_output=True, text=True, check=True)
        kubeconfig = up.stdout.strip().splitlines()[-1]
        backend: clusters.Cluster = clusters.EmbeddedCluster()
    else:
        kubeconfig = os.environ["KUBECONFIG"]
        backend = clusters.CurrentCluster()
    try:
        kube = Kube(kubeconfig)
        session.use(kube, backend)
        labs = [catalog.load(n) for n in catalog.names()]
        for lab in labs:
            session.solve(lab)
        snaps = {lab.name: collect(kube, lab, host_ports=False) for lab in labs}
        ours, theirs, our_requests, their_requests = [], [], 0, 0
        for _ in range(ROUNDS):
            start, before = time.perf_counter(), kube.requests
            for lab in labs:
                grade(kube, lab, host_ports=False)
            ours.append(time.perf_counter() - start)
            our_requests = kube.requests - before
            start = time.perf_counter()
            their_requests = sum(kubectl_checks(kubeconfig, lab, lab.namespace, snaps[lab.name])
                                 for lab in labs)
            theirs.append(time.perf_counter() - start)
        print(f"make check, 4 labs, {ROUNDS} rounds on {backend.describe()}")
        print(f"  labs grader (python -m labs check): median {statistics.median(ours):6.2f} s, "
              f"{our_requests} API requests (incl. one exec per lab)")
        print(f"  kubectl, a call per fact, an exec per request: median "
              f"{statistics.median(theirs):6.2f} s, "
              f"{their_requests} API requests")
        print(f"  speed-up {statistics.median(theirs) / statistics.median(ours):.1f}x, "
              f"requests {their_requests / max(our_requests, 1):.1f}x fewer")
    finally:
        if own:
            subprocess.run([sys.executable, "-m", "kubesim", "down", "--state-dir", str(state)],
                           capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
