"""After applying a Service the labs wait until kube-proxy routes it (a connection from the
client pod gets through), as a learner's next cell curls it."""

from __future__ import annotations

from labs import probing, session

SERVICE = {"metadata": {"name": "web-service"},
           "spec": {"clusterIP": "10.96.0.20", "ports": [{"port": 80}]}}
READY = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
         "metadata": {"name": "nginx01"}}


class FakeKube:
    def get(self, path):
        return READY if path.endswith("/pods/nginx01") else None


def fake_run(monkeypatch, answers):
    calls = []

    def run(kube, namespace, pod, probes, **_):
        code = answers[min(len(calls), len(answers) - 1)]
        calls.append(probes[0].url)
        return [[probing.HttpResult(probes[0].url, ok=code == 0, status=200 if code == 0 else 0,
                                    exit_code=code)]]

    monkeypatch.setattr(probing, "run", run)
    monkeypatch.setattr(session.time, "sleep", lambda s: None)
    return calls


def test_waits_until_a_connection_gets_through(monkeypatch):
    calls = fake_run(monkeypatch, [7, 7, 28, 0])
    session.wait_routed(FakeKube(), "lab-clusterip", SERVICE)
    assert calls == ["http://10.96.0.20:80/"] * 4


def test_a_failure_waiting_does_not_cure_ends_the_wait_at_once(monkeypatch):
    calls = fake_run(monkeypatch, [52])  # connected, but an empty reply: not kube-proxy's doing
    session.wait_routed(FakeKube(), "lab-clusterip", SERVICE)
    assert len(calls) == 1


def test_gives_up_after_the_timeout_and_says_so(monkeypatch, capsys):
    calls = fake_run(monkeypatch, [7])
    monkeypatch.setattr(session, "ROUTED_TIMEOUT", 0.05)
    session.wait_routed(FakeKube(), "lab-clusterip", SERVICE)
    assert len(calls) >= 2


def test_headless_services_and_missing_clients_are_not_waited_for(monkeypatch):
    calls = fake_run(monkeypatch, [7])
    session.wait_routed(FakeKube(), "ns", {**SERVICE, "spec": {"clusterIP": "None",
                                                               "ports": [{"port": 80}]}})
    session.wait_routed(FakeKube(), "ns", SERVICE, client="other")
    assert calls == []


def test_a_cluster_without_exec_is_not_waited_for(monkeypatch):
    from labs.errors import ProbeError

    def run(*_, **__):
        raise ProbeError("exec failed: no kubelet")

    monkeypatch.setattr(probing, "run", run)
    session.wait_routed(FakeKube(), "lab-clusterip", SERVICE)  # returns, raises nothing
