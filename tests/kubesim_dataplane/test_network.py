"""The source material's commands through kubectl exec, compared with what a kind cluster
prints (modulo names, IPs, dates and timings), and the network model's behaviour."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request
from collections import Counter

import pytest
from conftest import NS, Cluster, wait_until

SEED_CURL_V = """\
*   Trying IP:80...
* Connected to IP (IP) port 80
* using HTTP/1.x
> GET / HTTP/1.1
> Host: IP
> User-Agent: curl/8.14.1
> Accept: */*
>
< HTTP/1.1 200 OK
< Server: nginx/1.29.4
< Date: DATE
< Content-Type: text/html
< Content-Length: 615
< Last-Modified: Tue, 09 Dec 2025 18:28:10 GMT
< Connection: keep-alive
< ETag: "69386a3a-267"
< Accept-Ranges: bytes
<
{ [615 bytes data]
* Connection #0 to host IP left intact
"""


def cluster_ip(c: Cluster, svc: str) -> str:
    return c.jsonpath("svc", svc, "{.spec.clusterIP}")


def test_source_curl_verbose_to_cluster_ip(cluster: Cluster) -> None:
    ip = cluster_ip(cluster, "web-service")
    done = cluster.kubectl("exec", "nginx01", "--", "curl", "-v", ip)
    assert done.stdout.startswith("<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!")
    assert len(done.stdout.encode()) == 615
    trace = done.stderr.replace("\r", "").replace(ip, "IP")
    trace = re.sub(r"Date: .*GMT", "Date: DATE", trace)
    trace = "\n".join(line.rstrip() for line in trace.splitlines()) + "\n"
    assert trace == SEED_CURL_V


def test_curl_errors_and_exit_codes(cluster: Cluster) -> None:
    empty = cluster_ip(cluster, "empty-service")
    done = cluster.sh(f"curl -sS {empty}; echo rc=$?; curl -sS http://wrong-port; echo rc=$?; "
                      "curl -sS http://no-such-svc; echo rc=$?; "
                      f"curl -sS -m 1 {empty}:81; echo rc=$?", check=False)
    assert done.stdout.splitlines() == ["rc=7", "rc=7", "rc=6", "rc=28"]
    err = done.stderr.splitlines()
    assert re.fullmatch(rf"curl: \(7\) Failed to connect to {empty} port 80 after \d+ ms: "
                        r"Could not connect to server", err[0])
    assert re.fullmatch(r"curl: \(7\) Failed to connect to wrong-port port 80 after \d+ ms: "
                        r"Could not connect to server", err[1])
    assert err[2] == "curl: (6) Could not resolve host: no-such-svc"
    assert re.fullmatch(r"curl: \(28\) Connection timed out after 10\d\d milliseconds", err[3])


def test_write_out_head_and_dump_header(cluster: Cluster) -> None:
    ip = cluster_ip(cluster, "web-service")
    out = cluster.sh(f"curl -s -o /tmp/b -D /tmp/h -w '%{{http_code}} %{{remote_ip}} "
                     f"%{{size_download}}\\n' http://web-service/; cat /tmp/h | head -1; "
                     f"wc -c < /tmp/b; curl -sI {ip}/nope | head -1; "
                     f"curl -s -o /dev/null -w '%{{http_code}}' {ip}/missing").stdout
    lines = out.split("\n")
    assert lines[0] == f"200 {ip} 615"
    assert lines[1] == "HTTP/1.1 200 OK"  # (text mode folds the CR)
    assert lines[2].strip() == "615"
    assert lines[3] == "HTTP/1.1 404 Not Found"
    assert lines[4] == "404"


def test_progress_meter_when_output_is_not_a_terminal(cluster: Cluster) -> None:
    done = cluster.sh("curl http://web-service/ > /dev/null")
    assert done.stderr.startswith("  % Total    % Received % Xferd  Average Speed   Time    "
                                  "Time     Time  Current\n")
    assert re.search(r"\n100   615  100   615    0     0 +[\d.]+[kM]      0 --:--:-- "
                     r"--:--:-- --:--:-- +[\d.]+[kM]\n$", done.stderr), done.stderr


def test_echo_config_names_the_pod_and_client(cluster: Cluster) -> None:
    pods = set(cluster.kubectl("get", "pods", "-l", "app.kubernetes.io/name=web-deploy", "-o",
                               "jsonpath={.items[*].metadata.name}").stdout.split())
    client_ip = cluster.jsonpath("pod", "nginx01", "{.status.podIP}")
    out = cluster.sh("curl -si http://web-service-nodeport/a?b=1").stdout
    m = re.search(r"Host=web-service-nodeport Path=/a\?b=1 From=(\S+) ClientIP=(\S+) XFF=\n$",
                  out)
    assert m and m.group(1) in pods and m.group(2) == client_ip, out
    assert f"X-Pod-Name: {m.group(1)}\n" in out
    assert "Content-Type: text/plain\n" in out


def test_load_balancing_is_uniformly_random(cluster: Cluster) -> None:
    """3,000 requests over 3 endpoints, in the order they were answered.

    Counts: each within 5 standard deviations of 1,000 (binomial, p = 1/3: sd = 25.8).
    Order: with a uniform random pick, each request goes to the pod of the request before it
    with p = 1/3 whatever came earlier, so the repeats among the 2,999 consecutive pairs are
    binomial too (mean 999.7, sd = 25.8) and must lie within 5 sd of that. Round robin (equal
    counts, a perfectly periodic order) repeats 0 times; round robin over an order reshuffled
    each round repeats about 333 times. A correct model fails a bound about once in a million
    runs."""
    out = cluster.sh("i=0; while [ $i -lt 3000 ]; do curl -s web-service-nodeport; "
                     "i=$((i+1)); done | sed 's/.*From=\\([^ ]*\\).*/\\1/'",
                     timeout=180).stdout
    order = out.split()
    counts = Counter(order)
    assert len(counts) == 3 and len(order) == 3000, counts
    for pod, n in counts.items():
        assert 871 <= n <= 1129, (pod, counts)
    repeats = sum(a == b for a, b in zip(order, order[1:], strict=False))
    assert 871 <= repeats <= 1128, (repeats, "consecutive requests to the same pod", counts)


def test_client_ip_affinity_sticks_to_one_pod(cluster: Cluster) -> None:
    out = cluster.sh("for i in $(seq 200); do curl -s sticky; done | "
                     "sed 's/.*From=\\([^ ]*\\).*/\\1/' | sort | uniq -c").stdout
    assert len(out.splitlines()) == 1 and out.split()[0] == "200"
    other = cluster.sh("for i in $(seq 30); do curl -s sticky; done | sort -u | wc -l",
                       pod="tools").stdout
    assert other.strip() == "1"


def test_every_node_answers_on_the_node_port(cluster: Cluster) -> None:
    ips = cluster.kubectl("get", "nodes", "-o", "jsonpath={.items[*].status.addresses[?(@.type"
                          "=='InternalIP')].address}", ns=None).stdout.split()
    assert len(ips) == 3
    script = "; ".join(f"curl -s -o /dev/null -w '%{{http_code}}\\n' {ip}:31001" for ip in ips)
    assert cluster.sh(script).stdout.split() == ["200"] * 3
    assert cluster.sh(f"curl -sS {ips[1]}:31999", check=False).returncode == 7


def test_pod_to_pod_by_ip_and_ping(cluster: Cluster) -> None:
    ip = cluster.kubectl("get", "pods", "-l", "app=plain-web", "-o",
                         "jsonpath={.items[0].status.podIP}").stdout
    assert cluster.sh(f"curl -s -o /dev/null -w '%{{http_code}}' {ip}").stdout == "200"
    assert cluster.sh(f"curl -sS {ip}:8080", check=False).returncode == 7
    done = cluster.sh(f"ping -c 1 {ip}", pod="tools")
    assert re.search(rf"64 bytes from {re.escape(ip)}: icmp_seq=1 ttl=\d+ time=", done.stdout)
    svc = cluster_ip(cluster, "web-service")
    done = cluster.sh(f"ping -c 1 -W 1 {svc}", pod="tools", check=False)
    assert done.returncode == 1
    assert "1 packets transmitted, 0 received, 100% packet loss" in done.stdout


def test_dns_records(cluster: Cluster) -> None:
    web = cluster_ip(cluster, "web-service")
    out = cluster.sh("getent hosts web-service; getent hosts web-service.dp; "
                     "getent hosts web-alias; getent hosts web-headless | wc -l; "
                     "getent hosts nope; echo rc=$?").stdout.splitlines()
    assert out[0] == f"{web:<15} web-service.dp.svc.cluster.local"
    assert out[1] == f"{web:<15} web-service.dp.svc.cluster.local"
    assert out[2] == f"{web:<15} web-service.dp.svc.cluster.local " \
                     "web-alias.dp.svc.cluster.local"
    assert out[3] == "3"
    assert out[4] == "rc=2"


def test_source_dig_srv(cluster: Cluster) -> None:
    web = cluster_ip(cluster, "web-service")
    out = cluster.sh("dig _http-port._tcp.web-service.dp.svc.cluster.local SRV",
                     pod="tools").stdout
    flat = re.sub(r"[ \t]+", " ", out)
    assert ";; QUESTION SECTION:\n;_http-port._tcp.web-service.dp.svc.cluster.local. IN SRV\n" \
           "\n;; ANSWER SECTION:\n_http-port._tcp.web-service.dp.svc.cluster.local. 30 IN SRV " \
           "0 100 80 web-service.dp.svc.cluster.local.\n\n;; ADDITIONAL SECTION:\n" \
           f"web-service.dp.svc.cluster.local. 30 IN A {web}\n" in flat
    assert "status: NOERROR" in out
    short = cluster.sh("dig +short web-service.dp.svc.cluster.local; "
                       "dig +short web-alias.dp.svc.cluster.local", pod="tools").stdout
    assert short.splitlines() == [web, "web-service.dp.svc.cluster.local.", web]
    assert "status: NXDOMAIN" in cluster.sh("dig nope.dp.svc.cluster.local", pod="tools").stdout


def test_nslookup_and_host(cluster: Cluster) -> None:
    web = cluster_ip(cluster, "web-service")
    out = cluster.sh("nslookup web-alias", pod="tools").stdout
    # BIND 9.20 remarks on each of CoreDNS's replies without RA (A, then AAAA); the AAAA
    # reply's answer holds the CNAME again
    norecurse = ";; Got recursion not available from 10.96.0.10\n"
    cname = "web-alias.dp.svc.cluster.local\tcanonical name = web-service.dp.svc.cluster.local.\n"
    assert out == (f"{norecurse}Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n{cname}"
                   f"Name:\tweb-service.dp.svc.cluster.local\nAddress: {web}\n"
                   f"{norecurse}{cname}\n")
    done = cluster.sh("nslookup nope", pod="tools", check=False)
    assert done.returncode == 1 and "** server can't find nope: NXDOMAIN" in done.stdout
    out = cluster.sh("host web-service", pod="tools").stdout
    assert out == f"web-service.dp.svc.cluster.local has address {web}\n"
    out = cluster.sh("wget -qO- http://web-service-nodeport", pod="nolinks").stdout
    assert out.startswith("Host=web-service-nodeport Path=/ From=deploy-test01-")


def test_source_env_grep(cluster: Cluster) -> None:
    web = cluster_ip(cluster, "web-service")
    out = cluster.kubectl("exec", "nginx01", "--", "env").stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert env["KUBERNETES_PORT_443_TCP"] == "tcp://10.96.0.1:443"
    assert env["WEB_SERVICE_SERVICE_HOST"] == web
    assert env["WEB_SERVICE_SERVICE_PORT_HTTP_PORT"] == "80"
    assert env["WEB_SERVICE_PORT_80_TCP_ADDR"] == web
    assert "WEB_HEADLESS_SERVICE_HOST" not in env and "WEB_ALIAS_SERVICE_HOST" not in env
    assert env["HOSTNAME"] == "nginx01"
    nolinks = cluster.kubectl("exec", "nolinks", "--", "env").stdout
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1" in nolinks
    assert "WEB_SERVICE" not in nolinks


def test_service_created_after_the_pod_is_not_in_its_env(cluster: Cluster) -> None:
    cluster.kubectl("create", "service", "clusterip", "late-svc", "--tcp=80:80")
    try:
        assert "LATE_SVC" not in cluster.kubectl("exec", "nginx01", "--", "env").stdout
        assert cluster.sh("getent hosts late-svc").returncode == 0
    finally:
        cluster.kubectl("delete", "service", "late-svc")


def test_labs_probe_batch(cluster: Cluster) -> None:
    from labs import probing
    from labs.kube import Kube
    kube = Kube(cluster.kubeconfig)
    res = probing.run(kube, NS, "nginx01", [
        probing.Http("http://web-service-nodeport/", count=6),
        probing.Http("http://empty-service/", timeout=1), probing.Dns("web-alias"),
        probing.Dns("missing")])
    http, refused, alias, missing = res
    assert isinstance(http, list) and all(r.ok and r.status == 200 for r in http)
    assert all(r.pod and r.pod.startswith("deploy-test01-") for r in http)
    assert isinstance(refused, list) and refused[0].exit_code == 7 and not refused[0].ok
    assert alias.ok and alias.canonical == "web-service.dp.svc.cluster.local"  # type: ignore
    assert not missing.ok  # type: ignore[union-attr]


def test_host_node_port(cluster: Cluster) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{cluster.host_port}/", timeout=5) as r:
        body = r.read().decode()
        assert r.status == 200 and r.headers["X-Pod-Name"] in body
    assert body.startswith("Host=127.0.0.1 Path=/ From=deploy-test01-")


def test_host_external_ip_with_local_policy_drops_without_local_endpoint(
        cluster: Cluster) -> None:
    """externalIPs = the control-plane node, externalTrafficPolicy Local: no web pod runs on
    the control-plane node, so kube-proxy drops outside traffic there; pods still get through."""
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        urllib.request.urlopen(f"http://127.0.0.1:{cluster.lb_port}/", timeout=1)
    assert cluster.sh("curl -s -o /dev/null -w '%{http_code}' 172.18.0.2:80").stdout == "200"


def test_host_port_closes_with_the_service(cluster: Cluster) -> None:
    cluster.kubectl("patch", "svc", "web-service-nodeport", "-p",
                    '{"spec":{"ports":[{"port":80,"nodePort":31002}]}}')

    def refused() -> bool:
        try:
            socket.create_connection(("127.0.0.1", cluster.host_port), timeout=1).close()
            return False
        except OSError:
            return True
    try:
        wait_until("the host port to close", refused, timeout=10)
    finally:
        cluster.kubectl("patch", "svc", "web-service-nodeport", "-p",
                        '{"spec":{"ports":[{"port":80,"nodePort":31001}]}}')
    wait_until("the host port to open again", lambda: not refused(), timeout=10)


def test_api_server_through_the_kubernetes_service(cluster: Cluster) -> None:
    done = cluster.sh("curl -sS https://kubernetes.default", check=False)
    assert done.returncode == 60
    assert done.stderr.startswith("curl: (60) SSL certificate problem: unable to get local "
                                  "issuer certificate\n")
    out = cluster.sh("curl -sk https://kubernetes.default.svc/version; "
                     "curl -sk https://10.96.0.1/api").stdout
    assert '"minor": "37"' in out
    assert 'forbidden: User \\"system:anonymous\\" cannot get path \\"/api\\"' in out
