"""The probe batch script runs with a real shell and a real curl, against servers on 127.0.0.1."""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest

from labs import probing
from labs.probing import Dns, Http

# The script runs on this machine here (in a lab it runs in the client pod, which has curl).
needs_curl = pytest.mark.skipif(
    shutil.which("curl") is None,
    reason="curl is not installed on this machine: apt-get install curl (.ci/run installs it)")


class Echo(http.server.BaseHTTPRequestHandler):
    """Answers like the labs' web pods: the body and a header name the 'pod'."""

    pods = ["deploy-test01-5b8c666f54-nhmwn", "deploy-test01-5b8c666f54-t4v8q"]
    turn = 0

    def do_GET(self) -> None:  # noqa: N802
        pod = self.pods[Echo.turn % 2]
        Echo.turn += 1
        status = 404 if self.path == "/missing" else 200
        body = f"Host={self.headers['Host']} Path={self.path} From={pod}\n".encode()
        self.send_response(status)
        self.send_header("X-Pod-Name", pod)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_locally(probes: list[Http | Dns]) -> list:
    """What the exec does in a pod, with this machine's sh and curl."""
    out = subprocess.run(["/bin/sh", "-c", probing.script(probes)], capture_output=True,
                         text=True, timeout=60).stdout
    return probing.parse(out, probes)


@needs_curl
def test_one_batch_returns_status_pod_headers_and_timing(server):
    [results] = run_locally([Http(f"{server}/", 4)])
    assert [r.status for r in results] == [200] * 4
    assert {r.pod for r in results} == set(Echo.pods)
    assert all(r.ok and r.exit_code == 0 and 0 < r.seconds < 5 for r in results)
    assert results[0].headers["content-type"] == "text/plain"
    assert results[0].body.startswith("Host=127.0.0.1:")


@needs_curl
def test_http_errors_refusals_and_dns_in_one_batch(server):
    port = closed_port()
    probes = [Http(f"{server}/missing"), Http(f"http://127.0.0.1:{port}/", 2, 2),
              Dns("localhost"), Dns("no-such-name.invalid"), Http(f"{server}/", 1)]
    missing, refused, local, unknown, last = run_locally(probes)
    assert (missing[0].ok, missing[0].status) == (True, 404)
    assert [r.exit_code for r in refused] == [7, 7]
    assert all(not r.ok and "Failed to connect" in r.error for r in refused)
    assert local.ok and local.addresses[0] in ("127.0.0.1", "::1")
    assert not unknown.ok and unknown.addresses == []
    assert last[0].status == 200


@needs_curl
def test_a_hanging_server_is_cut_by_the_request_timeout():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)  # accepts, never answers
    try:
        [results] = run_locally([Http(f"http://127.0.0.1:{s.getsockname()[1]}/", 1, 1)])
    finally:
        s.close()
    assert results[0].exit_code == 28 and "timed out" in results[0].error


@needs_curl
def test_quotes_in_urls_cannot_break_out_of_the_script(server, tmp_path):
    marker = tmp_path / "pwned"
    [results] = run_locally([Http(f"{server}/x';touch {marker};'", 1)])
    assert not marker.exists()
    assert results[0].exit_code == 3  # curl got the whole string as one (bad) URL


def test_a_missing_curl_is_reported_per_request():
    out = "@@http 127 \n@@body \n@@err sh: 1: curl: not found\n"
    [results] = probing.parse(out, [Http("http://web-service/")])
    assert results[0].exit_code == 127 and results[0].error == "sh: 1: curl: not found"


def test_host_probes_use_the_same_result_shape(server):
    results = probing.http_from_host(f"{server}/", 2)
    assert {r.pod for r in results} == set(Echo.pods)
    refused = probing.http_from_host(f"http://127.0.0.1:{closed_port()}/", 1, 1)
    assert not refused[0].ok and refused[0].exit_code == 7 and "refused" in refused[0].error.lower()
