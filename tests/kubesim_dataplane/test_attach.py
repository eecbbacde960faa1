"""Main processes of client images, attach, logs and `kubectl run --rm -i --restart=Never`
from the source material."""

from __future__ import annotations

from conftest import Cluster, wait_until


def test_source_run_rm_i_curl(cluster: Cluster) -> None:
    ip = cluster.jsonpath("svc", "web-service-nodeport", "{.spec.clusterIP}")
    done = cluster.kubectl("run", "--image=amsy810/tools:v2.0", "--restart=Never", "--rm", "-i",
                           "testpod", "--command", "--", "curl", "-s", f"http://{ip}:80")
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"Host={ip} Path=/ From=deploy-test01-")
    assert lines[-1] == 'pod "testpod" deleted from dp namespace'
    assert cluster.kubectl("get", "pod", "testpod", check=False).returncode == 1


def test_run_rm_i_exit_code_and_stdin(cluster: Cluster) -> None:
    done = cluster.kubectl("run", "--image=busybox", "--restart=Never", "--rm", "-i", "t2",
                           "--", "sh", "-c", "read x; echo got-$x; exit 3", input="hello\n",
                           check=False)
    assert done.returncode == 3
    assert "got-hello" in done.stdout


def test_completed_pod_status_and_logs(cluster: Cluster) -> None:
    cluster.kubectl("run", "bb", "--image=busybox", "--restart=Never", "--", "sh", "-c",
                    "echo one; echo two; hostname")
    try:
        wait_until("bb completes", lambda: cluster.jsonpath(
            "pod", "bb", "{.status.phase}") == "Succeeded")
        assert cluster.kubectl("logs", "bb").stdout == "one\ntwo\nbb\n"
        assert cluster.kubectl("logs", "bb", "--tail=1").stdout == "bb\n"
        row = cluster.kubectl("get", "pod", "bb", "--no-headers").stdout.split()
        assert row[1:4] == ["0/1", "Completed", "0"]
        code = cluster.jsonpath("pod", "bb",
                                "{.status.containerStatuses[0].state.terminated.exitCode}")
        assert code == "0"
    finally:
        cluster.kubectl("delete", "pod", "bb", "--wait=false")


def test_curl_image_entrypoint(cluster: Cluster) -> None:
    done = cluster.kubectl("run", "--image=curlimages/curl", "--restart=Never", "--rm", "-i",
                           "c1", "--", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           "http://web-service")
    assert done.stdout.startswith("200")


def test_web_pod_logs_show_nginx_start_and_access_lines(cluster: Cluster) -> None:
    client_ip = cluster.jsonpath("pod", "nginx01", "{.status.podIP}")
    pod = cluster.kubectl("get", "pods", "-l", "app=plain-web", "-o",
                          "jsonpath={.items[0].status.podIP} {.items[0].metadata.name}").stdout
    ip, name = pod.split()
    cluster.sh(f"curl -s -o /dev/null {ip}/some/path")
    logs = cluster.kubectl("logs", name).stdout
    assert "/docker-entrypoint.sh: Configuration complete; ready for start up\n" in logs
    assert f'{client_ip} - - [' in logs
    assert '"GET /some/path HTTP/1.1" 404 153 "-" "curl/8.14.1" "-"\n' in logs


def test_restart_policy_always_restarts_and_backs_off(cluster: Cluster) -> None:
    """`kubectl run` without --restart=Never: the container exits, restarts at once, then
    waits in CrashLoopBackOff (10 s) - as the kubelet does."""
    cluster.kubectl("run", "loop", "--image=busybox", "--", "sh", "-c", "echo run; exit 1")
    try:
        def backing_off() -> bool:
            row = cluster.kubectl("get", "pod", "loop", "--no-headers").stdout.split()
            return row[2] == "CrashLoopBackOff" and row[3].startswith("1")
        wait_until("CrashLoopBackOff after one restart", backing_off)
        assert cluster.kubectl("logs", "loop").stdout == "run\n"
        assert cluster.kubectl("logs", "loop", "--previous").stdout == "run\n"
        last = cluster.jsonpath("pod", "loop",
                                "{.status.containerStatuses[0].lastState.terminated.exitCode}")
        assert last == "1"
    finally:
        cluster.kubectl("delete", "pod", "loop", "--wait=false")
