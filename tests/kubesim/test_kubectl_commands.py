"""kubectl's typed-client commands (protobuf request bodies) and everyday commands learners type."""

from __future__ import annotations

import json
import re

from kubesim_testkit import Sim, wait_until


def test_imperative_commands_send_protobuf(sim: Sim) -> None:
    ns = "t-imperative"
    assert sim.kubectl("create", "namespace", ns).stdout.strip() == f"namespace/{ns} created"
    try:
        phase = json.loads(sim.kubectl("get", "ns", ns, "-o", "json").stdout)["status"]["phase"]
        assert phase == "Active"
        out = sim.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.29",
                          "--replicas=2", "--port=80").stdout.strip()
        assert out == "deployment.apps/web created"
        assert sim.kubectl("-n", ns, "expose", "deployment", "web", "--port=80",
                           "--type=NodePort").stdout.strip() == "service/web exposed"
        assert sim.kubectl("-n", ns, "run", "client", "--image=nginx").stdout.strip() == \
            "pod/client created"
        assert sim.kubectl("-n", ns, "create", "configmap", "c1",
                           "--from-literal=a=b").stdout.strip() == "configmap/c1 created"
        dep = json.loads(sim.kubectl("-n", ns, "get", "deploy", "web", "-o", "json").stdout)
        spec = dep["spec"]["template"]["spec"]
        assert spec["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
        assert "hostNetwork" not in spec  # protobuf zero values are not taken as set
        assert "creationTimestamp" not in dep["spec"]["template"]["metadata"]
        svc = json.loads(sim.kubectl("-n", ns, "get", "svc", "web", "-o", "json").stdout)
        assert svc["spec"]["selector"] == {"app": "web"}
        assert svc["spec"]["type"] == "NodePort"
        assert re.fullmatch(r"3\d{4}", str(svc["spec"]["ports"][0]["nodePort"]))
        assert json.loads(sim.kubectl("-n", ns, "get", "cm", "c1", "-o", "json").stdout)[
            "data"] == {"a": "b"}
        assert sim.kubectl("-n", ns, "scale", "deploy", "web", "--replicas=3").stdout.strip() \
            == "deployment.apps/web scaled"
        wait_until("3 ready replicas", lambda: sim.kubectl(
            "-n", ns, "get", "deploy", "web", "--no-headers").stdout.split()[1] == "3/3")
        out = sim.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/client",
                          "--timeout=20s").stdout.strip()
        assert out == "pod/client condition met"
    finally:
        sim.kubectl("delete", "namespace", ns, "--wait=true", "--timeout=30s")


def test_rollout_restart_history_and_undo(sim: Sim, ns: str) -> None:
    sim.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.29", "--replicas=2")
    sim.kubectl("-n", ns, "rollout", "status", "deploy/web", "--timeout=30s")
    sim.kubectl("-n", ns, "set", "image", "deploy/web", "nginx=nginx:1.30")
    sim.kubectl("-n", ns, "rollout", "status", "deploy/web", "--timeout=30s")
    hist = sim.kubectl("-n", ns, "rollout", "history", "deploy/web").stdout.split()
    assert hist[-4:] == ["1", "<none>", "2", "<none>"]
    assert sim.kubectl("-n", ns, "rollout", "undo", "deploy/web").stdout.strip() == \
        "deployment.apps/web rolled back"
    sim.kubectl("-n", ns, "rollout", "status", "deploy/web", "--timeout=30s")
    images = sim.kubectl("-n", ns, "get", "pods", "-o",
                         "jsonpath={.items[*].spec.containers[0].image}").stdout.split()
    wait_until("pods back on nginx:1.29", lambda: set(sim.kubectl(
        "-n", ns, "get", "pods", "-o",
        "jsonpath={.items[*].spec.containers[0].image}").stdout.split()) == {"nginx:1.29"})
    assert images


def test_namespaces_and_nodes_look_like_kind(sim: Sim) -> None:
    out = sim.kubectl("get", "nodes", "-o", "wide", "--no-headers").stdout.splitlines()
    rows = [re.split(r"\s{2,}", r.strip()) for r in out]
    assert [(r[0], r[1], r[2], r[5]) for r in rows] == [
        ("kubesim-control-plane", "Ready", "control-plane", "172.18.0.2"),
        ("kubesim-worker", "Ready", "<none>", "172.18.0.3"),
        ("kubesim-worker2", "Ready", "<none>", "172.18.0.4")]
    assert "kubesim" in rows[0][7]  # OS-IMAGE says it is the embedded cluster
    names = sim.kubectl("get", "ns", "-o", "name").stdout.split()
    assert {"namespace/default", "namespace/kube-system", "namespace/kube-public",
            "namespace/kube-node-lease"} <= set(names)
