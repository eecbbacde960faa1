"""getent, nslookup (bind and busybox styles), dig and host against the cluster DNS model."""

from __future__ import annotations

import random
import time

from ..network import DNS_IP, TTL, Answer, Network, Source
from ..toolserver import Tool
from .http import is_ip

DIG_VERSION = "9.20.15-1~deb13u1-Debian"   # trixie's bind9-dnsutils (dig, nslookup, host)


def _reverse_name(ip: str) -> str:
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


async def getent(net: Network, tool: Tool) -> int:
    args = tool.argv[1:]
    if not args:
        tool.err("Usage: getent [OPTION...] database [key ...]\nTry `getent --help' or "
                 "`getent --usage' for more information.\n")
        return 1
    db, keys = args[0], args[1:]
    if db not in ("hosts", "ahosts", "ahostsv4"):
        if db in ("passwd", "group", "services", "protocols", "networks", "shadow"):
            return 2
        tool.err(f"Unknown database: {db}\nTry `getent --help' or `getent --usage' for more "
                 "information.\n")
        return 1
    if not keys:
        if db == "hosts":
            tool.out("127.0.0.1       localhost\n127.0.0.1       localhost ip6-localhost "
                     f"ip6-loopback\n{tool.pod.ip:<15} {tool.pod.name}\n")
            return 0
        return 1
    code = 0
    for key in keys:
        if is_ip(key):
            ans = net.query(_reverse_name(key), "PTR")
            if ans.rcode != "NOERROR" or not ans.records:
                code = 2
                continue
            tool.out(f"{key:<15} {ans.records[0][2]}\n")
            continue
        if key == "localhost":
            tool.out("127.0.0.1       localhost\n" if db == "hosts" else
                     "127.0.0.1       STREAM localhost\n127.0.0.1       DGRAM  \n"
                     "127.0.0.1       RAW    \n")
            continue
        ans = net.resolve(tool.pod, key, "A")
        addrs = ans.addresses()
        if not addrs:
            code = 2
            continue
        canon = ans.canonical()
        aliases = [ans.qname] if canon != ans.qname else []
        if db == "hosts":
            for a in addrs:
                tool.out(f"{a:<15} {' '.join([canon] + aliases)}\n")
        else:
            for n, a in enumerate(addrs):
                tool.out(f"{a:<15} STREAM {canon if n == 0 else ''}\n{a:<15} DGRAM  \n"
                         f"{a:<15} RAW    \n")
    return code


def _resolve_ns(net: Network, src: Source, name: str, qtype: str, search: bool) -> Answer:
    if search:
        if qtype == "PTR" or is_ip(name):
            return net.query(_reverse_name(name) if is_ip(name) else name, "PTR")
        return net.resolve(src, name, qtype)
    return net.query(name, qtype)


async def nslookup(net: Network, tool: Tool) -> int:
    args = [a for a in tool.argv[1:]]
    qtype, typeset = "A", False
    names: list[str] = []
    server = DNS_IP
    for a in args:
        if a.startswith("-type=") or a.startswith("-query=") or a.startswith("-q="):
            qtype, typeset = a.split("=", 1)[1].upper(), True
        elif a.startswith("-"):
            continue
        elif names:
            server = a
        else:
            names.append(a)
    if not names:
        tool.err("nslookup: interactive mode is not supported in the embedded cluster; "
                 "give a name: nslookup web-service\n")
        return 1
    busybox = bool(tool.pod.image and tool.pod.image.busybox)
    sep = ":" if busybox else "#"
    header = f"Server:\t\t{server}\nAddress:\t{server}{sep}53\n\n"

    def got(ans: Answer) -> None:
        """BIND's nslookup remarks on every reply without RA (CoreDNS's own zones) and on
        every SERVFAIL, as the reply arrives (before the answer it prints)."""
        if busybox:
            return
        if _authoritative(ans):
            tool.out(f";; Got recursion not available from {server}\n")
        if ans.rcode == "SERVFAIL":
            tool.out(f";; Got SERVFAIL reply from {server}\n")

    name = names[0]
    if is_ip(name):
        ans = net.query(_reverse_name(name), "PTR")
        got(ans)
        tool.out(header)
        if ans.records:
            for n, _, d in ans.records:
                tool.out(f"{n}\tname = {d}.\n")
            tool.out("\n")
            return 0
        tool.out(f"** server can't find {_reverse_name(name)}: NXDOMAIN\n\n")
        return 1
    if busybox:
        ans = net.resolve(tool.pod, name, qtype)
    else:
        # BIND walks the search list (ndots:5) and stops at the first reply that is not
        # NXDOMAIN, NODATA included
        for cand in net.candidates(tool.pod, name.lower()):
            ans = net.query(cand, qtype)
            got(ans)
            if ans.rcode != "NXDOMAIN":
                break
        if ans.rcode == "NXDOMAIN":
            ans = Answer("NXDOMAIN", name.rstrip(".").lower())
    tool.out(header)
    if ans.rcode != "NOERROR" or not ans.records:
        if ans.rcode == "NOERROR":
            tool.out(f"*** Can't find {name}: No answer\n\n")
            return 0 if busybox else 1
        tool.out(f"** server can't find {name}: {ans.rcode}\n\n")
        return 1
    internal = ans.qname.endswith(".cluster.local")
    if not internal:
        tool.out("Non-authoritative answer:\n")

    def answer(records: list[tuple[str, str, str]]) -> None:
        for n, t, d in records:
            if t == "CNAME":
                tool.out(f"{n}\tcanonical name = {d}.\n")
            elif t in ("A", "AAAA"):
                tool.out(f"Name:\t{n}\nAddress: {d}\n")
            elif t == "SRV":
                tool.out(f"{n}\tservice = {d}\n")

    answer(ans.records)
    if not busybox and not typeset:
        # then the AAAA question, from the search domain the A answer came from; its answer
        # section is printed too (an ExternalName's CNAME again, no address in IPv4 kind)
        aaaa = net.query(ans.qname, "AAAA")
        got(aaaa)
        answer(aaaa.records)
    tool.out("\n")
    return 0


def _rr(name: str, ttl: int, t: str, data: str) -> str:
    owner = name if name.endswith(".") else name + "."
    pad = "\t" * max(1, (24 - len(owner) + 7) // 8) if len(owner) < 24 else "\t"
    return f"{owner}{pad}{ttl}\tIN\t{t}\t{data}\n"


def _authoritative(ans: Answer) -> bool:
    """CoreDNS answers its own zones (cluster.local, the reverse zone) authoritatively and
    without the RA flag; what it forwards carries the upstream's RA."""
    return ans.qname.endswith("cluster.local") or ans.qname.endswith("in-addr.arpa")


def _dig_data(t: str, d: str) -> str:
    return d + "." if t in ("CNAME", "PTR") and not d.endswith(".") else d


async def dig(net: Network, tool: Tool) -> int:
    qtype, name, short, search = "A", "", False, False
    show = {"cmd": True, "comments": True, "question": True, "answer": True, "additional": True,
            "stats": True}
    server = DNS_IP
    args = tool.argv[1:]
    i = 0
    types = {"A", "AAAA", "SRV", "CNAME", "PTR", "MX", "TXT", "NS", "SOA", "ANY"}
    while i < len(args):
        a = args[i]
        i += 1
        if a.startswith("@"):
            server = a[1:]
        elif a == "-t" and i < len(args):
            qtype = args[i].upper()
            i += 1
        elif a == "-x" and i < len(args):
            name, qtype = _reverse_name(args[i]), "PTR"
            i += 1
        elif a.startswith("+"):
            opt = a[1:].lower()
            if opt == "short":
                short = True
            elif opt == "search":
                search = True
            elif opt == "nosearch":
                search = False
            elif opt.startswith("no") and opt[2:] in show:
                show[opt[2:]] = False
            elif opt == "noall":
                show = {k: False for k in show}
            elif opt in show:
                show[opt] = True
        elif a.upper() in types and name:
            qtype = a.upper()
        elif a.upper() in types and not name and i < len(args):
            qtype = a.upper()
        elif a.upper() == "IN":
            continue
        else:
            name = a
    if not name:
        name = "."
        qtype = "NS"
    ans = net.resolve(tool.pod, name, qtype) if search and not name.endswith(".") \
        else net.query(name, qtype)
    if short:
        for _, t, d in ans.records:
            tool.out(_dig_data(t, d) + "\n")
        return 0
    qname = (ans.qname if search else name.rstrip(".")) + "."
    auth = _authoritative(ans)
    # a blank line closes each section only with +comments (BIND's NOHEADERS text flag)
    blank = "\n" if show["comments"] else ""
    out = []
    if show["cmd"]:
        out.append(f"\n; <<>> DiG {DIG_VERSION} <<>> {' '.join(tool.argv[1:])}\n"
                   ";; global options: +cmd\n")
    if show["comments"]:
        nrec = len(ans.records)
        flags = "qr aa rd" if auth else "qr rd ra"
        out.append(";; Got answer:\n")
        if qname.lower().endswith(".local."):
            out.append(";; WARNING: .local is reserved for Multicast DNS\n;; You are currently "
                       "testing what happens when an mDNS query is leaked to DNS\n")
        out.append(f";; ->>HEADER<<- opcode: QUERY, status: {ans.rcode}, id: "
                   f"{random.randint(1, 65535)}\n;; flags: {flags}; QUERY: 1, ANSWER: {nrec}, "
                   f"AUTHORITY: {0 if nrec or ans.rcode == 'SERVFAIL' else 1}, ADDITIONAL: "
                   f"{len(ans.additional) + 1}\n")
        if auth:
            out.append(";; WARNING: recursion requested but not available\n")
        # CoreDNS answers without a COOKIE option, so dig prints none
        out.append("\n;; OPT PSEUDOSECTION:\n; EDNS: version: 0, flags:; udp: 1232\n")
    if show["question"]:
        if show["comments"]:
            out.append(";; QUESTION SECTION:\n")
        out.append(f";{qname}\t\tIN\t{qtype}\n{blank}")
    if show["answer"] and ans.records:
        if show["comments"]:
            out.append(";; ANSWER SECTION:\n")
        out += [_rr(n, TTL, t, _dig_data(t, d)) for n, t, d in ans.records]
        out.append(blank)
    elif show["comments"] and ans.rcode == "NXDOMAIN" or (not ans.records and
                                                          ans.rcode == "NOERROR"
                                                          and show["comments"]):
        out.append(";; AUTHORITY SECTION:\ncluster.local.\t\t30\tIN\tSOA\tns.dns.cluster.local. "
                   f"hostmaster.cluster.local. {int(time.time())} 7200 1800 86400 30\n\n")
    if show["additional"] and ans.additional:
        if show["comments"]:
            out.append(";; ADDITIONAL SECTION:\n")
        out += [_rr(n, TTL, t, d) for n, t, d in ans.additional]
        out.append(blank)
    if show["stats"]:
        out.append(f";; Query time: 0 msec\n;; SERVER: {server}#53({server}) (UDP)\n"
                   f";; WHEN: {time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime())}\n"
                   f";; MSG SIZE  rcvd: {60 + 40 * len(ans.records) + 30 * len(ans.additional)}"
                   "\n\n")
    tool.out("".join(out))
    return 0


async def host(net: Network, tool: Tool) -> int:
    qtype = None
    name = ""
    args = tool.argv[1:]
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "-t" and i < len(args):
            qtype = args[i].upper()
            i += 1
        elif a.startswith("-"):
            continue
        elif not name:
            name = a
    if not name:
        tool.err("Usage: host [-aCdilrTvVw] [-c class] [-N ndots] [-t type] [-W time]\n"
                 "            [-R number] [-m flag] [-p port] hostname [server]\n")
        return 1
    if is_ip(name):
        ans = net.query(_reverse_name(name), "PTR")
        if not ans.records:
            tool.out(f"Host {_reverse_name(name)} not found: 3(NXDOMAIN)\n")
            return 1
        for n, _, d in ans.records:
            tool.out(f"{n} domain name pointer {d}.\n")
        return 0
    ans = net.resolve(tool.pod, name, qtype or "A")
    if ans.rcode != "NOERROR" or not ans.records:
        if ans.rcode == "NOERROR":
            return 0
        code = {"NXDOMAIN": 3, "SERVFAIL": 2}.get(ans.rcode, 2)
        tool.out(f"Host {name} not found: {code}({ans.rcode})\n")
        return 1
    for n, t, d in ans.records:
        if t == "CNAME":
            tool.out(f"{n} is an alias for {d}.\n")
        elif t == "A":
            tool.out(f"{n} has address {d}\n")
        elif t == "SRV":
            tool.out(f"{n} has SRV record {d}\n")
    return 0
