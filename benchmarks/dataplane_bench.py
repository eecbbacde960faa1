"""Benchmark the embedded cluster's data plane: one exec running 100 curls through a ClusterIP,
and the labs' probe batch (one exec: HTTP probes to the ClusterIP, every node's NodePort and DNS
lookups), each through the official Python client as the labs use it.

    python -m benchmarks.dataplane_bench      # prints the figures; exit 1 if a target is missed

Target (issue 4): one exec running 100 curls in under 1 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KUBECTL = str(Path(sys.executable).with_name("kubectl"))
NS = "bench-dp"
RUNS = 5


def main() -> int:
    sys.path.insert(0, str(REPO))
    from kubernetes.stream import stream

    from labs import probing
    from labs.kube import Kube

    with tempfile.TemporaryDirectory(prefix="dp-bench-") as tmp:
        state = Path(tmp) / "state"
        env = dict(os.environ, KUBESIM_POD_START_SECONDS="0.05",
                   KUBESIM_POD_READY_SECONDS="0.05", KUBESIM_HOST_PORTS="off")
        up = subprocess.run([sys.executable, "-m", "kubesim", "up", "--state-dir", str(state)],
                            capture_output=True, text=True, timeout=60, env=env, cwd=REPO)
        if up.returncode != 0:
            print(up.stderr)
            return 1
        kubeconfig = up.stdout.strip().splitlines()[-1]
        kenv = dict(os.environ, KUBECONFIG=kubeconfig, KUBECACHEDIR=str(Path(tmp) / "cache"))

        def kubectl(*args: str) -> None:
            subprocess.run([KUBECTL, "-n", NS, *args], check=True, capture_output=True,
                           env=kenv, timeout=60)
        try:
            subprocess.run([KUBECTL, "create", "ns", NS], check=True, capture_output=True,
                           env=kenv)
            for f in ("common/web-echo-config.yml", "common/deploy-test01.yml",
                      "nodeport/service-test01.yml", "common/nginx-test01.yml"):
                kubectl("apply", "-f", str(REPO / "manifests" / f))
            kubectl("wait", "--for=condition=Ready", "pod", "--all", "--timeout=30s")
            kubectl("rollout", "status", "deploy/deploy-test01", "--timeout=30s")
            kube = Kube(kubeconfig)
            script = ("i=0; while [ $i -lt 100 ]; do curl -s -o /dev/null -w '%{http_code}\\n' "
                      "http://web-service-nodeport/; i=$((i+1)); done | sort | uniq -c")
            times = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                out = stream(kube.core.connect_get_namespaced_pod_exec, "nginx01", NS,
                             command=["/bin/sh", "-c", script], stderr=True, stdin=False,
                             stdout=True, tty=False)
                times.append(time.perf_counter() - t0)
                assert out.split() == ["100", "200"], out
            curl100 = statistics.median(times)
            probes = [probing.Http("http://web-service-nodeport/", count=6)]
            probes += [probing.Http(f"http://{ip}:31001/") for ip in
                       ("172.18.0.2", "172.18.0.3", "172.18.0.4")]
            probes += [probing.Dns("web-service-nodeport"), probing.Dns("kubernetes.default")]
            ptimes = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                res = probing.run(kube, NS, "nginx01", probes)
                ptimes.append(time.perf_counter() - t0)
                assert all(r.ok for batch in res[:4] for r in batch)  # type: ignore[union-attr]
            probe = statistics.median(ptimes)
        finally:
            subprocess.run([sys.executable, "-m", "kubesim", "down", "--state-dir", str(state)],
                           capture_output=True, timeout=60, cwd=REPO)
    print(f"one exec running 100 curls:   median {curl100 * 1000:7.1f} ms over {RUNS} runs "
          f"(target < 1000 ms)  {'ok' if curl100 < 1 else 'MISSED'}")
    print(f"labs probe batch ({sum(p.count if isinstance(p, probing.Http) else 1 for p in probes)}"
          f" probes, one exec): median {probe * 1000:7.1f} ms over {RUNS} runs")
    return 0 if curl100 < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
