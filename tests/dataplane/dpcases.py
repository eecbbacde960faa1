"""Run the data-plane cases (cases.yaml) against a cluster and normalise what they print.

Normalising makes two clusters comparable: every address becomes the name of what owns it
(`<svc:web-service>`, `<pod:deploy-test01-<rs>-<id>>`, `<node:worker>`), generated pod names
lose their random parts, and times, dates, ids and program versions become placeholders. What
is left is what a learner reads: status codes, headers, which kind of thing answered, error
texts, exit codes, DNS sections, kube-proxy's chains and probabilities.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
NS = "dpdiff"
CASES = HERE / "cases.yaml"
RECORDED = HERE / "recorded.yaml"


def load_cases() -> list[dict]:
    cases = yaml.safe_load(CASES.read_text())["cases"]
    names = [c["name"] for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"{CASES}: duplicate case names {sorted(dupes)}")
    return cases


def load_recorded() -> dict:
    if not RECORDED.exists():
        return {}
    return yaml.safe_load(RECORDED.read_text()) or {}


@dataclass
class Target:
    """A cluster as the cases see it."""

    name: str                                   # "kind" or "embedded"
    kubectl: Callable[..., subprocess.CompletedProcess]
    host_ports: dict[str, int]                  # "nodeport" / "lb" -> a port on 127.0.0.1


@dataclass
class Facts:
    """Who owns which address, read from the cluster after setup."""

    nodes: dict[str, dict] = field(default_factory=dict)   # role -> {name, ip, cidr}
    owners: dict[str, str] = field(default_factory=dict)   # address -> token

    def node_ip(self, role: str) -> str:
        return self.nodes[role]["ip"]


POD_HASH = re.compile(r"\b([a-z0-9]+(?:-[a-z0-9]+)*?)-[a-z0-9]{8,10}-[a-z0-9]{5}\b")


def pod_pattern(name: str) -> str:
    return POD_HASH.sub(r"\1-<rs>-<id>", name)


def _json(target: Target, *args: str) -> dict:
    done = target.kubectl(*args, "-o", "json")
    return json.loads(done.stdout)


def read_facts(target: Target) -> Facts:
    facts = Facts()
    nodes = _json(target, "get", "nodes")["items"]
    workers = sorted(n["metadata"]["name"] for n in nodes
                     if "node-role.kubernetes.io/control-plane" not in n["metadata"]["labels"])
    for n in nodes:
        name = n["metadata"]["name"]
        role = ("control-plane" if name not in workers
                else "worker" if workers.index(name) == 0 else f"worker{workers.index(name) + 1}")
        ip = next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP")
        cidr = n["spec"].get("podCIDR", "")
        facts.nodes[role] = {"name": name, "ip": ip, "cidr": cidr}
        facts.owners[ip] = f"<node:{role}>"
        if cidr:
            gateway = str(next(ipaddress.ip_network(cidr).hosts()))
            facts.owners.setdefault(gateway, f"<node:{role}>")
    for svc in _json(target, "get", "services", "-A")["items"]:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        token = f"<svc:{name}>" if ns == NS else f"<svc:{ns}/{name}>"
        for ip in svc["spec"].get("clusterIPs") or []:
            if ip != "None":
                facts.owners.setdefault(ip, token)
    for pod in _json(target, "get", "pods", "-A")["items"]:
        ip = pod.get("status", {}).get("podIP")
        if ip and ip not in facts.owners:
            facts.owners[ip] = f"<pod:{pod_pattern(pod['metadata']['name'])}>"
    return facts


def setup(target: Target, timeout: float = 240) -> Facts:
    """Create namespace dpdiff with the cases' objects and wait until everything is ready."""
    target.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", ns=None,
                   timeout=180)
    target.kubectl("create", "namespace", NS, ns=None)
    facts = read_facts(target)
    text = (HERE / "manifests.yaml").read_text()
    for role, node in facts.nodes.items():
        text = text.replace(f"{{node:{role}}}", node["name"])
        text = text.replace(f"{{nodeip:{role}}}", node["ip"])
    docs = [d for d in text.split("\n---\n") if d.strip()]
    # every object but the client pods first, so the clients' environment has every Service
    clients = [d for d in docs if "name: nginx01" in d or "name: dnstools" in d]
    target.kubectl("apply", "-f", "-", input="\n---\n".join(d for d in docs if d not in clients))
    for deploy in ("deploy-test01", "web-two", "web-one"):
        target.kubectl("rollout", "status", f"deploy/{deploy}", f"--timeout={int(timeout)}s",
                       timeout=timeout + 10)
    target.kubectl("rollout", "status", "statefulset/web", f"--timeout={int(timeout)}s",
                   timeout=timeout + 10)
    target.kubectl("apply", "-f", "-", input="\n---\n".join(clients))
    target.kubectl("wait", "--for=condition=Ready", "pod", "--all", f"--timeout={int(timeout)}s",
                   timeout=timeout + 10)
    _wait_endpoints(target, timeout)
    # the cases start when a name resolves and its Service routes from each client pod (CoreDNS
    # and kube-proxy catch up with a new cluster and new Services a little after the API)
    for pod in ("nginx01", "dnstools"):
        target.kubectl("exec", pod, "--", "/bin/sh", "-c",
                       "i=0; until curl -s -o /dev/null -m 2 http://web-service/; do "
                       "i=$((i+1)); [ $i -ge 60 ] && exit 1; sleep 1; done",
                       timeout=timeout)
    return read_facts(target)


def _wait_endpoints(target: Target, timeout: float) -> None:
    want = {"web-service": 3, "web-two": 2, "web-one": 1, "web-headless": 3, "web-sticky": 3}
    deadline = time.monotonic() + timeout
    while True:
        slices = _json(target, "get", "endpointslices")["items"]
        ready: Counter = Counter()
        for s in slices:
            svc = s["metadata"]["labels"].get("kubernetes.io/service-name")
            ready[svc] += sum(1 for e in s.get("endpoints") or []
                              if (e.get("conditions") or {}).get("ready"))
        if all(ready[k] == v for k, v in want.items()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"endpoints not ready: {dict(ready)} (want {want})")
        time.sleep(1)


SUBS: list[tuple[re.Pattern, str]] = [(re.compile(p, re.M), r) for p, r in [
    (r"^(< )?Date: .*$", r"\1Date: <date>"),
    (r"^(< )?(Content-Length|ETag|Last-Modified): .*$", r"\1\2: <n>"),
    (r"nginx/\d+\.\d+\.\d+", "nginx/<version>"),
    (r"curl/\d+\.\d+\.\d+", "curl/<version>"),
    (r"after \d+ ms", "after <n> ms"),
    (r"after \d+ milliseconds", "after <n> milliseconds"),
    (r"\{ \[\d+ bytes data\]", "{ [<n> bytes data]"),
    # curl 8 prints this only when the request went out before the answer came in: timing
    (r"^\* Request completely sent off\n", ""),
    (r"; <<>> DiG \S+ <<>>", "; <<>> DiG <version> <<>>"),
    (r"\bid: \d+", "id: <id>"),
    (r";; Query time: \d+ msec", ";; Query time: <n> msec"),
    (r";; WHEN: .*$", ";; WHEN: <date>"),
    (r"; COOKIE: [0-9a-f]+(?: \(\w+\))?", "; COOKIE: <cookie>"),
    (r";; MSG SIZE\s+rcvd: \d+", ";; MSG SIZE  rcvd: <n>"),
    (r"^(\S+\.)\s+\d+\s+IN\s+", r"\1 <ttl> IN "),
    (r"^(# (?:Generated by|Completed on) .*?) on .*$", r"\1 on <date>"),
    (r"iptables-save v[\d.]+", "iptables-save <version>"),
    (r"KUBE-SEP-[A-Z0-9]{16}", "KUBE-SEP-<hash>"),
    (r"\[\d+:\d+\]", "[<n>]"),
]]
DASHED = re.compile(r"\b(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})(?=\.)")
IPV4 = re.compile(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\d])")
REVERSE = re.compile(r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa\b")


def normalise(text: str, facts: Facts) -> str:
    def reverse(m: re.Match) -> str:
        ip = ".".join(reversed(m.groups()))
        return f"{facts.owners.get(ip, '<ip>')}.in-addr.arpa"

    def owner(m: re.Match) -> str:
        ip = m.group(1)
        if ip in facts.owners:
            return facts.owners[ip]
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return ip
        if addr.is_loopback or ip.endswith(".0") or ip == "255.255.255.255":
            return ip  # loopback, networks (10.244.0.0/16) and masks stay as they are
        if addr in ipaddress.ip_network("10.96.0.0/12"):
            return "<svc:?>"
        if addr in ipaddress.ip_network("10.244.0.0/16"):
            return "<pod:?>"
        return "<ip>"

    def dashed(m: re.Match) -> str:
        return f"{facts.owners.get('.'.join(m.groups()), '<ip>')}-dashed"

    text = REVERSE.sub(reverse, text)
    text = DASHED.sub(dashed, text)
    text = IPV4.sub(owner, text)
    text = POD_HASH.sub(r"\1-<rs>-<id>", text)
    text = text.replace("\t", " ")
    for pattern, repl in SUBS:
        text = pattern.sub(repl, text)
    return re.sub(r" {2,}", " ", text)


def distribution(lines: list[str]) -> dict:
    """The verdict of a load-balancing sample: how many pods answered, whether the counts fit a
    uniform choice (chi-square, 99.9%), and whether consecutive answers repeat as often as an
    independent random choice makes them (round robin never repeats; with k pods a random
    choice repeats the previous pod about (n-1)/k times)."""
    answers = [line.strip() for line in lines if line.strip()]
    counts = Counter(answers)
    n, k = len(answers), len(counts)
    expected = n / k if k else 0
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values()) if k else math.inf
    critical = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47}.get(k - 1, 20.0)
    repeats = sum(1 for a, b in zip(answers, answers[1:], strict=False) if a == b)
    return {"requests": n, "pods": k, "uniform": chi2 < critical,
            "repeats_like_random": k > 0 and repeats > 0.5 * (n - 1) / k}


def run_case(target: Target, case: dict, facts: Facts) -> dict:
    if case["in"] == "host":
        port = target.host_ports[case["port"]]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
                text = (f"{resp.status}\nX-Pod-Name: {resp.headers.get('X-Pod-Name')}\n"
                        f"{resp.read().decode()}")
        except OSError as e:
            text = f"error: {e}"
        return {"out": normalise(text, facts)}
    script = case["sh"]
    for role, node in facts.nodes.items():
        script = script.replace(f"{{nodeip:{role}}}", node["ip"])
    for ip, token in facts.owners.items():
        if token.startswith("<svc:") and f"{{svc:{token[5:-1]}}}" in script:
            script = script.replace(f"{{svc:{token[5:-1]}}}", ip)
    done = target.kubectl("exec", case["in"], "--", "/bin/sh", "-c", script, check=False,
                          timeout=120)
    if case.get("stat"):  # pod names kept: the verdict counts which pod answered
        return {"rc": done.returncode, "verdict": distribution(done.stdout.splitlines())}
    out = normalise(done.stdout, facts)
    if case.get("sort"):
        out = "\n".join(sorted(set(out.splitlines())))
    return {"rc": done.returncode, "out": out, "err": normalise(done.stderr, facts)}


def diff(want: dict, got: dict) -> str:
    import difflib

    lines = []
    for key in sorted(set(want) | set(got)):
        if want.get(key) != got.get(key):
            a = yaml.safe_dump(want.get(key), default_flow_style=False).splitlines()
            b = yaml.safe_dump(got.get(key), default_flow_style=False).splitlines()
            lines.append(f"{key}:")
            lines += [f"  {d}" for d in difflib.unified_diff(a, b, "recorded", "this cluster",
                                                              lineterm="")]
    return "\n".join(lines)


def write_recorded(results: dict[str, dict], cluster: str) -> None:
    recorded = load_recorded()
    for name, result in results.items():
        recorded.setdefault(name, {})[cluster] = result
    RECORDED.write_text(
        "# Written by the data-plane differential (tests/dataplane/dpcases.py): each case's\n"
        "# normalised answer on the kind cluster the rig builds (`kind`), and the embedded\n"
        "# cluster's where it is a known difference (`embedded`). Do not edit by hand.\n"
        + yaml.safe_dump(recorded, sort_keys=True, allow_unicode=True, width=100))
