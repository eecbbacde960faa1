"""The command line and the cluster backends: every error a user can hit says what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import embedded
import pytest

from labs import catalog, clusters
from labs.errors import CheckFileError, ClusterUnavailable, LabError
from labs.kube import Kube


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labs", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_a_lab_action_without_a_lab_names_the_labs():
    done = run("reset")
    assert done.returncode == 2
    assert "name the lab to reset" in done.stderr
    assert f"make reset LAB=<lab> with one of: {', '.join(catalog.names())}\n" in done.stderr


def test_an_unknown_lab_is_refused_before_touching_a_cluster():
    done = run("check", "nodeprot", env={"LAB_CLUSTER": "bogus"})
    assert done.returncode == 2
    assert "there is no lab named 'nodeprot'" in done.stderr


def test_an_unknown_backend_names_the_valid_ones():
    with pytest.raises(ClusterUnavailable) as e:
        clusters.select("minikube")
    assert e.value.fix == "use LAB_CLUSTER=kind, current or embedded"


def test_detection_never_picks_the_current_cluster(monkeypatch, tmp_path):
    monkeypatch.delenv("LAB_CLUSTER", raising=False)
    monkeypatch.setattr(clusters, "_CHOSEN", tmp_path / "cluster.json")
    monkeypatch.setattr(clusters, "docker_answers", lambda required: False)
    assert clusters.select().name == "embedded"
    monkeypatch.setattr(clusters, "docker_answers", lambda required: True)
    assert clusters.select().name == "kind"


def test_the_current_cluster_is_never_remembered(monkeypatch, tmp_path):
    monkeypatch.delenv("LAB_CLUSTER", raising=False)
    monkeypatch.setattr(clusters, "_CHOSEN", tmp_path / "cluster.json")
    monkeypatch.setattr(clusters, "docker_answers", lambda required: False)
    clusters.remember(clusters.CurrentCluster())
    assert clusters.chosen() is None and clusters.select().name == "embedded"


def test_the_running_clusters_backend_is_reused(monkeypatch, tmp_path):
    monkeypatch.delenv("LAB_CLUSTER", raising=False)
    monkeypatch.setattr(clusters, "_CHOSEN", tmp_path / "cluster.json")
    monkeypatch.setattr(clusters, "STATE", tmp_path)
    clusters.remember(clusters.EmbeddedCluster())
    monkeypatch.setattr(clusters, "docker_answers", lambda required: True)
    assert clusters.select().name == "embedded"


def test_kind_without_a_docker_engine_says_how_to_start_one(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker command at all
    with pytest.raises(ClusterUnavailable) as e:
        clusters.KindCluster().up()
    assert e.value.what == "kind needs a Docker engine, and none answers: no `docker` command on PATH"
    assert "start Docker" in e.value.fix and "LAB_CLUSTER=embedded" in e.value.fix


def test_kind_with_a_docker_that_does_not_answer(monkeypatch, tmp_path):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon at "
                    "unix:///var/run/docker.sock. Is the docker daemon running?' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ClusterUnavailable) as e:
        clusters.KindCluster().up()
    assert "Is the docker daemon running?" in e.value.what


def test_the_current_backend_without_a_kubeconfig(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(ClusterUnavailable) as e:
        clusters.CurrentCluster().up()
    assert e.value.what == f"no kubeconfig at {tmp_path / 'missing'}"


def test_the_current_backend_never_deletes_the_cluster(capsys):
    clusters.CurrentCluster().down()
    assert "never delete a cluster they did not create" in capsys.readouterr().out


def test_a_cluster_that_does_not_answer_says_how_to_start_it(tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text("""apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
""")
    done = run("check", "nodeport", env={"LAB_CLUSTER": "current", "KUBECONFIG": str(config)},
               timeout=60)
    assert done.returncode == 2
    assert "the cluster at http://127.0.0.1:9 does not answer" in done.stderr
    assert "check that your cluster answers: kubectl cluster-info (LAB_CLUSTER=current)" in done.stderr


def test_a_broken_kubeconfig_is_named(tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(ClusterUnavailable) as e:
        Kube(config)
    assert e.value.where == str(config) and e.value.fix.startswith("make cluster")


def test_cluster_up_prints_the_export_line_last_and_only_that_on_stdout(tmp_path):
    env = {"LAB_CLUSTER": "embedded", "LAB_STATE_DIR": str(tmp_path)}
    try:
        done = run("cluster", "up", env=env)
        assert done.returncode == 0, done.stderr
        kubeconfig = tmp_path / "embedded" / "kubeconfig"
        assert done.stdout == f"export KUBECONFIG={kubeconfig.resolve()}\n"
        assert "Lab cluster: the embedded cluster" in done.stderr
        assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
        again = run("cluster", "up", env=env)
        assert again.stdout == done.stdout  # reused
    finally:
        embedded.down(tmp_path / "embedded")


def test_a_check_file_with_an_unknown_check_is_refused_with_its_line(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("lab: broken\ntitle: B\nnamespace: lab-b\nobjectives:\n"
                 "  - id: a\n    title: A\n    check: service\n    service: x\n    type: ClusterIP\n"
                 "    hint: h\n  - id: b\n    title: B\n    check: servce\n    hint: h\n")
    with pytest.raises(CheckFileError) as e:
        catalog.parse(f)
    assert e.value.where == f"{f}:11"
    assert e.value.what == "unknown check 'servce'"
    assert "service-port" in e.value.fix


def test_a_check_file_with_a_missing_parameter(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("lab: b\ntitle: B\nnamespace: n\nobjectives:\n"
                 "  - {id: a, title: A, check: service-port, service: x, hint: h}\n")
    with pytest.raises(CheckFileError) as e:
        catalog.parse(f)
    assert e.value.what == "objective 'a' (service-port): missing port"


def test_a_check_file_with_an_unknown_url_field(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("lab: b\ntitle: B\nnamespace: n\nobjectives:\n"
                 "  - {id: a, title: A, check: http, service: x, hint: h, from: p,\n"
                 "     served-by: d, url: 'http://{clusterIp}/'}\n")
    with pytest.raises(CheckFileError) as e:
        catalog.parse(f)
    assert e.value.what == "unknown URL field(s) ['clusterIp']"


NEEDS = ("lab: b\ntitle: B\nnamespace: n\nobjectives:\n"
         "  - id: svc\n    title: S\n    check: service\n    service: x\n    type: ClusterIP\n"
         "    hint: h\n"
         "  - id: port\n    title: P\n    check: service-port\n    service: x\n    port: 80\n"
         "    hint: h\n    needs: {needs}\n")


@pytest.mark.parametrize(("needs", "what", "fix"), [
    ("svcc", "objective 'port' needs 'svcc', which is no objective of this lab", "use one of: svc"),
    ("port", "objective 'port' needs itself", "name the objectives that must pass before this one"),
    ("{a: b}", "objective 'port': `needs` is not a list of objective ids",
     "write `needs: <id>` or `needs: [<id>, <id>]` with ids of this lab's objectives"),
])
def test_a_check_file_whose_needs_names_no_objective_is_refused_with_its_line(tmp_path, needs,
                                                                              what, fix):
    f = tmp_path / "broken.yaml"
    f.write_text(NEEDS.format(needs=needs))
    with pytest.raises(CheckFileError) as e:
        catalog.parse(f)
    assert (e.value.where, e.value.what, e.value.fix) == (f"{f}:17", what, fix)


def test_a_check_file_whose_needs_loop_is_refused(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text(NEEDS.format(needs="[svc]").replace("    type: ClusterIP\n",
                                                      "    type: ClusterIP\n    needs: port\n"))
    with pytest.raises(CheckFileError) as e:
        catalog.parse(f)
    assert (e.value.where, e.value.what) == (f"{f}:10", "objective 'svc': its `needs` lead back to it")


def test_needs_is_read_as_a_tuple_of_ids(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text(NEEDS.format(needs="svc"))
    assert catalog.parse(f).objectives[1].needs == ("svc",)
    assert catalog.load("externalname").objectives[-1].needs == ("dns-cname",)


def test_lab_errors_print_what_where_and_fix():
    e = LabError("the thing broke", where="manifests/x.yml:3", fix="do this",
                 details=["spec.a: Invalid value"])
    assert str(e) == ("manifests/x.yml:3: the thing broke\n  spec.a: Invalid value\n"
                      "  fix: do this")


@pytest.mark.parametrize("lab", catalog.names())
def test_every_check_file_parses(lab):
    assert catalog.load(lab).objectives


def test_help_is_the_default_make_target():
    done = subprocess.run(["make", "--no-print-directory"], capture_output=True, text=True,
                          cwd=Path(__file__).parent.parent, timeout=60)
    assert done.returncode == 0
    for target in ("lab", "test", "cluster", "cluster-down", "check", "reset", "solve"):
        assert f"make {target} " in done.stdout


def test_kind_missing_and_not_downloadable_says_how_to_install_it(monkeypatch, tmp_path):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 28.2.2\n")  # a Docker engine that answers
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))   # ...and no kind on PATH
    monkeypatch.setenv("KIND_DOWNLOAD_URL", "http://127.0.0.1:9/kind")
    monkeypatch.setattr(clusters, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(clusters, "STATE", tmp_path / "state")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ClusterUnavailable) as e:
        clusters.KindCluster().up()
    assert e.value.what.startswith("kind is not on PATH and kind v0.33.0 could not be downloaded")
    assert "go install sigs.k8s.io/kind@v0.33.0" in e.value.fix


# -- what a learner reads follows LAB_LANG / the locale, as `make check` does ----------------------
@pytest.mark.parametrize(("env", "first"), [
    ({"LAB_LANG": "en"}, "headless       Headless Service                 namespace lab-headless, "
                         "9 objectives"),
    ({"LAB_LANG": "ko"}, "headless       헤드리스 Service                 "
                         "네임스페이스 lab-headless, 목표 9개"),
    ({"LAB_LANG": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "ko_KR.UTF-8"},
     "headless       헤드리스 Service                 네임스페이스 lab-headless, 목표 9개"),
])
def test_list_follows_lab_lang_and_the_locale(env, first):
    done = run("list", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == first


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "error: there is no lab named 'nope'\n  fix: pick one of: clusterip, nodeport, "
           "loadbalancer, externalname, headless (e.g. make check LAB=nodeport)\n"),
    ("ko", "오류: 이름이 'nope'인 실습 없음\n  해결: 다음 중 하나를 고른다: clusterip, nodeport, "
           "loadbalancer, externalname, headless (예: make check LAB=nodeport)\n"),
])
def test_setup_errors_follow_lab_lang(lang, expected):
    done = run("setup", "nope", env={"LAB_LANG": lang, "COLUMNS": "300"})
    assert (done.returncode, done.stderr) == (2, expected)


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "error: unknown LAB_CLUSTER='nowhere'\n  fix: use LAB_CLUSTER=kind, current or "
           "embedded\n"),
    ("ko", "오류: 알 수 없는 LAB_CLUSTER='nowhere'\n  해결: LAB_CLUSTER=kind, current, embedded 중 "
           "하나를 쓴다\n"),
])
def test_cluster_errors_follow_lab_lang(lang, expected):
    done = run("cluster", "up", env={"LAB_LANG": lang, "LAB_CLUSTER": "nowhere", "COLUMNS": "300"})
    assert (done.returncode, done.stderr) == (2, expected)


@pytest.mark.parametrize(("lang", "what", "fix"), [
    ("en", "error: the embedded cluster did not start: ", "  fix: to start with a fresh cluster, "
                                                          "move it aside: mv "),
    ("ko", "오류: 내장 클러스터가 시작되지 않음: ", "  해결: to start with a fresh cluster, "
                                                   "move it aside: mv "),
])
def test_a_corrupt_embedded_state_file_shows_the_error_and_its_fix(tmp_path, lang, what, fix):
    state = tmp_path / "embedded"
    state.mkdir()
    db = state / "state.db"
    db.write_bytes(b"SQLite format 2\x00" + bytes(range(256)) * 8)
    (state / "server.log").write_text("2026-01-01 00:00:00,000 INFO kubesim: an older start\n" * 20)
    done = run("cluster", "up", env={"LAB_LANG": lang, "LAB_CLUSTER": "embedded",
                                     "LAB_STATE_DIR": str(tmp_path), "COLUMNS": "400"})
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines == [
        f"{what}the state file {db} cannot be read (file is not a database); kubesim will not "
        "overwrite it",
        f"{fix}{db} {db}.broken ({'the whole log' if lang == 'en' else '전체 로그'}: "
        f"{state / 'server.log'})"]
    assert db.read_bytes().startswith(b"SQLite format 2")  # the learner's state is kept


def test_a_start_that_crashed_shows_the_last_line_of_its_traceback():
    e = clusters.start_failure(
        "kubesim server exited with code 1 while starting; what it logged (x/server.log):\n"
        "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\n"
        "OSError: [Errno 98] Address already in use\n", "x/server.log")
    assert (e.what, e.fix) == (
        "the embedded cluster did not start: OSError: [Errno 98] Address already in use",
        "read x/server.log; `make setup` reinstalls it")


def test_make_lab_opens_the_first_notebook_with_the_labs_own_settings(tmp_path):
    import json

    from labs import cli

    for name in ("01-clusterip.ipynb", "00-intro.ipynb"):
        (tmp_path / name).write_text("{}")
    argv = cli.jupyter_argv(tmp_path, browser=False)
    assert "--ServerApp.ip=127.0.0.1" in argv and "--no-browser" in argv
    assert "--LabApp.default_url=/lab/tree/00-intro.ipynb" in argv
    settings = Path(next(a for a in argv if a.startswith("--LabApp.app_settings_dir="))
                    .split("=", 1)[1])
    assert not str(settings).startswith(str(Path.home() / ".jupyter"))
    overrides = json.loads((settings / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
