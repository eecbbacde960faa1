"""wget (busybox), ping (iputils and busybox) and hostname."""

from __future__ import annotations

import asyncio
import os
import time

from ..network import NODE_BY_IP, Network
from ..toolserver import Tool
from .http import UrlError, exchange, lookup, parse_url


async def wget(net: Network, tool: Tool) -> int:
    args = tool.argv[1:]
    quiet, out, timeout, spider, server_resp = False, None, None, False, False
    urls = []
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a in ("-O", "--output-document") and i < len(args):
            out = args[i]
            i += 1
        elif a.startswith("-O") and len(a) > 2 and not a.startswith("--"):
            out = a[2:]
        elif a in ("-T", "--timeout") and i < len(args):
            timeout = float(args[i])
            i += 1
        elif a == "--spider":
            spider = True
        elif a.startswith("-") and not a.startswith("--"):
            flags = a[1:]
            if "O" in flags:
                rest = flags[flags.index("O") + 1:]
                if rest:
                    out = rest
                elif i < len(args):
                    out = args[i]
                    i += 1
                flags = flags[:flags.index("O")]
            quiet = quiet or "q" in flags
            server_resp = server_resp or "S" in flags
        elif a.startswith("--"):
            continue
        else:
            urls.append(a)
    if not urls:
        tool.err("BusyBox v1.37.0 (2024-09-26 21:31:42 UTC) multi-call binary.\n\n"
                 "Usage: wget [-cqS] [--spider] [-O FILE] [-o LOGFILE] [--header STR]\n"
                 "\t[--post-data STR | --post-file FILE] [-Y on/off]\n"
                 "\t[-P DIR] [-U AGENT] [-T SEC] URL...\n")
        return 1
    try:
        t = parse_url(urls[0])
    except UrlError:
        tool.err(f"wget: not an http or ftp url: {urls[0]}\n")
        return 1
    ip, _ = lookup(net, tool.pod, t.host)
    if not ip:
        tool.err(f"wget: bad address '{t.host}'\n")
        return 1
    if not quiet:
        tool.err(f"Connecting to {t.host} ({ip}:{t.port})\n")
    ex = await exchange(net, tool.pod, t, "HEAD" if spider else "GET",
                        [("Host", t.host_header), ("User-Agent", "Wget"),
                         ("Connection", "close")], b"", max_time=timeout or 900,
                        connect_timeout=None)
    if ex.outcome == "refused":
        tool.err(f"wget: can't connect to remote host ({ip}): Connection refused\n")
        return 1
    if ex.outcome in ("timeout", "drop"):
        tool.err("wget: download timed out\n")
        return 1
    if ex.outcome == "unreachable":
        tool.err(f"wget: can't connect to remote host ({ip}): Host is unreachable\n")
        return 1
    if ex.outcome == "tls":
        tool.err("wget: error getting response: Connection reset by peer\n")
        return 1
    resp = ex.response
    assert resp is not None
    if server_resp:
        tool.err(f"  {resp.status_line}\n" + "".join(f"  {k}: {v}\n" for k, v in resp.headers))
    if resp.status >= 400:
        tool.err(f"wget: server returned error: {resp.status_line}\n")
        return 1
    if spider:
        if not quiet:
            tool.err("remote file exists\n")
        return 0
    name = out or (t.target.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "index.html")
    size = len(resp.body)
    if name == "-":
        if not quiet:
            tool.err("writing to stdout\n")
        tool.out(resp.body)
        if not quiet:
            tool.err(f"-                    100% |********************************| {size:>5}  "
                     "0:00:00 ETA\nwritten to stdout\n")
    else:
        if not quiet:
            tool.err(f"saving to '{name}'\n")
        tool.open(name)
        tool.write(resp.body)
        tool.close_file()
        if not quiet:
            tool.err(f"{name[:20]:<20} 100% |********************************| {size:>5}  "
                     f"0:00:00 ETA\n'{name}' saved\n")
    return 0


async def ping(net: Network, tool: Tool) -> int:
    args = tool.argv[1:]
    count, interval, deadline, wait = None, 1.0, None, None
    target = ""
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a in ("-c", "-i", "-w", "-W") and i < len(args):
            v = args[i]
            i += 1
            if a == "-c":
                count = int(v)
            elif a == "-i":
                interval = max(float(v), 0.2)
            elif a == "-w":
                deadline = float(v)
            else:
                wait = float(v)
        elif a.startswith("-c") and a[2:].isdigit():
            count = int(a[2:])
        elif not a.startswith("-"):
            target = a
    busybox = bool(tool.pod.image and tool.pod.image.busybox)
    if not target:
        tool.err("ping: usage error: Destination address required\n" if not busybox else
                 "BusyBox v1.37.0 multi-call binary.\n\nUsage: ping [OPTIONS] HOST\n")
        return 2 if not busybox else 1
    ip, _ = lookup(net, tool.pod, target)
    if not ip:
        tool.err(f"ping: {target}: Name or service not known\n" if not busybox else
                 f"ping: bad address '{target}'\n")
        return 2 if not busybox else 1
    view = net.view()
    answers = ip in view["pod_by_ip"] or ip in NODE_BY_IP or ip.startswith("127.") or \
        ip == tool.pod.ip
    # a Service IP exists only as DNAT rules for its ports: nothing answers ICMP there
    if busybox:
        tool.out(f"PING {target} ({ip}): 56 data bytes\n")
    else:
        tool.out(f"PING {target} ({ip}) 56(84) bytes of data.\n")
    await tool.flush()
    start = time.monotonic()
    sent = received = 0
    rtts: list[float] = []
    try:
        while count is None or sent < count:
            if deadline is not None and time.monotonic() - start >= deadline:
                break
            sent += 1
            if answers:
                rtt = 0.05 + (os.getpid() % 7) * 0.01 + (sent % 5) * 0.013
                rtts.append(rtt)
                received += 1
                ttl = 64 if ip == tool.pod.ip or ip.startswith("127.") else 63
                seq = f"seq={sent - 1}" if busybox else f"icmp_seq={sent}"
                tool.out(f"64 bytes from {ip}: {seq} ttl={ttl} time={rtt:.3f} ms\n")
                await tool.flush()
            if count is not None and sent >= count:
                if not answers:   # the last echo request waits for its reply (-W, default 10 s)
                    left = (deadline - (time.monotonic() - start)) if deadline else None
                    await asyncio.sleep(min(x for x in (wait or 10.0, left) if x is not None))
                break
            await asyncio.sleep(interval if answers or wait is None else min(interval, wait))
    except asyncio.CancelledError:
        raise
    total = int((time.monotonic() - start) * 1000)
    loss = 0 if sent == 0 else round(100 * (sent - received) / sent)
    if busybox:
        tool.out(f"\n--- {target} ping statistics ---\n{sent} packets transmitted, {received} "
                 f"packets received, {loss}% packet loss\n")
        if rtts:
            tool.out(f"round-trip min/avg/max = {min(rtts):.3f}/{sum(rtts) / len(rtts):.3f}/"
                     f"{max(rtts):.3f} ms\n")
    else:
        tool.out(f"\n--- {target} ping statistics ---\n{sent} packets transmitted, {received} "
                 f"received, {loss}% packet loss, time {total}ms\n")
        if rtts:
            tool.out(f"rtt min/avg/max/mdev = {min(rtts):.3f}/{sum(rtts) / len(rtts):.3f}/"
                     f"{max(rtts):.3f}/0.010 ms\n")
    return 0 if received else 1


async def hostname(net: Network, tool: Tool) -> int:
    args = tool.argv[1:]
    pod = tool.pod.pod or {}
    name = (pod.get("spec") or {}).get("hostname") or tool.pod.name
    if "-i" in args or "--ip-address" in args or "-I" in args:
        tool.out(f"{tool.pod.ip}{' ' if '-I' in args else ''}\n")
    elif args and not args[0].startswith("-"):
        tool.err("hostname: you must be root to change the host name\n")
        return 1
    else:
        tool.out(name + "\n")
    return 0

