"""The grader against recorded objects: solved, unsolved, half-solved, solved differently, broken."""

from __future__ import annotations

import pytest
from rich.console import Console
from snapshots import Cluster

from labs import catalog, reports
from labs.grading import BLOCKED, FAILED, PASSED, SKIPPED, Report, Result, Snapshot, evaluate

LABS = catalog.names()


def grade(cluster: Cluster) -> dict[str, object]:
    snap = cluster.probe()
    return {r.id: r for r in evaluate(cluster.lab, Snapshot.from_json(snap.to_json()))}


def statuses(results: dict) -> dict[str, str]:
    return {k: r.status for k, r in results.items()}


def test_the_four_service_types_and_the_headless_service_are_labs():
    assert LABS == ["clusterip", "nodeport", "loadbalancer", "externalname", "headless"]


READINESS = {"deployment-ready", "statefulset-ready", "pod-ready"}


@pytest.mark.parametrize("lab", LABS)
def test_every_objective_fails_or_waits_on_the_unsolved_lab(lab):
    """The lab as its setup leaves it: what the setup gives is ready, and every objective about
    what the learner builds fails with a hint or waits for one that failed (so none of them
    passes whatever the cluster shows)."""
    c = Cluster(lab).setup()
    results = grade(c)
    assert set(results) == {o.id for o in c.lab.objectives}
    checks = {o.id: o.check for o in c.lab.objectives}
    assert any(check not in READINESS for check in checks.values())
    assert any(r.status == FAILED for r in results.values())
    for r in results.values():
        if checks[r.id] in READINESS:
            assert r.status == PASSED, (r.id, r.found)
        elif r.status == FAILED:
            assert r.hint and r.expected and r.found, r.id
        else:
            assert r.status == BLOCKED, (r.id, r.status, r.found)
            assert all(results[n].status in (FAILED, BLOCKED) for n in r.needs), r.id


@pytest.mark.parametrize("lab", LABS)
def test_a_fresh_cluster_fails_once_with_the_setup_hint_and_the_rest_wait(lab):
    c = Cluster(lab)
    c.snap.namespace_exists = False
    results = grade(c)
    assert set(results) == {o.id for o in c.lab.objectives}
    first, *rest = results.values()
    assert first.status == FAILED and first.hint and f"no namespace lab-{lab}" in first.found
    for r in rest:
        assert (r.status, r.needs, r.hint) == (BLOCKED, (first.id,), "")
        assert r.found == f"not judged: waits for {first.title}"


@pytest.mark.parametrize("lab", LABS)
def test_every_objective_passes_after_the_reference_solution(lab):
    results = grade(Cluster(lab).solve())
    assert statuses(results) == {k: PASSED for k in results}


@pytest.mark.parametrize("lab", LABS)
def test_an_empty_namespace_fails_or_waits_on_every_objective_without_crashing(lab):
    results = grade(Cluster(lab))
    for r in results.values():
        if r.status == FAILED:
            assert r.expected and r.found and r.hint
        else:
            assert r.status == BLOCKED and r.needs
            assert all(results[n].status in (FAILED, BLOCKED) for n in r.needs)


@pytest.mark.parametrize("lab", LABS)
def test_an_unsolved_lab_fails_once_on_the_missing_service_and_the_rest_wait_for_it(lab):
    results = grade(Cluster(lab).setup())
    failed = [r for r in results.values() if r.status == FAILED]
    assert [r.id for r in failed] == ["service-type"]
    assert failed[0].hint and failed[0].found.startswith("no Service ")
    waiting = {k: r.needs for k, r in results.items() if r.status == BLOCKED}
    assert waiting and all(n in (("service-type",), ("dns-cname",)) for n in waiting.values())
    assert all(r.status in (PASSED, FAILED, BLOCKED) for r in results.values())


def test_half_solved_nodeport_passes_the_setup_and_fails_the_service():
    results = grade(Cluster("nodeport").setup())
    assert statuses(results) == {
        "web-ready": PASSED, "client-ready": PASSED, "service-type": FAILED, "node-port": BLOCKED,
        "selector": BLOCKED, "endpoints": BLOCKED, "curl-cluster-ip": BLOCKED,
        "curl-every-node": BLOCKED, "curl-host": BLOCKED}
    assert results["service-type"].found == (
        "no Service web-service-nodeport in lab-nodeport (Services there: none)")
    assert {r.needs for r in results.values() if r.status == BLOCKED} == {("service-type",)}


def test_a_service_with_the_wrong_port_fails_that_and_the_rest_are_judged():
    def other_port(obj):
        if obj["kind"] == "Service":
            obj["spec"]["ports"][0]["port"] = 8080
    c = Cluster("nodeport").setup().apply("nodeport/service-test01.yml", edit=other_port)
    results = grade(c)
    assert results["node-port"].status == FAILED
    assert results["node-port"].found == "PORT(S) 8080:31001/TCP"
    assert BLOCKED not in statuses(results).values()
    assert statuses(results)["selector"] == statuses(results)["endpoints"] == PASSED
    assert results["curl-host"].status == PASSED  # 31001 still leads to the pods


def test_an_objective_that_needs_a_failed_one_waits_for_it():
    """checks/externalname.yaml: curl-alias `needs: dns-cname`: a wrong alias fails the lookup
    once, and the curl through it is not judged."""
    def short(obj):
        if obj["spec"].get("type") == "ExternalName":
            obj["spec"]["externalName"] = "nowhere.example"
    c = Cluster("externalname").setup().apply("externalname/service-test04.yml", edit=short)
    results = grade(c)
    assert results["dns-cname"].status == FAILED
    assert (results["curl-alias"].status, results["curl-alias"].needs) == (BLOCKED, ("dns-cname",))


def named_target_port(obj):
    if obj["kind"] == "Service":
        obj["spec"]["ports"][0]["targetPort"] = "http"


def test_a_named_target_port_passes_like_a_numeric_one():
    c = Cluster("nodeport").setup().apply("nodeport/service-test01.yml", edit=named_target_port)
    assert c.snap.services["web-service-nodeport"]["spec"]["ports"][0]["targetPort"] == "http"
    assert all(r.status == PASSED for r in grade(c).values())


def test_loadbalancer_with_a_worker_address_in_external_ips_passes():
    def worker_ip(obj):
        if obj["kind"] == "Service":
            obj["spec"]["externalIPs"] = ["172.18.0.4"]
    c = Cluster("loadbalancer").setup().apply("loadbalancer/service-test01.yml", edit=worker_ip)
    results = grade(c)
    assert all(r.status == PASSED for r in results.values())
    assert results["external-ip"].found == "EXTERNAL-IP 172.18.0.4"


def test_externalname_with_a_trailing_dot_passes():
    def dotted(obj):
        if obj["spec"].get("type") == "ExternalName":
            obj["spec"]["externalName"] += "."
    c = Cluster("externalname").setup().apply("externalname/service-test04.yml", edit=dotted)
    assert all(r.status == PASSED for r in grade(c).values())


def test_clusterip_written_without_type_passes():
    def untyped(obj):
        if obj["kind"] == "Service":
            del obj["spec"]["type"]
    c = Cluster("clusterip").setup().apply("clusterip/service-test01.yml", edit=untyped)
    assert all(r.status == PASSED for r in grade(c).values())


def test_a_wrong_selector_fails_selector_endpoints_and_curl_with_what_was_found():
    def wrong(obj):
        if obj["kind"] == "Service":
            obj["spec"]["selector"] = {"app": "web-deploy"}
    c = Cluster("nodeport").setup().apply("nodeport/service-test01.yml", edit=wrong)
    results = grade(c)
    assert results["selector"].status == FAILED
    assert results["selector"].found == "selector app=web-deploy matches none of 3 pod(s)"
    assert "app.kubernetes.io/name=web-deploy" in results["selector"].expected
    assert results["endpoints"].found == "ENDPOINTS <none>: the selector matches no ready pod"
    assert "Couldn't connect to server" in results["curl-cluster-ip"].found
    assert results["service-type"].status == PASSED and results["node-port"].status == PASSED


def test_a_selector_that_also_picks_the_client_pod_fails():
    def loose(obj):
        if obj["kind"] == "Service":
            obj["spec"]["selector"] = {"app.kubernetes.io/name": "web-deploy"}
        if obj["kind"] == "Pod":
            obj["metadata"]["labels"] = {"app.kubernetes.io/name": "web-deploy"}
    c = Cluster("clusterip").apply(*(str(p) for p in c_lab("clusterip").manifests()), edit=loose)
    assert grade(c)["selector"].found.endswith("also matches nginx01")


def c_lab(name):
    return catalog.load(name)


def _slice_of(c: Cluster, service: str) -> dict:
    (found,) = [s for s in c.snap.endpointslices
                if s["metadata"]["labels"]["kubernetes.io/service-name"] == service]
    return found


def two_key_selector(obj):
    if obj["kind"] == "Service":
        obj["spec"]["selector"] = {"app.kubernetes.io/name": "web-deploy", "tier": "web"}


def test_fewer_endpoints_than_ready_pods_fail_with_the_count():
    """An EndpointSlice that lists two of three ready pods (a stale one, or hand-written)."""
    c = Cluster("clusterip").solve()
    eps = _slice_of(c, "web-service")["endpoints"]
    kept = [ep["addresses"][0] for ep in eps[:2]]
    _slice_of(c, "web-service")["endpoints"] = eps[:2]
    r = grade(c)["endpoints"]
    assert r.status == FAILED
    assert r.expected == "3 ready endpoint(s) (one per ready pod of deploy-test01)"
    assert r.found == f"2 ready endpoint(s): {sorted(kept)[0]}:80,{sorted(kept)[1]}:80"
    assert r.hint


def test_a_selector_missing_one_ready_pod_fails_endpoints_with_the_count():
    """Two keys, the second on two of the three pods: 2 endpoints for 3 ready pods."""
    c = Cluster("clusterip").setup()
    for name in sorted(n for n in c.snap.pods if n.startswith("deploy-test01-"))[:2]:
        c.snap.pods[name]["metadata"]["labels"]["tier"] = "web"
    results = grade(c.apply("clusterip/service-test01.yml", edit=two_key_selector))
    assert results["endpoints"].status == FAILED
    assert results["endpoints"].found.startswith("2 ready endpoint(s): 10.244.")
    assert results["selector"].status == FAILED
    missed = sorted(n for n in c.snap.pods if n.startswith("deploy-test01-"))[2]
    assert results["selector"].found == (
        "selector app.kubernetes.io/name=web-deploy,tier=web matches 2 of 3 pod(s), "
        f"not {missed}")


def test_a_selector_is_matched_on_every_key():
    """A two-key selector whose second key no pod carries selects nothing (not every pod with
    the first key); with the key on every pod it selects them all."""
    results = grade(Cluster("clusterip").setup().apply("clusterip/service-test01.yml",
                                                        edit=two_key_selector))
    assert results["selector"].status == FAILED
    assert results["selector"].found == (
        "selector app.kubernetes.io/name=web-deploy,tier=web matches none of 3 pod(s)")
    c = Cluster("clusterip").setup()
    for pod in c.snap.pods.values():
        pod["metadata"]["labels"]["tier"] = "web"
    results = grade(c.apply("clusterip/service-test01.yml", edit=two_key_selector))
    assert results["selector"].status == PASSED
    assert statuses(results) == {k: PASSED for k in results}


def test_a_two_key_selector_that_one_label_of_the_client_pod_matches_is_not_extra():
    """The client pod carries only the first of the selector's two keys: not selected."""
    c = Cluster("clusterip").setup()
    for pod in c.snap.pods.values():
        if pod["metadata"]["name"].startswith("deploy-test01-"):
            pod["metadata"]["labels"]["tier"] = "web"
    c.snap.pods["nginx01"]["metadata"]["labels"] = {"app.kubernetes.io/name": "web-deploy"}
    results = grade(c.apply("clusterip/service-test01.yml", edit=two_key_selector))
    assert results["selector"].status == PASSED, results["selector"].found


def test_the_wrong_node_port_fails_with_the_ports_as_kubectl_shows_them():
    def other_port(obj):
        if obj["kind"] == "Service":
            obj["spec"]["ports"][0]["nodePort"] = 30080
    c = Cluster("nodeport").setup().apply("nodeport/service-test01.yml", edit=other_port)
    results = grade(c)
    assert (results["node-port"].expected, results["node-port"].found) == (
        "PORT(S) 80:31001/TCP", "PORT(S) 80:30080/TCP")
    assert results["curl-every-node"].status == PASSED  # the nodePort it has works
    assert results["curl-host"].status == FAILED        # but 31001 is what the host maps


def test_a_target_port_nothing_listens_on_fails_endpoints_and_curl():
    def wrong_port(obj):
        if obj["kind"] == "Service":
            obj["spec"]["ports"][0]["targetPort"] = 8080
    c = Cluster("clusterip").setup().apply("clusterip/service-test01.yml", edit=wrong_port)
    results = grade(c)
    assert results["endpoints"].found == "endpoints on port 8080: check targetPort"
    assert results["curl-cluster-ip"].status == FAILED


def test_unready_pods_give_no_endpoints():
    c = Cluster("clusterip")
    c.apply("common/web-echo-config.yml", "common/nginx-test01.yml")
    docs = {d.kind: d for d in __import__("labs").manifests.load("common/deploy-test01.yml")}
    c._deployment(dict(docs["Deployment"].obj), ready=0)
    c.apply("clusterip/service-test01.yml")
    results = grade(c)
    assert results["web-ready"].found == "0/3 ready"
    assert results["endpoints"].found == "ENDPOINTS <none>: the selector matches no ready pod"


def test_loadbalancer_without_external_ips_is_pending():
    def no_ips(obj):
        if obj["kind"] == "Service":
            del obj["spec"]["externalIPs"]
    c = Cluster("loadbalancer").setup().apply("loadbalancer/service-test01.yml", edit=no_ips)
    results = grade(c)
    assert results["external-ip"].found == "EXTERNAL-IP <pending>"
    assert results["curl-external-ip"].found.startswith("web-service-loadbalancer has no externalIP")


def test_an_externalname_to_an_unresolvable_short_name_fails():
    def short(obj):
        if obj["spec"].get("type") == "ExternalName":
            obj["spec"]["externalName"] = "web-service"
    c = Cluster("externalname").setup().apply("externalname/service-test04.yml", edit=short)
    results = grade(c)
    assert results["external-name"].found == "externalName web-service"
    assert results["external-name"].expected == (
        "externalName web-service.lab-externalname.svc.cluster.local")


def test_a_missing_client_pod_fails_once_and_the_probes_wait_for_it():
    c = Cluster("clusterip").apply("common/web-echo-config.yml", "common/deploy-test01.yml",
                                   "clusterip/service-test01.yml")
    results = grade(c)
    assert results["client-ready"].found == "no pod nginx01 in lab-clusterip"
    assert results["client-ready"].hint
    assert results["curl-dns"].status == BLOCKED
    assert results["curl-dns"].found == (
        "not judged: waits for The client pod nginx01 is running and ready")


def test_a_probe_that_could_not_run_fails_with_its_error():
    c = Cluster("clusterip").solve()
    snap = c.probe()
    for key in snap.probes:
        snap.probes[key] = {"error": "pod/nginx01: the probe could not run"}
    results = {r.id: r for r in evaluate(c.lab, snap)}
    assert results["curl-dns"].found == "pod/nginx01: the probe could not run"


def test_host_probes_are_skipped_where_node_ports_are_not_mapped():
    c = Cluster("nodeport").solve()
    c.snap.host_ports = False
    results = grade(c)
    assert results["curl-host"].status == SKIPPED
    assert all(r.status == PASSED for k, r in results.items() if k != "curl-host")


def test_load_balancing_is_visible_in_what_a_passing_curl_found():
    results = grade(Cluster("clusterip").solve())
    found = results["curl-cluster-ip"].found
    assert "-> 200 from nhmwn×2, t4v8q×2, w9zj2×2" in found


def test_the_terminal_table_shows_expected_found_and_hint():
    c = Cluster("nodeport").setup()
    rep = Report("nodeport", "NodePort", "lab-nodeport", "kind", evaluate(c.lab, c.probe()))
    console = Console(record=True, width=200, color_system=None)
    reports.print_reports([rep], console)
    text = console.export_text()
    assert "FAIL" in text and "PASS" in text
    assert "expected: Service web-service-nodeport" not in text  # the real wording follows
    assert ("nodeport #3 The Service web-service-nodeport exists with type NodePort\n"
            "  expected: a Service named web-service-nodeport\n"
            "  found:    no Service web-service-nodeport in lab-nodeport (Services there: none)\n"
            "  hint:     Set spec.type: NodePort.") in text
    assert text.count("\n  hint: ") == 1  # the waiting objectives do not repeat it
    assert text.count("WAIT") == 6 and "not judged: waits for The Service web-service-nodeport" in text
    assert "nodeport: 2 passed, 1 failed, 6 waiting (0.0 s, 0 API requests)" in text


# -- the headless Service and its StatefulSet ----------------------------------------------------
def headless_with(edit=None, ready: int | None = None) -> Cluster:
    """The headless lab solved, with ``edit`` applied to its manifests (and ``ready`` web pods)."""
    c = Cluster("headless")
    c.apply("common/web-echo-config.yml", "common/nginx-test01.yml")
    sts = next(d.obj for d in __import__("labs").manifests.load("headless/statefulset-web.yml"))
    sts = __import__("copy").deepcopy(sts)
    if edit:
        edit(sts)
    c._statefulset(sts, ready=ready)
    return c.apply("headless/service-headless.yml", edit=edit)


def test_headless_solved_resolves_every_pod_and_each_by_name():
    c = headless_with()
    results = grade(c)
    assert statuses(results) == {k: PASSED for k in results}
    ips = sorted(c.snap.pods[f"web-{i}"]["status"]["podIP"] for i in range(3))
    assert results["dns-records"].found == f"web-headless -> {', '.join(ips)} (3 A record(s))"
    assert results["dns-pod-names"].found.startswith("web-0.web-headless -> 10.244.")
    assert results["dns-pod-names"].found.count("; ") == 2
    assert results["headless"].found == (
        "CLUSTER-IP None; serviceName of the StatefulSet web: web-headless")
    assert "-> 200 from web-0×2, web-1×2, web-2×2" in results["curl-dns"].found


def test_headless_unsolved_passes_the_setup_and_fails_the_service_with_hints():
    results = grade(Cluster("headless").setup())
    assert statuses(results) == {
        "web-ready": PASSED, "client-ready": PASSED, "service-type": FAILED, "headless": BLOCKED,
        "selector": BLOCKED, "endpoints": BLOCKED, "dns-records": BLOCKED,
        "dns-pod-names": BLOCKED, "curl-dns": BLOCKED}
    assert all(r.hint for r in results.values() if r.status == FAILED)
    assert results["service-type"].found == (
        "no Service web-headless in lab-headless (Services there: none)")


def with_vip(obj):
    """The headless lab's Service without clusterIP: None (so it gets a virtual IP)."""
    if obj["kind"] == "Service":
        del obj["spec"]["clusterIP"]


def test_a_service_with_a_cluster_ip_is_not_headless():
    c = headless_with(with_vip)
    vip = c.snap.services["web-headless"]["spec"]["clusterIP"]
    results = grade(c)
    assert results["headless"].found == f"CLUSTER-IP {vip}"
    assert results["headless"].expected == (
        "type ClusterIP with CLUSTER-IP None (a headless Service)")
    assert results["dns-records"].status == FAILED
    assert results["dns-records"].found == (
        f"web-headless -> {vip}: the Service's cluster IP, not the pods (the Service is not "
        "headless)")
    assert results["dns-pod-names"].found == (
        "web-0.web-headless.lab-headless.svc.cluster.local: lookup failed: name not found"
        " - web-headless is not headless, so its pods get no names in DNS")
    # the Service itself works: curl goes through the virtual IP
    assert results["curl-dns"].status == PASSED and results["endpoints"].status == PASSED


def test_a_statefulset_naming_another_service_gets_no_pod_names():
    def elsewhere(obj):
        if obj["kind"] == "StatefulSet":
            obj["spec"]["serviceName"] = "web-other"
    results = grade(headless_with(elsewhere))
    assert results["headless"].found == "serviceName of the StatefulSet web: web-other"
    assert results["dns-pod-names"].found == (
        "web-0.web-headless.lab-headless.svc.cluster.local: lookup failed: name not found"
        " - the StatefulSet web names the Service web-other in spec.serviceName")
    # the Service's own name still lists the pods: only the per-pod names need serviceName
    assert results["dns-records"].status == PASSED


def test_a_headless_selector_matching_nothing_gives_no_records():
    def wrong(obj):
        if obj["kind"] == "Service":
            obj["spec"]["selector"] = {"app": "web"}
    results = grade(headless_with(wrong))
    assert results["selector"].found == "selector app=web matches none of 3 pod(s)"
    assert results["endpoints"].found == "ENDPOINTS <none>: the selector matches no ready pod"
    assert results["dns-records"].found == "lookup failed: name not found"
    assert results["dns-records"].expected.startswith(
        "web-headless resolving to the 3 ready pod(s) of web, one A record each: 10.244.")
    assert results["dns-pod-names"].status == FAILED
    assert results["curl-dns"].status == FAILED


def test_an_unready_pod_has_no_a_record():
    c = headless_with(ready=2)
    results = grade(c)
    assert results["web-ready"].found == "2/3 ready" and results["web-ready"].status == FAILED
    ready = sorted(c.snap.pods[n]["status"]["podIP"] for n in ("web-0", "web-1"))
    assert results["dns-records"].status == PASSED
    assert results["dns-records"].found == f"web-headless -> {', '.join(ready)} (2 A record(s))"
    assert results["dns-pod-names"].found.count("->") == 2  # web-2 is not asked about


def test_dns_records_that_miss_a_ready_pod_fail():
    c = headless_with()
    snap = c.probe()
    key = "nginx01 dns web-headless"
    snap.probes[key]["addresses"] = snap.probes[key]["addresses"][:2]
    results = {r.id: r for r in evaluate(c.lab, snap)}
    assert results["dns-records"].status == FAILED
    assert results["dns-records"].found.endswith("(2 A record(s))")


def test_a_pod_name_resolving_to_another_pod_fails():
    c = headless_with()
    snap = c.probe()
    key = "nginx01 dns web-0.web-headless.lab-headless.svc.cluster.local"
    other = c.snap.pods["web-1"]["status"]["podIP"]
    snap.probes[key]["addresses"] = [other]
    result = {r.id: r for r in evaluate(c.lab, snap)}["dns-pod-names"]
    ip = c.snap.pods["web-0"]["status"]["podIP"]
    assert result.found == (f"web-0.web-headless.lab-headless.svc.cluster.local -> {other}, "
                            f"but web-0 has {ip}")


def test_headless_findings_in_korean():
    r = grade(headless_with(with_vip))["headless"].in_lang("ko")
    assert r.expected == "타입 ClusterIP, CLUSTER-IP None (헤드리스 Service)"
    assert r.title == "web-headless가 헤드리스(CLUSTER-IP None)이고 StatefulSet의 serviceName이다"


def test_a_report_with_objectives_waiting_is_not_passed():
    """`make check` exits 1 unless every objective passed or was skipped."""
    waiting = Report("nodeport", "NodePort", "lab-nodeport", "kind",
                     [Result("a", "A", PASSED), Result("b", "B", BLOCKED, needs=("a",))])
    assert not waiting.passed
    assert Report("nodeport", "NodePort", "lab-nodeport", "kind",
                  [Result("a", "A", PASSED), Result("c", "C", SKIPPED)]).passed


def _fake_probes(monkeypatch, c_pods, routed_after: int, exit_code: int = 7):
    """probing.run answering "could not connect" until its `routed_after`-th call, then served
    by one of the lab's web pods."""
    from labs import grading, probing

    calls: list[list] = []

    def run(kube, namespace, pod, probes, **_):
        calls.append(list(probes))
        ok = len(calls) >= routed_after
        web = sorted(n for n in c_pods() if n.startswith("deploy-test01-"))[0]
        return [[probing.HttpResult(p.url, ok=ok, status=200 if ok else 0,
                                    pod=web if ok else None,
                                    exit_code=0 if ok else exit_code,
                                    error="" if ok else "curl: (7) Failed to connect")
                 for _ in range(p.count)] if isinstance(p, probing.Http) else
                probing.DnsResult(p.name, True, addresses=["10.96.0.10"]) for p in probes]

    monkeypatch.setattr(probing, "run", run)
    monkeypatch.setattr(grading, "SETTLE_DELAY", 0.01)
    monkeypatch.setattr(grading, "SETTLE_SECONDS", 0.2)
    return calls


def test_a_service_kube_proxy_has_not_routed_yet_is_probed_again(monkeypatch):
    from labs import grading

    c = Cluster("clusterip").solve()
    calls = _fake_probes(monkeypatch, lambda: c.snap.pods, routed_after=3)
    grading.run_probes(None, c.lab, c.snap)
    assert len(calls) == 3  # two refused rounds, then kube-proxy's rules are in place
    results = {r.id: r for r in evaluate(c.lab, c.snap)}
    assert results["curl-cluster-ip"].status == PASSED


def test_a_service_that_never_answers_fails_after_the_retries(monkeypatch):
    from labs import grading

    c = Cluster("clusterip").solve()
    calls = _fake_probes(monkeypatch, lambda: c.snap.pods, routed_after=99)
    grading.run_probes(None, c.lab, c.snap)
    assert len(calls) > 3  # tried again until the time allowed ran out
    assert {r.id: r.status for r in evaluate(c.lab, c.snap)}["curl-cluster-ip"] == FAILED


def test_without_ready_endpoints_a_refused_probe_is_not_retried(monkeypatch):
    from labs import grading

    c = Cluster("clusterip").solve()
    calls = _fake_probes(monkeypatch, lambda: c.snap.pods, routed_after=99)
    c.snap.endpointslices = []
    grading.run_probes(None, c.lab, c.snap)
    assert len(calls) == 1


# -- failure paths, word for word (what a learner reads) ---------------------------------------------
def externalname_as(spec):
    """The ExternalName lab with the learner's Service written as ``spec``."""
    def edit(obj):
        if obj["metadata"]["name"] == "web-service-externalname":
            obj["spec"] = spec
    return Cluster("externalname").setup().apply("externalname/service-test04.yml", edit=edit)


def test_externalname_solved_shows_the_alias_and_the_cname_chain():
    c = Cluster("externalname").solve()
    ip = c.snap.services["web-service"]["spec"]["clusterIP"]
    results = grade(c)
    target = "web-service.lab-externalname.svc.cluster.local"
    assert results["external-name"].found == f"EXTERNAL-IP {target}"
    assert results["no-cluster-ip"].found == "CLUSTER-IP <none>"
    assert results["dns-cname"].found == f"web-service-externalname -> {target} -> {ip}"


def test_an_externalname_written_as_a_cluster_ip_service_fails_with_what_it_is():
    c = externalname_as({"selector": {"app.kubernetes.io/name": "web-deploy"},
                         "ports": [{"port": 80}]})
    own = c.snap.services["web-service-externalname"]["spec"]["clusterIP"]
    target = c.snap.services["web-service"]["spec"]["clusterIP"]
    results = grade(c)
    found = {k: (r.status, r.expected, r.found) for k, r in results.items()}
    assert found["service-type"] == (FAILED, "type ExternalName", "type ClusterIP")
    assert found["external-name"] == (FAILED, "type ExternalName", "type ClusterIP")
    assert found["no-cluster-ip"] == (FAILED, "CLUSTER-IP <none>", f"CLUSTER-IP {own}")
    assert found["dns-cname"] == (
        FAILED, f"web-service-externalname resolving to {target} (web-service)",
        f"web-service-externalname -> {own} "
        "(web-service-externalname.lab-externalname.svc.cluster.local)")


def test_an_externalname_to_another_name_fails_with_both_names():
    results = grade(externalname_as({"type": "ExternalName", "externalName": "example.com"}))
    r = results["external-name"]
    assert (r.expected, r.found) == (
        "externalName web-service.lab-externalname.svc.cluster.local", "externalName example.com")


def test_a_failed_lookup_fails_the_dns_objective_with_the_error():
    c = Cluster("externalname").solve()
    ip = c.snap.services["web-service"]["spec"]["clusterIP"]
    snap = c.probe()
    snap.probes["nginx01 dns web-service-externalname"] = {
        "name": "web-service-externalname", "ok": False, "addresses": [], "canonical": "",
        "error": "connection timed out; no servers could be reached"}
    r = {r.id: r for r in evaluate(c.lab, snap)}["dns-cname"]
    assert (r.status, r.expected, r.found) == (
        FAILED, f"web-service-externalname resolving to {ip}",
        "lookup failed: connection timed out; no servers could be reached")


def loadbalancer_with(edit):
    return Cluster("loadbalancer").setup().apply("loadbalancer/service-test01.yml", edit=edit)


def test_external_ips_that_are_no_node_fail_naming_the_nodes():
    def elsewhere(obj):
        obj["spec"]["externalIPs"] = ["192.0.2.10"]
    r = grade(loadbalancer_with(elsewhere))["external-ip"]
    assert (r.status, r.expected, r.found) == (
        FAILED, "a node's address in externalIPs (172.18.0.2, 172.18.0.3, 172.18.0.4)",
        "externalIPs 192.0.2.10: no node has that address")


def test_external_ip_is_the_node_address_or_what_a_load_balancer_reports():
    assert grade(Cluster("loadbalancer").solve())["external-ip"].found == "EXTERNAL-IP 172.18.0.2"
    for ingress, shown in (([{"ip": "203.0.113.7"}], "203.0.113.7"),
                           ([{"hostname": "lb.example.com"}], "lb.example.com"),
                           ([{"ip": "203.0.113.7"}, {"hostname": "lb.example.com"}],
                            "203.0.113.7,lb.example.com")):
        c = Cluster("loadbalancer").solve()
        svc = c.snap.services["web-service-loadbalancer"]
        svc["status"]["loadBalancer"]["ingress"] = ingress
        del svc["spec"]["externalIPs"]
        results = grade(c)
        r = results["external-ip"]
        assert (r.status, r.found) == (PASSED, f"EXTERNAL-IP {shown}")
        if "ip" in ingress[0]:  # curl goes to the load balancer's address
            assert results["curl-external-ip"].expected == (
                "6/6 answers 200 from pods of deploy-test01 for http://203.0.113.7:80/")


def test_a_headless_lab_service_of_another_type_fails_with_its_type():
    def node_port(obj):
        if obj["kind"] == "Service":
            obj["spec"]["type"] = "NodePort"
            del obj["spec"]["clusterIP"]
    r = grade(headless_with(node_port))["headless"]
    assert (r.status, r.expected, r.found) == (
        FAILED, "type ClusterIP with CLUSTER-IP None (a headless Service)", "type NodePort")


def test_a_headless_service_without_its_statefulset_names_what_is_missing():
    c = Cluster("headless").apply("common/web-echo-config.yml", "common/nginx-test01.yml",
                                  "headless/service-headless.yml")
    results = grade(c)
    r = results["headless"]  # waits for the objective that says the StatefulSet is missing
    assert (r.status, r.needs) == (BLOCKED, ("web-ready",))
    assert (results["web-ready"].status, results["web-ready"].found) == (
        FAILED, "no StatefulSet web in lab-headless")


def test_a_statefulset_without_service_name_fails_the_headless_objective():
    def unnamed(obj):
        if obj["kind"] == "StatefulSet":
            del obj["spec"]["serviceName"]
    r = grade(headless_with(unnamed))["headless"]
    assert (r.status, r.expected, r.found) == (
        FAILED, "serviceName of the StatefulSet web: web-headless",
        "serviceName of the StatefulSet web: <none>")


def test_statefulset_pods_are_in_ordinal_order_web_2_before_web_10():
    from labs.grading import _ready_names
    names = ["web-10", "web-2", "web-0", "my-web-10", "my-web-9", "nginx01"]
    pods = [{"metadata": {"name": n}, "status": {"conditions": [
        {"type": "Ready", "status": "True"}]}} for n in names]
    assert _ready_names(pods) == ["my-web-9", "my-web-10", "nginx01", "web-0", "web-2", "web-10"]


def test_no_ready_pod_means_no_a_record_is_expected():
    c = headless_with(ready=0)
    r = grade(c)["dns-records"]
    assert r.status == FAILED
    assert r.expected == ("web-headless resolving to the 0 ready pod(s) of web, one A record "
                          "each: none")


def test_records_without_the_virtual_ip_pass_even_on_a_service_with_one():
    """The objective is about what DNS answers: the ready pods' IPs and no virtual IP."""
    c = headless_with(with_vip)
    snap = c.probe()
    ips = sorted(c.snap.pods[f"web-{i}"]["status"]["podIP"] for i in range(3))
    snap.probes["nginx01 dns web-headless"]["addresses"] = ips
    r = {r.id: r for r in evaluate(c.lab, snap)}["dns-records"]
    assert (r.status, r.found) == (PASSED, f"web-headless -> {', '.join(ips)} (3 A record(s))")


def test_a_service_port_on_another_protocol_or_number_fails_with_the_ports():
    for port, shown in (({"port": 80, "protocol": "UDP"}, "80/UDP"),
                        ({"port": 8080, "targetPort": 80}, "8080/TCP")):
        def edit(obj, port=port):
            if obj["kind"] == "Service":
                obj["spec"]["ports"] = [port]
        r = grade(Cluster("clusterip").setup().apply("clusterip/service-test01.yml",
                                                     edit=edit))["service-port"]
        assert (r.status, r.expected, r.found) == (FAILED, "PORT(S) 80/TCP", f"PORT(S) {shown}")


def test_terminating_pods_are_not_counted():
    c = Cluster("clusterip").solve()
    doomed = sorted(n for n in c.snap.pods if n.startswith("deploy-test01-"))[0]
    c.snap.pods[doomed]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert grade(c)["selector"].found == (
        "selector app.kubernetes.io/name=web-deploy matches 2 pod(s)")


def test_pod_names_that_do_not_resolve_say_what_was_expected():
    def elsewhere(obj):
        if obj["kind"] == "StatefulSet":
            obj["spec"]["serviceName"] = "web-other"
    r = grade(headless_with(elsewhere))["dns-pod-names"]
    assert r.expected == ("each ready pod of web resolving by name to its own IP "
                          "(<pod>.web-headless.lab-headless.svc.cluster.local)")


# -- collecting through the API (a recorded cluster behind the calls the grader makes) ---------------
class RecordedKube:
    """The Kube calls the grader makes, answered from a recorded Cluster, counted."""

    def __init__(self, cluster: Cluster) -> None:
        self.c, self.requests, self.paths, self.execs = cluster, 0, [], []

    def get(self, path):
        self.requests += 1
        self.paths.append(path)
        return {"metadata": {"name": self.c.lab.namespace}} if self.c.snap.namespace_exists \
            else None

    def list(self, path):
        self.requests += 1
        self.paths.append(path)
        snap = self.c.snap
        return {"nodes": snap.nodes, "services": list(snap.services.values()),
                "pods": list(snap.pods.values()), "deployments": list(snap.deployments.values()),
                "statefulsets": list(snap.statefulsets.values()),
                "endpointslices": snap.endpointslices}[path.rsplit("/", 1)[1]]


@pytest.fixture
def recorded(monkeypatch):
    """grade() against a recorded cluster: probing.run answers from it, one request per exec."""
    from labs import grading, probing

    def run(kube, namespace, pod, probes):
        kube.requests += 1
        kube.execs.append((namespace, pod, list(probes)))
        return [probing.DnsResult(**kube.c._resolve(p.name)) if isinstance(p, probing.Dns) else
                [probing.HttpResult(**kube.c._get(p.url, pod, i)) for i in range(p.count)]
                for p in probes]
    monkeypatch.setattr(grading.probing, "run", run)

    def graded(cluster, host_ports=False):
        kube = RecordedKube(cluster)
        return kube, grading.grade(kube, cluster.lab, host_ports=host_ports, cluster="kind")
    return graded


@pytest.mark.parametrize("lab", LABS)
def test_grading_through_the_api_reads_seven_lists_and_execs_once(recorded, lab):
    kube, report = recorded(Cluster(lab).solve())
    ns = f"/namespaces/lab-{lab}"
    assert kube.paths == [f"/api/v1{ns}", "/api/v1/nodes", f"/api/v1{ns}/services",
                          f"/api/v1{ns}/pods", f"/apis/apps/v1{ns}/deployments",
                          f"/apis/apps/v1{ns}/statefulsets",
                          f"/apis/discovery.k8s.io/v1{ns}/endpointslices"]
    [(namespace, pod, probes)] = kube.execs
    assert (namespace, pod) == (f"lab-{lab}", "nginx01")
    assert probes and len(probes) == len(set(map(repr, probes)))  # each probe once
    assert report.api_requests == 8 and (report.lab, report.cluster) == (lab, "kind")
    checks = {o.id: o.check for o in catalog.load(lab).objectives}
    assert {r.id: r.status for r in report.results} == {
        i: SKIPPED if c == "http-host" else PASSED for i, c in checks.items()}


def test_grading_a_missing_namespace_reads_two_things_and_execs_nothing(recorded):
    c = Cluster("clusterip")
    c.snap.namespace_exists = False
    kube, report = recorded(c)
    assert (kube.paths, kube.execs, report.api_requests) == (
        ["/api/v1/namespaces/lab-clusterip", "/api/v1/nodes"], [], 2)
    first, *rest = report.results
    assert first.status == FAILED and {r.status for r in rest} == {BLOCKED}


def test_no_exec_into_a_client_pod_that_is_not_ready(recorded):
    c = Cluster("clusterip").solve()
    c.snap.pods["nginx01"]["status"]["conditions"][0]["status"] = "False"
    kube, report = recorded(c)
    assert kube.execs == [] and report.api_requests == 7
    results = {r.id: r for r in report.results}
    r = results["curl-dns"]  # waits for the objective that says the client is not ready
    assert (r.status, r.needs) == (BLOCKED, ("client-ready",))
    assert (results["client-ready"].status, results["client-ready"].found) == (
        FAILED, "phase Running, not ready")


def test_an_exec_that_fails_fails_every_probe_with_its_error(recorded, monkeypatch):
    from labs import grading
    from labs.errors import ProbeError

    def broken(kube, namespace, pod, probes):
        kube.requests += 1
        raise ProbeError("pod/nginx01: exec failed: container not found (\"nginx-test01\")")
    monkeypatch.setattr(grading.probing, "run", broken)
    _, report = recorded(Cluster("clusterip").solve())
    probes = {o.id for o in Cluster("clusterip").lab.objectives if o.check == "http"}
    for r in report.results:
        if r.id in probes:
            assert (r.status, r.found) == (
                FAILED, "pod/nginx01: exec failed: container not found (\"nginx-test01\")")
        else:
            assert r.status == PASSED


def test_host_probes_run_from_this_machine_when_node_ports_are_mapped(recorded, monkeypatch):
    from labs import grading, probing
    asked = []

    def from_host(url, count, timeout):
        asked.append((url, count))
        return [probing.HttpResult(**c._get(url, "host", i)) for i in range(count)]
    monkeypatch.setattr(grading.probing, "http_from_host", from_host)
    c = Cluster("nodeport").solve()
    _, report = recorded(c, host_ports=True)
    assert asked == [("http://127.0.0.1:31001/", 6)]
    assert {r.id: r.status for r in report.results}["curl-host"] == PASSED


def words(results) -> dict[str, tuple[str, str, str]]:
    return {k: (r.status, r.expected, r.found) for k, r in results.items()}


def test_the_setup_objectives_word_for_word():
    c = Cluster("clusterip").solve()
    client = c.snap.pods["nginx01"]
    found = words(grade(c))
    assert found["web-ready"] == (PASSED, "", "3/3 ready")
    assert found["client-ready"] == (
        PASSED, "", f"{client['status']['podIP']} on {client['spec']['nodeName']}")
    assert found["service-type"] == (PASSED, "", "type ClusterIP")
    missing = words(grade(Cluster("clusterip").apply("clusterip/service-test01.yml")))
    assert missing["web-ready"] == (FAILED, "Deployment deploy-test01 with 3 ready pods",
                                    "no Deployment deploy-test01 in lab-clusterip")
    assert missing["client-ready"] == (FAILED, "pod nginx01 ready", "no pod nginx01 in lab-clusterip")
    pending = Cluster("clusterip").solve()
    pending.snap.pods["nginx01"]["status"].update(
        phase="Pending", conditions=[{"type": "Ready", "status": "False"}])
    assert words(grade(pending))["client-ready"] == (
        FAILED, "pod nginx01 ready", "phase Pending, not ready")
    two = Cluster("clusterip")
    two.apply("common/web-echo-config.yml", "common/nginx-test01.yml")
    deploy = next(d.obj for d in __import__("labs").manifests.load("common/deploy-test01.yml")
                  if d.kind == "Deployment")
    two._deployment(__import__("copy").deepcopy(deploy), ready=2)
    assert words(grade(two))["web-ready"] == (FAILED, "3 ready pods", "2/3 ready")


def test_more_than_three_endpoints_are_shown_as_kubectl_shows_them():
    def five(obj):
        if obj["kind"] == "Deployment":
            obj["spec"]["replicas"] = 5
    c = Cluster("clusterip").apply("common/web-echo-config.yml", "common/nginx-test01.yml")
    c.apply("common/deploy-test01.yml", "clusterip/service-test01.yml", edit=five)
    ips = sorted(p["status"]["podIP"] for n, p in c.snap.pods.items() if n != "nginx01")
    r = grade(c)["endpoints"]
    assert (r.status, r.found) == (PASSED, f"ENDPOINTS {ips[0]}:80,{ips[1]}:80,{ips[2]}:80"
                                            " + 2 more...")


def test_endpoints_missing_say_why():
    c = Cluster("clusterip").solve()
    c.snap.endpointslices = []
    assert grade(c)["endpoints"].found == "ENDPOINTS <none>: no EndpointSlice yet"

    def unnamed(obj):
        if obj["kind"] == "Service":
            obj["spec"]["ports"][0]["targetPort"] = "web"
    c = Cluster("clusterip").setup().apply("clusterip/service-test01.yml", edit=unnamed)
    assert grade(c)["endpoints"].found == (
        "ENDPOINTS <none>: the targetPort names no port of the pods")


def curl_answers(edit):
    """The solved ClusterIP lab, with ``edit`` applied to each answer curl got."""
    c = Cluster("clusterip").solve()
    snap = c.probe()
    ip = c.snap.services["web-service"]["spec"]["clusterIP"]
    for answer in snap.probes[f"nginx01 GET http://{ip}:80/ x6"]:
        edit(answer)
    return ip, {r.id: r for r in evaluate(c.lab, snap)}["curl-cluster-ip"]


def test_curl_answers_other_than_200_fail_with_the_status():
    ip, r = curl_answers(lambda a: a.update(status=503))
    assert (r.status, r.expected, r.found) == (
        FAILED, f"6/6 answers 200 from pods of deploy-test01 for http://{ip}:80/",
        f"0/6 answered; http://{ip}:80/: HTTP 503")
    ip, r = curl_answers(lambda a: a.update(ok=False, status=0, error=""))
    assert r.found == f"0/6 answered; http://{ip}:80/: no answer"


def test_curl_answered_by_a_pod_of_another_workload_fails():
    ip, r = curl_answers(lambda a: a.update(pod="impostor-7d4b9"))
    assert (r.status, r.found) == (FAILED,
                                   "answered by impostor-7d4b9, not a pod of deploy-test01")


def test_curl_to_every_node_reports_each_node():
    r = grade(Cluster("nodeport").solve())["curl-every-node"]
    parts = r.found.split("; ")
    assert [p.split(" ->")[0] for p in parts] == [
        "http://172.18.0.2:31001/", "http://172.18.0.3:31001/", "http://172.18.0.4:31001/"]
