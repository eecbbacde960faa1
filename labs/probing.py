"""Probe Services from inside the cluster: one exec into a test pod runs a whole batch of curl
requests and DNS lookups and returns structured results (status, headers, which pod answered,
timing). Host-side probes (NodePorts mapped to 127.0.0.1) use the same result shape.

The script runs with the POSIX shell and curl of the pod's image (nginx's image has both), and
prints marker lines that :func:`parse` reads back.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import re
import shlex
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL

from .errors import ProbeError, cut
from .kube import Kube, status_error

_FROM = re.compile(r"\bFrom=(\S+)")


@dataclass
class HttpResult:
    url: str
    ok: bool                      # an HTTP answer arrived (any status)
    status: int = 0
    seconds: float = 0.0
    pod: str | None = None        # the pod that answered (X-Pod-Name header or From= in the body)
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    error: str = ""               # curl's message when no answer arrived
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DnsResult:
    name: str
    ok: bool
    addresses: list[str] = field(default_factory=list)
    canonical: str = ""           # the name after following CNAMEs
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Http:
    url: str
    count: int = 1
    timeout: float = 3.0


@dataclass(frozen=True)
class Dns:
    name: str


_HELPERS = r"""
h() { n=0; while [ "$n" -lt "$2" ]; do
  r=$(curl -sS -o /tmp/.probe-body -D /tmp/.probe-head -m "$3" \
    -w '%{http_code} %{time_total}' "$1" 2>/tmp/.probe-err)
  c=$?; echo "@@http $c $r"; sed 's/^/@@h /' /tmp/.probe-head 2>/dev/null | tr -d '\r'
  printf '@@body '; head -c 400 /tmp/.probe-body 2>/dev/null | tr '\n\r' '  '; echo
  printf '@@err '; head -c 300 /tmp/.probe-err 2>/dev/null | tr '\n\r' '  '; echo
  rm -f /tmp/.probe-body /tmp/.probe-head /tmp/.probe-err; n=$((n+1)); done; }
d() { r=$(getent hosts "$1" 2>&1); c=$?; echo "@@dns $c $(echo $r)"; }
"""


def script(probes: list[Http | Dns]) -> str:
    lines = [_HELPERS.strip()]
    for p in probes:
        if isinstance(p, Http):
            lines.append(f"h {shlex.quote(p.url)} {int(p.count)} {p.timeout:g}")
        else:
            lines.append(f"d {shlex.quote(p.name)}")
    return "\n".join(lines) + "\n"


def parse(out: str, probes: list[Http | Dns]) -> list[list[HttpResult] | DnsResult]:
    """Read the marker lines back into one result (DNS) or result list (HTTP) per probe."""
    results: list[list[HttpResult] | DnsResult] = []
    lines = iter(out.splitlines())
    for p in probes:
        if isinstance(p, Dns):
            line = next((ln for ln in lines if ln.startswith("@@dns ")), "@@dns 1 ")
            rc, _, rest = line[6:].partition(" ")
            words = rest.split()
            ok = rc == "0" and bool(words)
            # getent hosts prints one line per address: "<ip> <canonical> [aliases]"
            addresses = list(dict.fromkeys(w for w in words if _is_ip(w))) if ok else []
            names = [w for w in words if not _is_ip(w)]
            results.append(DnsResult(p.name, ok, addresses=addresses,
                                     canonical=names[0] if ok and names else "",
                                     error="" if ok else (rest or "name not found")))
            continue
        batch: list[HttpResult] = []
        for _ in range(p.count):
            found = next((ln for ln in lines if ln.startswith("@@http ")), None)
            if found is None:
                batch.append(HttpResult(p.url, False, error="the probe stopped early"))
                continue
            parts = found.split()
            code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 1
            status = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
            secs = float(parts[3]) if len(parts) > 3 else 0.0
            headers: dict[str, str] = {}
            body = err = ""
            for ln in lines:
                if ln.startswith("@@h "):
                    k, sep, v = ln[4:].partition(":")
                    if sep:
                        headers[k.strip().lower()] = v.strip()
                elif ln.startswith("@@body"):
                    body = ln[7:].strip()
                elif ln.startswith("@@err"):
                    err = ln[6:].strip()
                    break
            if code == 127 or "not found" in err and status == 0 and "curl" in err:
                err = err or "curl: command not found"
            batch.append(HttpResult(p.url, ok=code == 0 and status > 0, status=status,
                                    seconds=secs, pod=served_by(headers, body),
                                    headers=headers, body=body, error=err, exit_code=code))
        results.append(batch)
    return results


def _is_ip(word: str) -> bool:
    try:
        ipaddress.ip_address(word)
    except ValueError:
        return False
    return True


def served_by(headers: dict[str, str], body: str) -> str | None:
    if headers.get("x-pod-name"):
        return headers["x-pod-name"]
    m = _FROM.search(body)
    return m.group(1) if m else None


def run(kube: Kube, namespace: str, pod: str, probes: list[Http | Dns], *,
        container: str | None = None, timeout: float | None = None
        ) -> list[list[HttpResult] | DnsResult]:
    """Run every probe in one exec in ``pod``; raise ProbeError if the exec itself fails."""
    if not probes:
        return []
    budget = timeout or 10 + sum(p.count * (p.timeout + 0.5) if isinstance(p, Http) else 2
                                 for p in probes)
    kube.requests += 1
    try:
        ws = stream(kube.core.connect_get_namespaced_pod_exec, pod, namespace,
                    command=["/bin/sh", "-c", script(probes)], container=container,
                    stderr=True, stdin=False, stdout=True, tty=False,
                    _preload_content=False, _request_timeout=budget)
    except Exception as e:  # ApiException for a missing pod, websocket errors
        raise exec_error(e, namespace, pod) from e
    out: list[str] = []
    deadline = time.monotonic() + budget
    try:
        while ws.is_open():
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProbeError(f"the probe in pod {pod} did not finish within {budget:.0f} s",
                                 where=f"pod/{pod} in {namespace}",
                                 fix="a request hangs: check the Service's endpoints "
                                     f"(kubectl get endpointslices -n {namespace})")
            ws.update(timeout=min(left, 1))
            if ws.peek_stdout():
                out.append(ws.read_stdout())
        error = ws.read_channel(ERROR_CHANNEL)
    finally:
        ws.close()
    text = "".join(out)
    if "@@" not in text and error and '"Success"' not in error:
        raise ProbeError(f"the probe could not run in pod {pod}: {cut(error, 200)}",
                         where=f"pod/{pod} in {namespace}",
                         fix="the pod's image needs /bin/sh, curl and getent "
                             "(the lab's nginx01 has them)")
    return parse(text, probes)


def exec_error(e: Exception, namespace: str, pod: str) -> ProbeError:
    code = getattr(e, "status", None)
    if code:
        st = status_error(e)  # type: ignore[arg-type]
        if st.code == 404:
            return ProbeError(f"there is no pod {pod} to probe from", where=f"namespace {namespace}",
                              fix="apply the lab's client pod (manifests/common/nginx-test01.yml)")
        return ProbeError(f"exec into {pod} was refused: {st.what}", where=f"pod/{pod}",
                          fix=f"wait until the pod is Running (kubectl get pod -n {namespace} {pod})")
    handshake = re.search(r"Handshake status (\d+)", str(e))
    if handshake:
        message = re.search(r'"message":\s*"((?:[^"\\]|\\.)*)"', str(e))
        return ProbeError(f"exec into {pod} was refused (HTTP {handshake.group(1)}): "
                          f"{cut(message.group(1) if message else e, 200)}", where=f"pod/{pod}",
                          fix=f"check the pod: kubectl describe pod -n {namespace} {pod}")
    return ProbeError(f"exec into {pod} failed: {cut(e, 200)}", where=f"pod/{pod}",
                      fix=f"check the pod: kubectl describe pod -n {namespace} {pod}")


# The address this learner's cluster maps its NodePorts to on this machine, when not 127.0.0.1:
# LAB_HOST_IP (a classroom gives each student's embedded cluster its own loopback address), or,
# for an instructor's process grading several students at once, set per thread.
HOST_IP: contextvars.ContextVar[str | None] = contextvars.ContextVar("lab_host_ip", default=None)


def host_url(url: str) -> str:
    """``url`` as this learner reaches it from this machine: 127.0.0.1 and localhost become the
    learner's own host address when one is set (HOST_IP, else LAB_HOST_IP)."""
    own = HOST_IP.get() or os.environ.get("LAB_HOST_IP", "").strip()
    parts = urllib.parse.urlsplit(url)
    if not own or parts.hostname not in ("127.0.0.1", "localhost"):
        return url
    netloc = own + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def http_from_host(url: str, count: int = 1, timeout: float = 3.0) -> list[HttpResult]:
    """The same requests from this machine (NodePorts mapped to 127.0.0.1, or to the learner's
    own address: :func:`host_url`)."""
    url = host_url(url)
    results = []
    for _ in range(count):
        start = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                body = resp.read(400).decode("utf-8", "replace")
                headers = {k.lower(): v for k, v in resp.headers.items()}
                results.append(HttpResult(url, True, resp.status, time.monotonic() - start,
                                          served_by(headers, body), headers, body))
        except urllib.error.HTTPError as e:
            headers = {k.lower(): v for k, v in e.headers.items()}
            results.append(HttpResult(url, True, e.code, time.monotonic() - start,
                                      served_by(headers, ""), headers))
        except (OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            results.append(HttpResult(url, False, seconds=time.monotonic() - start,
                                      error=cut(reason, 200), exit_code=7))
    return results
