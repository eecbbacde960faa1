"""The nat (and filter) rules kube-proxy in iptables mode would program on a node for the
cluster's Services (pkg/proxy/iptables/proxier.go), printed as ``iptables-save`` prints them.
The network model routes by the same logic: a random endpoint (rule i of n taken with
probability 1/(n-i)), ClientIP affinity through xt_recent, NodePorts via KUBE-EXT chains, and
externalTrafficPolicy Local via KUBE-SVL."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from ..nodes import NODES
from .network import Endpoint, Network

CLUSTER_CIDR = "10.244.0.0/16"


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def port_name(svc: dict[str, Any], sp: dict[str, Any]) -> str:
    md = svc["metadata"]
    base = f"{md.get('namespace', '')}/{md['name']}"
    return f"{base}:{sp['name']}" if sp.get("name") else base


def chain(prefix: str, spn: str, proto: str, endpoint: str = "") -> str:
    return f"{prefix}-{_hash(spn + proto + endpoint)}"


def probability(p: float) -> str:
    """kube-proxy writes %0.10f; the kernel keeps it as a u32 and iptables-save prints %.11f."""
    stored = round(0x80000000 * float(f"{p:0.10f}"))
    return f"{stored / 0x80000000:.11f}"


def render(net: Network, node: str, tables: tuple[str, ...] = ("nat", "filter")) -> str:
    nat_chains: dict[str, list[str]] = {c: [] for c in (
        "PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "KUBE-MARK-MASQ", "KUBE-NODEPORTS",
        "KUBE-POSTROUTING", "KUBE-SERVICES")}
    filt: dict[str, list[str]] = {c: [] for c in (
        "INPUT", "FORWARD", "OUTPUT", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS",
        "KUBE-SERVICES", "KUBE-FORWARD")}
    add = lambda c, r: nat_chains.setdefault(c, []).append(f"-A {c} {r}")  # noqa: E731
    add("PREROUTING", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    add("OUTPUT", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    add("POSTROUTING", '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING')
    add("KUBE-MARK-MASQ", "-j MARK --set-xmark 0x4000/0x4000")
    add("KUBE-POSTROUTING", "-m mark ! --mark 0x4000/0x4000 -j RETURN")
    add("KUBE-POSTROUTING", "-j MARK --set-xmark 0x4000/0x0")
    add("KUBE-POSTROUTING", '-m comment --comment "kubernetes service traffic requiring SNAT" '
                            "-j MASQUERADE --random-fully")
    services = sorted(net.view()["svc"].values(), key=lambda s: (
        s["metadata"].get("namespace", ""), s["metadata"]["name"]))
    for svc in services:
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if spec.get("type") == "ExternalName" or not ip or ip == "None":
            continue
        affinity = spec.get("sessionAffinity") == "ClientIP"
        timeout = int((((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
                       .get("timeoutSeconds")) or 10800)
        for sp in spec.get("ports") or []:
            proto = (sp.get("protocol") or "TCP").lower()
            spn = port_name(svc, sp)
            svc_chain = chain("KUBE-SVC", spn, proto)
            eps = net.endpoints(svc, sp)
            dport = f"-p {proto} -m comment --comment \"{spn} cluster IP\" -m {proto} " \
                    f"--dport {sp['port']}"
            external = spec.get("type") in ("NodePort", "LoadBalancer") or \
                spec.get("externalIPs")
            ext_chain = chain("KUBE-EXT", spn, proto)
            if not eps:
                filt["KUBE-SERVICES"].append(
                    f"-A KUBE-SERVICES -d {ip}/32 -p {proto} -m comment --comment \"{spn} has "
                    f"no endpoints\" -m {proto} --dport {sp['port']} -j REJECT --reject-with "
                    "icmp-port-unreachable")
                for eip in spec.get("externalIPs") or []:
                    filt["KUBE-EXTERNAL-SERVICES"].append(
                        f"-A KUBE-EXTERNAL-SERVICES -d {eip}/32 -p {proto} -m comment "
                        f"--comment \"{spn} has no endpoints\" -m {proto} --dport {sp['port']} "
                        "-j REJECT --reject-with icmp-port-unreachable")
                if sp.get("nodePort") and spec.get("type") in ("NodePort", "LoadBalancer"):
                    filt["KUBE-EXTERNAL-SERVICES"].append(
                        f"-A KUBE-EXTERNAL-SERVICES -m addrtype --dst-type LOCAL -p {proto} -m "
                        f"comment --comment \"{spn} has no endpoints\" -m {proto} --dport "
                        f"{sp['nodePort']} -j REJECT --reject-with icmp-port-unreachable")
                continue
            add("KUBE-SERVICES", f"-d {ip}/32 {dport} -j {svc_chain}")
            add(svc_chain, f"! -s {CLUSTER_CIDR} -d {ip}/32 {dport} -j KUBE-MARK-MASQ")
            _endpoint_rules(add, spn, proto, svc_chain, eps, affinity, timeout)
            if external:
                local = spec.get("externalTrafficPolicy") == "Local"
                for eip in spec.get("externalIPs") or []:
                    add("KUBE-SERVICES", f"-d {eip}/32 -p {proto} -m comment --comment \"{spn} "
                                         f"external IP\" -m {proto} --dport {sp['port']} "
                                         f"-j {ext_chain}")
                if sp.get("nodePort") and spec.get("type") in ("NodePort", "LoadBalancer"):
                    # an IPv4 node also accepts its NodePorts on localhost (counted by nfacct)
                    add("KUBE-NODEPORTS", f"-d 127.0.0.0/8 -p {proto} -m comment --comment "
                                          f"\"{spn}\" -m {proto} --dport {sp['nodePort']} -m "
                                          f"nfacct --nfacct-name localhost_nps_accepted_pkts "
                                          f"-j {ext_chain}")
                    add("KUBE-NODEPORTS", f"-p {proto} -m comment --comment \"{spn}\" -m {proto} "
                                          f"--dport {sp['nodePort']} -j {ext_chain}")
                if local:
                    svl = chain("KUBE-SVL", spn, proto)
                    add(ext_chain, f"-s {CLUSTER_CIDR} -m comment --comment \"pod traffic for "
                                   f"{spn} external destinations\" -j {svc_chain}")
                    add(ext_chain, "-m comment --comment \"masquerade LOCAL traffic for "
                                   f"{spn} external destinations\" -m addrtype --src-type LOCAL "
                                   "-j KUBE-MARK-MASQ")
                    add(ext_chain, "-m comment --comment \"route LOCAL traffic for "
                                   f"{spn} external destinations\" -m addrtype --src-type LOCAL "
                                   f"-j {svc_chain}")
                    mine = [e for e in eps if e.node == node]
                    if mine:
                        add(ext_chain, f"-j {svl}")
                        nat_chains.setdefault(svl, [])
                        _endpoint_rules(add, spn, proto, svl, mine, affinity, timeout,
                                        sep_rules=False)
                    else:
                        add(ext_chain, f"-m comment --comment \"{spn} has no local endpoints\" "
                                       "-j KUBE-MARK-DROP")
                        nat_chains.setdefault("KUBE-MARK-DROP", [])
                else:
                    add(ext_chain, f"-m comment --comment \"masquerade traffic for {spn} "
                                   "external destinations\" -j KUBE-MARK-MASQ")
                    add(ext_chain, f"-j {svc_chain}")
    add("KUBE-SERVICES", '-m comment --comment "kubernetes service nodeports; NOTE: this must be '
                         'the last rule in this chain" -m addrtype --dst-type LOCAL -j '
                         "KUBE-NODEPORTS")
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
    out: list[str] = []
    builtin_nat = ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")
    if "nat" in tables:
        out.append(f"# Generated by iptables-save v1.8.11 (nf_tables) on {stamp}\n*nat")
        names = list(builtin_nat) + sorted(c for c in nat_chains if c not in builtin_nat)
        out += [f":{c} ACCEPT [0:0]" if c in builtin_nat else f":{c} - [0:0]" for c in names]
        for c in names:
            out += nat_chains[c]
        out.append(f"COMMIT\n# Completed on {stamp}")
    if "filter" in tables:
        builtin = ("INPUT", "FORWARD", "OUTPUT")
        out.append(f"# Generated by iptables-save v1.8.11 (nf_tables) on {stamp}\n*filter")
        names = list(builtin) + sorted(c for c in filt if c not in builtin)
        out += [f":{c} ACCEPT [0:0]" if c in builtin else f":{c} - [0:0]" for c in names]
        out += ['-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load '
                'balancer firewall" -j KUBE-PROXY-FIREWALL',
                '-A INPUT -m comment --comment "kubernetes health check service ports" -j '
                "KUBE-NODEPORTS",
                '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally '
                'visible service portals" -j KUBE-EXTERNAL-SERVICES',
                '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
                '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service '
                'portals" -j KUBE-SERVICES',
                '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service '
                'portals" -j KUBE-SERVICES']
        for c in names:
            out += filt[c]
        out.append(f"COMMIT\n# Completed on {stamp}")
    return "\n".join(out) + "\n"


def _endpoint_rules(add: Any, spn: str, proto: str, from_chain: str, eps: list[Endpoint],
                    affinity: bool, timeout: int, sep_rules: bool = True) -> None:
    n = len(eps)
    seps = [(e, chain("KUBE-SEP", spn, proto, f"{e.ip}:{e.port}")) for e in eps]
    if affinity:
        for e, sep in seps:
            add(from_chain, f"-m comment --comment \"{spn} -> {e.ip}:{e.port}\" -m recent "
                            f"--rcheck --seconds {timeout} --reap --name {sep} --mask "
                            f"255.255.255.255 --rsource -j {sep}")
    for i, (e, sep) in enumerate(seps):
        stat = "" if i == n - 1 else \
            f" -m statistic --mode random --probability {probability(1 / (n - i))}"
        add(from_chain, f"-m comment --comment \"{spn} -> {e.ip}:{e.port}\"{stat} -j {sep}")
    if not sep_rules:
        return
    for e, sep in seps:
        add(sep, f"-s {e.ip}/32 -m comment --comment \"{spn}\" -j KUBE-MARK-MASQ")
        rec = f" -m recent --set --name {sep} --mask 255.255.255.255 --rsource" \
            if affinity else ""
        add(sep, f"-p {proto} -m comment --comment \"{spn}\"{rec} -m {proto} -j DNAT "
                 f"--to-destination {e.ip}:{e.port}")


async def iptables_save(net: Network, tool: Any) -> int:
    """``iptables-save`` in a pod: a hostNetwork pod sees its node's rules (as on kind, e.g.
    ``kubectl -n kube-system exec kube-proxy-... -- iptables-save -t nat``), others their own
    empty network namespace."""
    args = tool.argv[1:]
    tables: tuple[str, ...] = ("nat", "filter")
    for i, a in enumerate(args):
        if a in ("-t", "--table") and i + 1 < len(args):
            tables = (args[i + 1],)
        elif a.startswith("--table="):
            tables = (a.split("=", 1)[1],)
    pod = tool.pod.pod or {}
    if not (pod.get("spec") or {}).get("hostNetwork"):
        stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
        for t in tables:
            tool.out(f"# Generated by iptables-save v1.8.11 (nf_tables) on {stamp}\n*{t}\n")
            chains = ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING") if t == "nat" else \
                ("INPUT", "FORWARD", "OUTPUT")
            tool.out("".join(f":{c} ACCEPT [0:0]\n" for c in chains))
            tool.out(f"COMMIT\n# Completed on {stamp}\n")
        return 0
    tool.out(render(net, tool.pod.node or NODES[0].name, tables))
    return 0
