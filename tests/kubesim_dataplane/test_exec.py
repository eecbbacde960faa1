"""exec over the real protocols: kubectl 1.37 (WebSocket v5, stdin, tty), the official Python
client, and raw WebSocket clients speaking v4, v1 and base64 channels."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import os
import select
import ssl
import struct
import subprocess
import termios
import time

import yaml
from conftest import KUBECTL, NS, Cluster
from externals import needs_userns


def test_exit_code_stdout_and_stderr(cluster: Cluster) -> None:
    done = cluster.sh("echo out; echo err >&2; exit 3", check=False)
    assert done.returncode == 3
    assert done.stdout == "out\n"
    assert done.stderr == "err\ncommand terminated with exit code 3\n"


@needs_userns
def test_real_shell_pipes_and_pod_identity(cluster: Cluster) -> None:
    out = cluster.sh("printf 'b\\na\\nb\\n' | sort | uniq -c | tr -s ' '; hostname; "
                     "echo $HOSTNAME; id -u").stdout
    assert out.splitlines() == [" 1 a", " 2 b", "nginx01", "nginx01", "0"]


@needs_userns
def test_resolv_conf_and_private_tmp(cluster: Cluster) -> None:
    out = cluster.sh("cat /etc/resolv.conf").stdout
    assert out == ("search dp.svc.cluster.local svc.cluster.local cluster.local\n"
                   "nameserver 10.96.0.10\noptions ndots:5\n")
    cluster.sh("echo mine > /tmp/file-in-pod")
    assert cluster.sh("cat /tmp/file-in-pod").stdout == "mine\n"
    other = cluster.sh("cat /tmp/file-in-pod", pod="tools", check=False)
    assert other.returncode == 1 and "No such file" in other.stderr


def test_pod_cannot_write_host_files(cluster: Cluster) -> None:
    done = cluster.sh("touch /etc/kubesim-escape", check=False)
    assert done.returncode != 0
    assert not os.path.exists("/etc/kubesim-escape")


def test_missing_binary_in_image(cluster: Cluster) -> None:
    done = cluster.kubectl("exec", "nginx01", "--", "ping", "-c", "1", "10.96.0.1", check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: Internal error occurred: error executing command in "
                                  "container: failed to exec in container: failed to start exec")
    assert 'exec: "ping": executable file not found in $PATH: unknown' in done.stderr
    done = cluster.sh("dig web-service", check=False)
    assert done.returncode == 127
    assert done.stderr.startswith("/bin/sh: 1: dig: not found")
    done = cluster.kubectl("exec", "nolinks", "--", "/bin/bash", check=False)
    assert 'exec: "/bin/bash": stat /bin/bash: no such file or directory' in done.stderr


def test_stdin(cluster: Cluster) -> None:
    done = cluster.kubectl("exec", "-i", "nginx01", "--", "sh", input="read x; echo got:$x\n")
    assert done.stdout == "got:\n" or done.stdout.startswith("got:")
    done = cluster.kubectl("exec", "-i", "nginx01", "--", "wc", "-l", input="a\nb\nc\n")
    assert done.stdout.strip() == "3"


@needs_userns
def test_tty_interactive_shell(cluster: Cluster) -> None:
    """kubectl exec -it with a real terminal: a prompt as the pod, a command, exit status."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    proc = subprocess.Popen([KUBECTL, "-n", NS, "exec", "-it", "nginx01", "--", "/bin/bash"],
                            stdin=slave, stdout=slave, stderr=slave, env=cluster.env(),
                            start_new_session=True)
    os.close(slave)
    seen = b""

    def read_until(marker: bytes, timeout: float = 15) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} in {seen!r}"
            r, _, _ = select.select([master], [], [], left)
            if r:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
    try:
        read_until(b"root@nginx01:/# ")
        os.write(master, b"stty size; echo $TERM\r")
        read_until(b"33 101\r\nxterm")   # the resize channel carried kubectl's terminal size
        os.write(master, b"exit 4\r")
        assert proc.wait(timeout=15) == 4
        read_until(b"command terminated with exit code 4")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_python_client_v5(cluster: Cluster) -> None:
    from kubernetes.stream import stream
    api = cluster.api()
    resp = stream(api.connect_get_namespaced_pod_exec, "nginx01", NS,
                  command=["/bin/sh", "-c", "echo o; echo e >&2; exit 2"], stderr=True,
                  stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.subprotocol == "v5.channel.k8s.io" if hasattr(resp, "subprotocol") else True
    assert resp.read_stdout() == "o\n"
    assert resp.read_stderr() == "e\n"
    assert resp.returncode == 2
    err = json.loads(resp.read_channel(3) or resp.error) if False else None
    del err


def _raw_exec(cluster: Cluster, protocol: str, command: list[str]) -> dict[int, bytes]:
    import aiohttp
    cfg = yaml.safe_load(cluster.kubeconfig.read_text())
    server = cfg["clusters"][0]["cluster"]["server"]
    token = cfg["users"][0]["user"]["token"]
    query = "&".join(f"command={c}" for c in command) + "&stdout=true&stderr=true"
    url = f"{server.replace('https', 'wss').replace('http', 'ws')}/api/v1/namespaces/{NS}/" \
          f"pods/nginx01/exec?{query}"
    ctx = ssl.create_default_context(cafile=str(cluster.state / "pki" / "apiserver.crt")) \
        if server.startswith("https") else None

    async def go() -> dict[int, bytes]:
        got: dict[int, bytes] = {}
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(url, protocols=(protocol,), ssl=ctx, headers={
                    "Authorization": f"Bearer {token}"}) as ws:
                assert ws.protocol == protocol
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        got[msg.data[0]] = got.get(msg.data[0], b"") + msg.data[1:]
                    elif msg.type == aiohttp.WSMsgType.TEXT:
                        ch = ord(msg.data[0]) - 48
                        got[ch] = got.get(ch, b"") + base64.b64decode(msg.data[1:])
        return got
    return asyncio.run(asyncio.wait_for(go(), 20))


def test_v4_status_json_on_error_channel(cluster: Cluster) -> None:
    got = _raw_exec(cluster, "v4.channel.k8s.io", ["sh", "-c", "exit%207"])
    assert json.loads(got[3]) == {
        "metadata": {}, "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
                   "[sh -c exit 7], exit code 7",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "7"}]}}
    got = _raw_exec(cluster, "v4.channel.k8s.io", ["echo", "hi"])
    assert got[1] == b"hi\n" and json.loads(got[3]) == {"metadata": {}, "status": "Success"}


def test_v1_and_base64_channels(cluster: Cluster) -> None:
    got = _raw_exec(cluster, "channel.k8s.io", ["sh", "-c", "echo x;exit%201"])
    assert got[1] == b"x\n"
    assert got[3].startswith(b"command terminated with non-zero exit code")
    got = _raw_exec(cluster, "base64.channel.k8s.io", ["echo", "b64"])
    assert got[1] == b"b64\n"


def test_exec_errors_are_status_bodies(cluster: Cluster) -> None:
    done = cluster.kubectl("exec", "no-such-pod", "--", "true", check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == 'Error from server (NotFound): pods "no-such-pod" not found'
    done = cluster.kubectl("exec", "nginx01", "-c", "nope", "--", "true", check=False)
    assert "container nope is not valid for pod nginx01" in done.stderr


def test_deleting_the_pod_ends_its_exec_session(cluster: Cluster) -> None:
    """The container's processes die with it (SIGKILL), so the exec'd command ends as a runtime
    reports a process killed by signal 9: exit code 128 + 9, which kubectl prints and exits with."""
    cluster.kubectl("run", "doomed", "--image=busybox", "--restart=Never", "--", "sleep",
                    "infinity")
    cluster.kubectl("wait", "--for=condition=Ready", "pod/doomed", "--timeout=20s")
    proc = subprocess.Popen([KUBECTL, "-n", NS, "exec", "doomed", "--", "sh", "-c",
                             "echo started; exec sleep 600"],
                            env=cluster.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
        cluster.kubectl("delete", "pod", "doomed", "--wait=true", "--timeout=20s")
        out, err = proc.communicate(timeout=20)
        assert (proc.returncode, out, err) == (137, "", "command terminated with exit code 137\n")
    finally:
        if proc.poll() is None:
            proc.kill()


@needs_userns
def test_exec_a_script_from_the_pods_own_tmp(cluster: Cluster) -> None:
    cluster.sh("printf '#!/bin/sh\\necho ran-$HOSTNAME\\n' > /tmp/s.sh; chmod +x /tmp/s.sh")
    assert cluster.kubectl("exec", "nginx01", "--", "/tmp/s.sh").stdout == "ran-nginx01\n"
    done = cluster.kubectl("exec", "tools", "--", "/tmp/s.sh", check=False)
    assert 'exec: "/tmp/s.sh": stat /tmp/s.sh: no such file or directory' in done.stderr
