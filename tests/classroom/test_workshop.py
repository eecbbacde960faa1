"""The one-machine workshop end to end: `python -m classroom hub` (what `make classroom` runs) with
three students. Each student solves the NodePort lab through their own server's API (a terminal
of their JupyterLab), their NodePort answers on their own address only, the scoreboard grades
each student's own cluster, and student A's requests to B's server and files are refused. Then A's
server is stopped as the idle culler stops it and started again: A's work is still there.

Needs root (the students are Unix users); the users are created under a private prefix and
removed afterwards with their homes.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.classroom, pytest.mark.timeout(420)]

PROJECT = Path(__file__).resolve().parents[2]
STUDENTS = ("stu-a", "stu-b", "stu-c")

if os.geteuid() != 0:
    pytest.skip("the classroom's students are Unix users: needs root (CI runs as root)",
                allow_module_level=True)
if shutil.which("npm") is None:
    pytest.skip("JupyterHub's proxy (configurable-http-proxy) is installed with npm, which is not "
                "on PATH: apt-get install npm (Node.js 20 or newer); .ci/run installs it",
                allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(method: str, url: str, token: str, body: dict | None = None, timeout: float = 30
         ) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get_host(address: str, port: int = 31001) -> tuple[int, str]:
    """A request to the student's NodePort from this machine: status and the serving pod."""
    try:
        with urllib.request.urlopen(f"http://{address}:{port}/", timeout=5) as resp:
            return resp.status, resp.headers.get("X-Pod-Name", "")
    except (OSError, urllib.error.URLError) as e:
        return 0, str(e)


class Hub:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.prefix = f"c{uuid.uuid4().hex[:4]}-"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "CLASSROOM_DIR": str(tmp / "state"),
                    "CLASSROOM_HOMES": str(tmp / "homes"), "CLASSROOM_UNIX_PREFIX": self.prefix,
                    "CLASSROOM_GROUP": f"{self.prefix}students",
                    "CLASSROOM_ADDRESS_BLOCK": "127.78.0.0/16"}
        self.roster = tmp / "roster.txt"
        self.roster.write_text("instructor: teach\n" + "\n".join(STUDENTS) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / "hub.log"

    def start(self) -> None:
        (self.tmp / "homes").mkdir(mode=0o755)
        self.tmp.chmod(0o755)
        argv = [sys.executable, "-m", "classroom", "hub", "--roster", str(self.roster),
                "--password", "a-room-password", "--port", str(self.port),
                "--hub-port", str(free_port()), "--proxy-api-port", str(free_port()),
                "--scoreboard-port", str(free_port())]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, cwd=PROJECT, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 240   # the first run builds .classroom/venv (pip)
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            token_file = self.state / "instructor-token"
            if token_file.exists():
                try:
                    status, _ = call("GET", f"{self.base}/hub/api/users",
                                     token_file.read_text().strip(), timeout=3)
                except urllib.error.URLError:   # not listening yet
                    status = 0
                if status == 200:
                    return
            time.sleep(0.5)
        raise AssertionError("the hub did not answer: " + self.log.read_text()[-3000:])

    @property
    def state(self) -> Path:
        return self.tmp / "state" / "hub"

    @property
    def token(self) -> str:
        return (self.state / "instructor-token").read_text().strip()

    @property
    def settings(self) -> dict:
        return json.loads((self.state / "settings.json").read_text())

    def api(self, method: str, path: str, body: dict | None = None, token: str | None = None
            ) -> tuple[int, bytes]:
        return call(method, f"{self.base}/hub/api{path}", token or self.token, body)

    def wait_server(self, user: str, ready: bool = True, timeout: float = 150) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, body = self.api("GET", f"/users/{user}")
            server = json.loads(body)["servers"].get("") if status == 200 else None
            if (bool(server and server.get("ready")) if ready else not server):
                return
            time.sleep(0.5)
        raise AssertionError(f"{user}'s server not {'ready' if ready else 'stopped'}: "
                             + self.log.read_text()[-3000:])

    def user_token(self, user: str) -> str:
        status, body = self.api("POST", f"/users/{user}/tokens", {"note": "test", "expires_in": 3600})
        assert status == 201, body
        return str(json.loads(body)["token"])

    def home(self, user: str) -> Path:
        return Path(pwd.getpwnam(self.prefix + user).pw_dir)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)   # the hub stops every server (and cluster)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def remove_users(self) -> None:
        uids = set()
        for s in STUDENTS:
            try:
                uids.add(pwd.getpwnam(self.prefix + s).pw_uid)
            except KeyError:
                pass
        # what this test started as those users and left running (by pid, users of this test only)
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if proc.stat().st_uid in uids:
                        os.kill(int(proc.name), signal.SIGKILL)
                except (OSError, ProcessLookupError):
                    pass
        time.sleep(0.5)
        for s in STUDENTS:
            subprocess.run(["userdel", "--remove", self.prefix + s], capture_output=True)
        subprocess.run(["groupdel", f"{self.prefix}students"], capture_output=True)


def terminal(hub: Hub, user: str, token: str, command: str, marker: str, timeout: float = 180
             ) -> str:
    """Run ``command`` in a new terminal of the user's JupyterLab (its REST + websocket API)."""
    import websocket

    status, body = call("POST", f"{hub.base}/user/{user}/api/terminals", token, {})
    assert status == 200, body
    name = json.loads(body)["name"]
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{hub.port}/user/{user}/terminals/websocket/{name}",
        header=[f"Authorization: token {token}"], timeout=timeout)
    out = ""
    try:
        ws.send(json.dumps(["stdin", f"{command}; echo {marker}-$?-END\r"]))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not re.search(rf"{marker}-\d+-END", out):
            msg = json.loads(ws.recv())
            if msg[0] == "stdout":
                out += msg[1]
    finally:
        ws.close()
    return out


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    tmp = Path(f"/tmp/classroom-test-{uuid.uuid4().hex[:6]}")
    tmp.mkdir(mode=0o755)
    the_hub = Hub(tmp)
    try:
        the_hub.start()
        for s in STUDENTS:
            status, body = the_hub.api("POST", f"/users/{s}/server")
            assert status in (201, 202), body
        for s in STUDENTS:
            the_hub.wait_server(s)
        yield the_hub
    finally:
        the_hub.stop()
        the_hub.remove_users()
        shutil.rmtree(tmp, ignore_errors=True)


def test_three_students_solve_on_their_own_clusters(hub: Hub) -> None:
    addresses = hub.settings["addresses"]
    assert len(set(addresses.values())) == 3
    tokens = {s: hub.user_token(s) for s in STUDENTS}
    outputs: dict[str, str] = {}

    def solve(s: str) -> None:
        outputs[s] = terminal(hub, s, tokens[s], "python -m labs solve nodeport", "SOLVED")

    threads = [threading.Thread(target=solve, args=(s,)) for s in STUDENTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in STUDENTS:
        assert "SOLVED-0-END" in outputs[s], outputs[s][-2000:]

    # each NodePort answers on the student's own address, served by that student's own pods
    pods_of = {}
    for s in STUDENTS:
        kubeconfig = hub.home(s) / ".labs" / "embedded" / "kubeconfig"
        st = kubeconfig.stat()
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == pwd.getpwnam(hub.prefix + s).pw_uid
        assert stat.S_IMODE(hub.home(s).stat().st_mode) == 0o700
        listed = subprocess.run(
            [str(Path(sys.executable).parent / "kubectl"), "--kubeconfig", str(kubeconfig), "get",
             "pods", "-n", "lab-nodeport", "-o", "jsonpath={.items[*].metadata.name}"],
            capture_output=True, text=True, check=True).stdout.split()
        pods_of[s] = set(listed)
    for s in STUDENTS:
        for _ in range(5):
            status, pod = get_host(addresses[s])
            assert status == 200, f"{s}: {pod}"
            assert pod in pods_of[s], f"{s}'s address answered from {pod}, not one of {pods_of[s]}"
    unused = "127.78.0.250"
    assert unused not in addresses.values()
    assert get_host(unused)[0] == 0, "a NodePort answers on an address no student has"

    # the scoreboard grades each student's own cluster, host checks on their own address
    from classroom import scoreboard

    rows = scoreboard.grade_all(scoreboard.students_from_settings(hub.settings), ["nodeport"],
                                workers=3)
    for s in STUDENTS:
        assert not rows[s].error, rows[s].error
        statuses = {o["id"]: o["status"] for o in rows[s].labs["nodeport"]}
        assert set(statuses.values()) == {"passed"}, statuses
        assert any(k.startswith("nodeport/") for k in rows[s].first_passed)
    table = scoreboard.board(rows, ["nodeport"])
    assert [r["student"] for r in table["students"]] == list(STUDENTS)


def test_a_cannot_reach_b(hub: Hub) -> None:
    a, b = STUDENTS[0], STUDENTS[1]
    token_a = hub.user_token(a)
    # B's server through the proxy, with A's credentials
    status, _ = call("GET", f"{hub.base}/user/{b}/api/contents", token_a)
    assert status == 403, status
    status, _ = call("GET", f"{hub.base}/user/{a}/api/contents", token_a)
    assert status == 200
    # B's user in the hub's API
    status, _ = hub.api("GET", f"/users/{b}", token=token_a)
    assert status in (403, 404), status
    # the scoreboard is the instructors'
    status, _ = call("GET", f"{hub.base}/services/scoreboard/api/board", token_a)
    assert status in (302, 403), status
    # B's files, from A's own terminal (A's Unix user)
    secret = hub.home(b) / ".labs" / "embedded" / "kubeconfig"
    out = terminal(hub, a, token_a, f"cat {secret}; ls {hub.home(b)}", "READ")
    assert re.search(r"READ-\d+-END", out), out[-1500:]
    assert out.count("Permission denied") == 2, out[-1500:]
    assert "client-certificate" not in out and "token:" not in out, out[-1500:]


def test_stopped_server_keeps_work(hub: Hub) -> None:
    a = STUDENTS[0]
    address = hub.settings["addresses"][a]
    mine = hub.home(a) / "notebooks" / "en" / "work" / "mine.txt"
    token_a = hub.user_token(a)
    out = terminal(hub, a, token_a, f"echo kept > {mine}", "WROTE")
    assert "WROTE-0-END" in out, out[-1000:]
    # what jupyterhub-idle-culler does to an idle server: DELETE it
    status, body = hub.api("DELETE", f"/users/{a}/server")
    assert status in (202, 204), body
    hub.wait_server(a, ready=False)
    assert get_host(address)[0] == 0, "A's cluster still answers after A's server stopped"
    status, body = hub.api("POST", f"/users/{a}/server")
    assert status in (201, 202), body
    hub.wait_server(a)
    assert mine.read_text() == "kept\n"
    deadline = time.monotonic() + 60
    while get_host(address)[0] != 200 and time.monotonic() < deadline:
        time.sleep(1)
    assert get_host(address)[0] == 200, "A's NodePort Service did not come back with the cluster"
