"""up / down / status, reuse, credentials on disk, and state surviving a restart."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import yaml
from kubesim_testkit import Sim, run_kubesim, wait_until


def test_up_reuse_down_restart_keeps_state(tmp_path: Path) -> None:
    state = tmp_path / "state"
    t0 = time.monotonic()
    first = run_kubesim("up", state)
    assert first.returncode == 0, first.stderr
    kubeconfig = Path(first.stdout.strip().splitlines()[-1])
    assert kubeconfig == (state / "kubeconfig").resolve()
    assert kubeconfig.is_absolute()
    assert time.monotonic() - t0 < 5  # the benchmark reports the real figure (< 1 s)
    for secret in (kubeconfig, state / "token", state / "pki" / "apiserver.key"):
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600, secret
    cfg = yaml.safe_load(kubeconfig.read_text())
    assert cfg["current-context"] == "kubesim"
    assert [c["name"] for c in cfg["clusters"]] == ["kubesim"]
    assert [u["name"] for u in cfg["users"]] == ["kubesim"]
    server = cfg["clusters"][0]["cluster"]["server"]
    assert server.startswith("https://127.0.0.1:")
    pid = json.loads((state / "server.json").read_text())["pid"]

    second = run_kubesim("up", state)
    assert second.returncode == 0
    assert "reusing" in second.stderr
    assert json.loads((state / "server.json").read_text())["pid"] == pid
    assert run_kubesim("status", state).returncode == 0

    sim = Sim(state, kubeconfig, tmp_path / "cache")
    code, body, _ = sim.request("POST", "/api/v1/namespaces/default/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep-me"},
        "data": {"answer": "42"}})
    assert code == 201, body
    rv = body["metadata"]["resourceVersion"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
           "spec": {"nodeName": "kubesim-worker", "containers": [{"name": "c", "image": "nginx"}]}}
    assert sim.request("POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
    ip1 = wait_until("p1 running", lambda: sim.request(
        "GET", "/api/v1/namespaces/default/pods/p1")[1]["status"].get("podIP"))

    assert run_kubesim("down", state).returncode == 0
    assert run_kubesim("status", state).returncode == 1
    assert not (state / "server.json").exists()

    third = run_kubesim("up", state)
    assert third.returncode == 0, third.stderr
    try:
        code, body, _ = sim.request("GET", "/api/v1/namespaces/default/configmaps/keep-me")
        assert code == 200
        assert body["data"] == {"answer": "42"}
        assert body["metadata"]["resourceVersion"] == rv
        # a watch from before the restart is too old: one ERROR event with a 410 Status
        code, text, _ = sim.request(
            "GET", f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion="
                   f"{int(rv) - 1}&timeoutSeconds=5")
        assert code == 200
        event = json.loads(text) if isinstance(text, str) else text
        assert event["type"] == "ERROR"
        assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
        # resourceVersions keep growing after a restart
        code, body, _ = sim.request("POST", "/api/v1/namespaces/default/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "later"}})
        assert int(body["metadata"]["resourceVersion"]) > int(rv)
        # pods keep their IPs; the node's IP cursor persisted, so a new pod gets a new one
        assert sim.request("GET", "/api/v1/namespaces/default/pods/p1")[1]["status"][
            "podIP"] == ip1
        pod["metadata"]["name"] = "p2"
        assert sim.request("POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
        ip2 = wait_until("p2 running", lambda: sim.request(
            "GET", "/api/v1/namespaces/default/pods/p2")[1]["status"].get("podIP"))
        assert ip2 != ip1 and ip2.startswith("10.244.1.")
    finally:
        run_kubesim("down", state)


def test_wrong_token_is_401(sim: Sim) -> None:
    cfg = yaml.safe_load(sim.kubeconfig.read_text())
    bad = sim.state.parent / "bad-kubeconfig"
    cfg["users"][0]["user"]["token"] = "not-the-token"
    bad.write_text(yaml.safe_dump(cfg))
    bad.chmod(0o600)
    other = Sim(sim.state, bad, sim.cache)
    done = other.kubectl("get", "pods", check=False)
    assert done.returncode == 1
    assert "error: You must be logged in to the server" in done.stderr


def test_version_says_embedded(sim: Sim) -> None:
    out = sim.kubectl("version", "-o", "json").stdout
    server = json.loads(out)["serverVersion"]
    assert server["gitVersion"] == "v1.37.0-kubesim"
    assert server["minor"] == "37"


def test_unreadable_state_is_kept_and_explained(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "state.db").write_text("not a database")
    done = run_kubesim("up", state)
    assert done.returncode == 1
    assert "cannot be read" in done.stderr and "state.db.broken" in done.stderr
    assert (state / "state.db").read_text() == "not a database"
    assert run_kubesim("status", state).returncode == 1
