"""curl 8.14 as the labs and learners use it: -s -S -v -I -i -o -O -D -w -m --connect-timeout
-H -X -d -A -L -f -k, the progress meter, and its exit codes and messages (6, 7, 28, 22, ...)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..images import CURL_VERSION
from ..network import Network
from ..toolserver import Tool
from .http import Exchange, Target, UrlError, exchange, parse_url

VALUE_SHORT = set("oDwmHXdAeurxbcTFEKYyzCQ")
FLAG_SHORT = set("sSvIiLkfO46NGg#Z0qlJR")
VALUE_LONG = {
    "output", "dump-header", "write-out", "max-time", "connect-timeout", "header", "request",
    "data", "data-raw", "data-binary", "data-ascii", "data-urlencode", "user-agent", "referer",
    "user", "resolve", "proxy", "cookie", "cookie-jar", "upload-file", "form", "retry",
    "retry-delay", "retry-max-time", "max-redirs", "interface", "url", "config", "range",
    "cacert", "cert", "key", "connect-to", "expect100-timeout", "limit-rate", "max-filesize",
    "speed-time", "speed-limit", "keepalive-time", "local-port", "dns-servers", "unix-socket",
}
FLAG_LONG = {
    "silent", "show-error", "verbose", "head", "include", "location", "insecure", "fail",
    "remote-name", "ipv4", "ipv6", "no-buffer", "get", "globoff", "progress-bar", "http1.1",
    "http1.0", "http2", "http2-prior-knowledge", "compressed", "fail-with-body", "no-keepalive",
    "raw", "tcp-nodelay", "path-as-is", "no-progress-meter", "show-headers", "disable",
    "location-trusted", "retry-connrefused", "retry-all-errors", "no-sessionid", "styled-output",
    "no-styled-output", "create-dirs", "remote-header-name", "ssl-reqd", "http0.9",
}
SHORT_TO_LONG = {"o": "output", "D": "dump-header", "w": "write-out", "m": "max-time",
                 "H": "header", "X": "request", "d": "data", "A": "user-agent", "e": "referer",
                 "u": "user", "x": "proxy", "b": "cookie", "c": "cookie-jar", "T": "upload-file",
                 "F": "form", "r": "range", "K": "config", "E": "cert", "s": "silent",
                 "S": "show-error", "v": "verbose", "I": "head", "i": "include", "L": "location",
                 "k": "insecure", "f": "fail", "O": "remote-name", "4": "ipv4", "6": "ipv6",
                 "N": "no-buffer", "G": "get", "g": "globoff", "#": "progress-bar"}
HELP_HINT = "curl: try 'curl --help' or 'curl --manual' for more information\n"


class Usage(Exception):
    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Opts:
    urls: list[str] = field(default_factory=list)
    silent: bool = False
    show_error: bool = False
    verbose: bool = False
    head: bool = False
    include: bool = False
    location: bool = False
    fail: bool = False
    insecure: bool = False
    remote_name: bool = False
    no_meter: bool = False
    no_buffer: bool = False
    output: str | None = None
    dump_header: str | None = None
    write_out: str | None = None
    max_time: float | None = None
    connect_timeout: float | None = None
    headers: list[str] = field(default_factory=list)
    method: str | None = None
    data: list[str] = field(default_factory=list)
    user_agent: str = f"curl/{CURL_VERSION}"
    max_redirs: int = 50


def _num(opt: str, v: str) -> float:
    try:
        return float(v)
    except ValueError as e:
        raise Usage(f"curl: option --{opt}: expected a proper numerical parameter\n") from e


def parse(argv: list[str]) -> Opts:
    o = Opts()
    i = 0
    pending: list[tuple[str, str]] = []
    while i < len(argv):
        a = argv[i]
        i += 1
        if a.startswith("--") and len(a) > 2:
            name = a[2:]
            val = None
            if "=" in name and name.split("=")[0] in VALUE_LONG:
                name, val = name.split("=", 1)
            neg = False
            if name.startswith("no-") and name[3:] in FLAG_LONG:
                name, neg = name[3:], True
            if name in VALUE_LONG:
                if val is None:
                    if i >= len(argv):
                        raise Usage(f"curl: option --{name}: requires parameter\n")
                    val = argv[i]
                    i += 1
                pending.append((name, val))
            elif name in FLAG_LONG:
                pending.append((name, "0" if neg else "1"))
            else:
                raise Usage(f"curl: option {a}: is unknown\n")
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                c = a[j]
                j += 1
                if c in VALUE_SHORT:
                    val = a[j:]
                    if not val:
                        if i >= len(argv):
                            raise Usage(f"curl: option -{c}: requires parameter\n")
                        val = argv[i]
                        i += 1
                    pending.append((SHORT_TO_LONG.get(c, c), val))
                    break
                if c in FLAG_SHORT:
                    pending.append((SHORT_TO_LONG.get(c, c), "1"))
                else:
                    raise Usage(f"curl: option -{c}: is unknown\n")
        else:
            o.urls.append(a)
    for name, val in pending:
        on = val == "1"
        if name == "silent":
            o.silent = on
        elif name == "show-error":
            o.show_error = on
        elif name == "verbose":
            o.verbose = on
        elif name == "head":
            o.head = on
        elif name in ("include", "show-headers"):
            o.include = on
        elif name in ("location", "location-trusted"):
            o.location = on
        elif name == "insecure":
            o.insecure = on
        elif name in ("fail", "fail-with-body"):
            o.fail = on
        elif name == "remote-name":
            o.remote_name = on
        elif name == "no-progress-meter":
            o.no_meter = on
        elif name == "no-buffer":
            o.no_buffer = on
        elif name == "output":
            o.output = val
        elif name == "dump-header":
            o.dump_header = val
        elif name == "write-out":
            o.write_out = val
        elif name == "max-time":
            o.max_time = _num(name, val)
        elif name == "connect-timeout":
            o.connect_timeout = _num(name, val)
        elif name == "header":
            o.headers.append(val)
        elif name == "request":
            o.method = val
        elif name in ("data", "data-raw", "data-binary", "data-ascii", "data-urlencode"):
            o.data.append(val)
        elif name == "user-agent":
            o.user_agent = val
        elif name == "url":
            o.urls.append(val)
        elif name == "max-redirs":
            o.max_redirs = int(_num(name, val))
    return o


def _request_headers(o: Opts, t: Target, body: bytes) -> list[tuple[str, str]]:
    hs: list[tuple[str, str]] = [("Host", t.host_header)]
    if o.user_agent:
        hs.append(("User-Agent", o.user_agent))
    hs.append(("Accept", "*/*"))
    if body or o.data:
        hs.append(("Content-Length", str(len(body))))
        hs.append(("Content-Type", "application/x-www-form-urlencoded"))
    for h in o.headers:
        if ":" in h:
            k, v = h.split(":", 1)
            v = v.strip()
            hs = [(a, b) for a, b in hs if a.lower() != k.lower()]
            if v:
                hs.append((k, v))
        elif h.endswith(";"):
            hs.append((h[:-1], ""))
    return hs


def _fmt_time(s: float) -> str:
    return f"{s:.6f}"


def write_out(fmt: str, ex: Exchange | None, code: int, errmsg: str, out: bytes,
              tool: Tool, method: str) -> tuple[bytes, bytes]:
    """Expand -w; returns (to stdout, to stderr)."""
    resp = ex.response if ex else None
    req_headers = ex.request.headers if ex and ex.request else []
    vals = {
        "http_code": f"{resp.status:03d}" if resp else "000",
        "response_code": f"{resp.status:03d}" if resp else "000",
        "time_total": _fmt_time(ex.t_total if ex else 0), "time_namelookup":
        _fmt_time(ex.t_lookup if ex else 0), "time_connect": _fmt_time(ex.t_connect if ex else 0),
        "time_appconnect": _fmt_time(0), "time_pretransfer": _fmt_time(ex.t_connect if ex else 0),
        "time_starttransfer": _fmt_time(ex.t_total if ex and resp else 0),
        "time_redirect": _fmt_time(0),
        "remote_ip": ex.ip if ex and ex.route and ex.outcome in ("ok", "refused", "tls") else "",
        "remote_port": str(ex.target.port) if ex and ex.outcome in ("ok", "refused") else "",
        "local_ip": tool.pod.ip if ex and ex.outcome == "ok" else "",
        "local_port": str(ex.local_port) if ex and ex.outcome == "ok" else "",
        "size_download": str(len(resp.body) if resp and method != "HEAD" else 0),
        "size_header": str(len(resp.head_bytes()) if resp else 0),
        "size_request": str(sum(len(k) + len(v) + 4 for k, v in req_headers) + 20),
        "size_upload": "0", "speed_download": "0", "speed_upload": "0",
        "content_type": dict((k.lower(), v) for k, v in (resp.headers if resp else [])).get(
            "content-type", ""),
        "url_effective": ex.target.url if ex else "", "url": ex.target.url if ex else "",
        "num_connects": "1" if ex and ex.outcome == "ok" else "0", "num_redirects": "0",
        "redirect_url": "", "exitcode": str(code), "errormsg": errmsg, "method": method,
        "scheme": (ex.target.scheme if ex else "").upper(),
        "http_version": "1.1" if resp else "0", "num_headers": str(len(resp.headers) if resp
                                                                    else 0),
    }
    stdout: list[str] = []
    stderr: list[str] = []
    target = stdout
    i = 0
    s = fmt
    if s.startswith("@"):
        s = ""
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            target.append({"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
        elif c == "%" and s.startswith("%%", i):
            target.append("%")
            i += 2
        elif c == "%" and s.startswith("%{", i):
            end = s.find("}", i)
            if end < 0:
                target.append(s[i:])
                break
            var = s[i + 2:end]
            if var == "stderr":
                target = stderr
            elif var == "stdout":
                target = stdout
            elif var in vals:
                target.append(vals[var])
            else:
                stderr.append(f"curl: unknown --write-out variable: '{var}'\n")
            i = end + 1
        elif c == "%" and s.startswith("%header{", i):
            end = s.find("}", i)
            name = s[i + 8:end].lower()
            target.append(dict((k.lower(), v) for k, v in (resp.headers if resp else []))
                          .get(name, ""))
            i = end + 1
        else:
            target.append(c)
            i += 1
    return "".join(stdout).encode(), "".join(stderr).encode()


def _max5(n: float) -> str:
    """curl's max5data: a size or speed in at most 5 characters."""
    if n < 100000:
        return f"{int(n):5d}"
    if n < 10000 * 1024:
        return f"{n / 1024:4.0f}k" if n >= 1000 * 1024 else f"{int(n / 1024):4d}k"
    if n < 100 * 1024 * 1024:
        return f"{n / 1024 / 1024:4.1f}M"
    return f"{n / 1024 / 1024:4.0f}M"


def _meter(size: int, secs: float) -> str:
    speed = _max5(size / secs if secs > 0 else size * 1000)
    pct = 100 if size else 0
    return ("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
            "                                 Dload  Upload   Total   Spent    Left  Speed\n"
            "\r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0"
            f"\r{pct:3d} {_max5(size)}  {pct:3d} {_max5(size)}    0     0  {speed}      "
            f"0 --:--:-- --:--:-- --:--:-- {speed}\n")


async def run(net: Network, tool: Tool) -> int:
    try:
        o = parse(tool.argv[1:])
    except Usage as u:
        tool.err(str(u))
        tool.err(HELP_HINT)
        return u.code
    if not o.urls:
        tool.err("curl: no URL specified\n" + HELP_HINT)
        return 2
    show_err = (not o.silent) or o.show_error
    out = tool.out if tool.stdout_tty or o.no_buffer else _Stdio(tool)
    code = 0
    try:
        for n, url in enumerate(o.urls):
            code = await _one(net, tool, o, url, show_err, out, first=n == 0) or code
    finally:
        if isinstance(out, _Stdio):
            out.flush()
    return code


class _Stdio:
    """curl writes what it downloads (and -w, -D -) through stdio, while its messages and the
    -v trace go to unbuffered stderr. To a terminal stdout is line-buffered; otherwise (a pipe,
    a file) glibc buffers it in blocks of 4096 bytes and flushes the rest at exit, so with
    `2>&1 | ...` the body of a small page comes after "* Connection #0 ... left intact"."""

    BLOCK = 4096

    def __init__(self, tool: Tool) -> None:
        self.tool = tool
        self.held = b""

    def __call__(self, data: str | bytes) -> None:
        self.held += data.encode() if isinstance(data, str) else data
        full = len(self.held) - len(self.held) % self.BLOCK
        if full:
            self.tool.out(self.held[:full])
            self.held = self.held[full:]

    def flush(self) -> None:
        if self.held:
            self.tool.out(self.held)
            self.held = b""


async def _one(net: Network, tool: Tool, o: Opts, url: str, show_err: bool,
               out: Callable[[str | bytes], None], first: bool) -> int:
    v = tool.err if o.verbose else (lambda _s: None)
    try:
        t = parse_url(url)
    except UrlError as e:
        msg = f'Protocol "{e}" not supported' if str(e) != "port" else \
            "URL rejected: Port number was not a decimal number between 0 and 65535"
        if show_err:
            tool.err(f"curl: ({1 if str(e) != 'port' else 3}) {msg}\n")
        return 1 if str(e) != "port" else 3
    body = "&".join(o.data).encode()
    method = o.method or ("HEAD" if o.head else "POST" if o.data else "GET")
    hs = _request_headers(o, t, body)
    redirects = 0
    while True:
        ex = await exchange(net, tool.pod, t, method, hs, body, max_time=o.max_time,
                            connect_timeout=o.connect_timeout, insecure=o.insecure)
        if ex.resolved is not None and ex.ip:
            v(f"* Host {t.host}:{t.port} was resolved.\n* IPv6: (none)\n"
              f"* IPv4: {', '.join(ex.resolved.addresses())}\n")
        if ex.ip:
            v(f"*   Trying {ex.ip}:{t.port}...\n")
        code, msg = 0, ""
        ms = ex.elapsed_ms()
        if ex.outcome == "resolve":
            code, msg = 6, f"Could not resolve host: {t.host}"
            v(f"* Could not resolve host: {t.host}\n* shutting down connection #0\n")
        elif ex.outcome == "refused":
            v(f"* connect to {ex.ip} port {t.port} from {tool.pod.ip} port {ex.local_port} "
              f"failed: Connection refused\n")
            code = 7
            msg = f"Failed to connect to {t.host} port {t.port} after {ms} ms: Could not connect to server"
            v(f"* {msg}\n* closing connection #0\n")
        elif ex.outcome in ("unreachable", "drop"):   # the kernel gave up: EHOSTUNREACH/ETIMEDOUT
            why = "No route to host" if ex.outcome == "unreachable" else "Connection timed out"
            v(f"* connect to {ex.ip} port {t.port} from {tool.pod.ip} port {ex.local_port} "
              f"failed: {why}\n")
            code = 7
            msg = f"Failed to connect to {t.host} port {t.port} after {ms} ms: Could not connect to server"
            v(f"* {msg}\n* closing connection #0\n")
        elif ex.outcome == "timeout":
            code = 28
            if o.max_time and (not o.connect_timeout or o.max_time <= o.connect_timeout):
                msg = f"Connection timed out after {ms} milliseconds"
            else:
                msg = f"Failed to connect to {t.host} port {t.port} after {ms} ms: Timeout was reached"
            v(f"* {msg}\n* closing connection #0\n")
        elif ex.outcome == "verify":
            v(f"* Connected to {t.host} ({ex.ip}) port {t.port}\n* ALPN: curl offers "
              "h2,http/1.1\n* TLSv1.3 (OUT), TLS handshake, Client hello (1):\n"
              "* TLSv1.3 (IN), TLS handshake, Server hello (2):\n"
              "* TLSv1.3 (OUT), TLS alert, unknown CA (560):\n"
              "* SSL certificate problem: unable to get local issuer certificate\n"
              "* closing connection #0\n")
            code = 60
            msg = ("SSL certificate problem: unable to get local issuer certificate\n"
                   "More details here: https://curl.se/docs/sslcerts.html\n\n"
                   "curl failed to verify the legitimacy of the server and therefore could not\n"
                   "establish a secure connection to it. To learn more about this situation and\n"
                   "how to fix it, please visit the webpage mentioned above.")
        elif ex.outcome == "tls":
            v(f"* Connected to {t.host} ({ex.ip}) port {t.port}\n* ALPN: curl offers h2,http/1.1\n"
              "* TLSv1.3 (OUT), TLS handshake, Client hello (1):\n")
            code = 35
            msg = ("TLS connect error: error:0A00010B:SSL routines::wrong version number")
        if code:
            if show_err:
                tool.err(f"curl: ({code}) {msg}\n")
            if o.write_out is not None:
                so, se = write_out(o.write_out, ex, code, msg, b"", tool, method)
                out(so) if so else None
                tool.err(se) if se else None
            return code
        resp = ex.response
        assert resp is not None and ex.request is not None
        v(f"* Connected to {t.host} ({ex.ip}) port {t.port}\n* using HTTP/1.x\n")
        if o.verbose:
            req_line = f"> {method} {t.target} HTTP/1.1\r\n"
            tool.err(req_line + "".join(f"> {k}: {val}\r\n" for k, val in hs) + "> \r\n")
            tool.err(f"< {resp.status_line}\r\n" +
                     "".join(f"< {k}: {val}\r\n" for k, val in resp.headers) + "< \r\n")
        loc = dict((k.lower(), val) for k, val in resp.headers).get("location")
        if o.location and loc and resp.status in (301, 302, 303, 307, 308) and \
                redirects < o.max_redirs:
            redirects += 1
            v(f"* Connection #0 to host {t.host} left intact\n* Issue another request to this "
              f"URL: '{loc}'\n")
            try:
                t = parse_url(loc if "://" in loc else f"{t.scheme}://{t.host_header}{loc}")
            except UrlError:
                break
            hs = _request_headers(o, t, body)
            continue
        break
    head = resp.head_bytes()
    payload = b"" if method == "HEAD" else resp.body
    if o.fail and resp.status >= 400:
        code = 22
        msg = f"The requested URL returned error: {resp.status}"
        v(f"* {msg}\n* closing connection #0\n")
        if show_err:
            tool.err(f"curl: (22) {msg}\n")
        if o.write_out is not None:
            so, se = write_out(o.write_out, ex, code, msg, b"", tool, method)
            out(so) if so else None
            tool.err(se) if se else None
        return 22
    if o.dump_header:
        if o.dump_header == "-":
            out(head)
        elif o.dump_header == "%":
            tool.err(head)
        else:
            tool.open(o.dump_header)
            tool.write(head)
            tool.close_file()
    out_name = o.output
    if o.remote_name and not out_name:
        out_name = t.target.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        if not out_name:
            tool.err("curl: (23) Remote file name has no length\n")
            return 23
    body_out = (head if (o.include or o.head) else b"") + payload
    if out_name and out_name != "-":
        tool.open(out_name)
        tool.write(body_out)
        tool.close_file()
    else:
        out(body_out)
    if o.verbose:
        if payload and (not tool.stdout_tty or (out_name and out_name != "-")):
            tool.err(f"{{ [{len(payload)} bytes data]\n")
        tool.err(f"* Connection #0 to host {t.host} left intact\n")
    to_terminal = (not out_name or out_name == "-") and tool.stdout_tty
    if not o.silent and not o.no_meter and not to_terminal and not o.verbose:
        tool.err(_meter(len(payload), ex.t_total))
    if o.write_out is not None:
        so, se = write_out(o.write_out, ex, 0, "", body_out, tool, method)
        if so:
            out(so)
        if se:
            tool.err(se)
    return 0

