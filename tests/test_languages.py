"""The grader in English and Korean: check files with translations, findings rendered from the same
data in either language, and how `make check` picks the language."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from junitparser import JUnitXml
from snapshots import Cluster

from labs import catalog, cli, messages, reports, session, widgets
from labs.errors import CheckFileError, LabError
from labs.grading import FAILED, Report, Result, evaluate
from labs.messages import FINDINGS, LABELS, LANGS, Message, placeholders

HEAD = "lab: t\ntitle: T\nnamespace: lab-t\nobjectives:\n"


def check_file(tmp_path, body: str):
    f = tmp_path / "t.yaml"
    f.write_text(HEAD + body, encoding="utf-8")
    return f


def hangul(text: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for c in text)


# -- check files -------------------------------------------------------------------------------------
def test_a_check_file_may_give_texts_as_english_or_per_language(tmp_path):
    lab = catalog.parse(check_file(tmp_path, """\
  - id: plain
    title: The Service exists
    check: service
    service: web
    type: ClusterIP
    hint: "Set spec.type: ClusterIP."
  - id: both
    title:
      en: The Service has port 80
      ko: Service의 포트가 80이다
    check: service-port
    service: web
    port: 80
    hint: {en: "spec.ports needs port: 80.", ko: "spec.ports에 port: 80이 있어야 한다."}
  - id: english-only
    title: {en: The Service selects the pods}
    check: selector
    service: web
    deployment: d
    hint: Match the pod labels.
"""))
    plain, both, english = lab.objectives
    assert (plain.title, plain.hint) == ("The Service exists", "Set spec.type: ClusterIP.")
    assert plain.text("title", "ko") == "The Service exists"  # no translation: English
    assert (both.title, both.hint) == ("The Service has port 80", "spec.ports needs port: 80.")
    assert (both.text("title", "ko"), both.text("hint", "ko")) == (
        "Service의 포트가 80이다", "spec.ports에 port: 80이 있어야 한다.")
    assert english.text("title", "ko") == english.title == "The Service selects the pods"
    assert lab.title == "T" and lab.texts == {"title": {"en": "T"}}


@pytest.mark.parametrize(("body", "line", "what", "fix"), [
    ("  - id: a\n    title:\n      en: A\n      kr: 에이\n",
     8, "objective 'a': unknown language 'kr' in `title`", "languages are en, ko"),
    ("  - id: a\n    title: A\n    hint:\n      en: h\n      ko: [not, text]\n",
     9, "objective 'a': `hint.ko` is not a line of text",
     "write the translation on the same line as its language, in quotes if it holds `: ` or "
     "starts with a symbol"),
    ("  - id: a\n    title:\n      ko: 에이\n",
     6, "objective 'a': `title` has no English text (en)",
     "add `en: ...`: English is what a missing translation falls back to"),
    ("  - id: a\n    title: A\n    hint:\n",
     7, "objective 'a': `hint` is empty",
     "write `hint: <English text>`, or one line per language: `hint: {en: ..., ko: ...}`"),
], ids=["unknown-language", "not-text", "no-english", "empty"])
def test_a_malformed_translation_is_refused_at_its_line(tmp_path, body, line, what, fix):
    defaults = "    check: service\n    service: x\n    type: ClusterIP\n"
    if "hint" not in body:
        defaults += "    hint: h\n"
    f = check_file(tmp_path, body + defaults)
    with pytest.raises(CheckFileError) as e:
        catalog.parse(f)
    assert (e.value.where, e.value.what, e.value.fix) == (f"{f}:{line}", what, fix)


def test_a_lab_title_in_an_unknown_language_is_refused_at_its_line(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("lab: t\ntitle:\n  en: T\n  jp: テ\nnamespace: n\nobjectives: []\n")
    with pytest.raises(CheckFileError) as e:
        catalog.parse(f)
    assert (e.value.where, e.value.what) == (f"{f}:4", "the lab: unknown language 'jp' in `title`")


@pytest.mark.parametrize("lab", catalog.names())
def test_every_objective_has_a_korean_title_and_hint(lab):
    for o in catalog.load(lab).objectives:
        for what in ("title", "hint"):
            ko = o.texts[what].get("ko", "")
            assert hangul(ko), f"checks/{lab}.yaml:{o.line}: objective {o.id!r} has no Korean {what}"


# -- the message catalogue ---------------------------------------------------------------------------
@pytest.mark.parametrize("table", [FINDINGS, LABELS], ids=["findings", "labels"])
def test_every_message_has_every_language_with_the_same_values(table):
    for key, texts in table.items():
        assert set(texts) == set(LANGS), key
        assert placeholders(texts["ko"]) == placeholders(texts["en"]), key


def test_an_unknown_message_is_refused_when_made():
    with pytest.raises(KeyError):
        Message("no-such-message")


def test_a_message_renders_its_values_in_the_same_language():
    m = messages.msg("service.missing", name="web", ns="lab-x", others=messages.msg("none"))
    assert m.text("en") == "no Service web in lab-x (Services there: none)"
    assert m.text("ko") == "lab-x에 Service web 없음 (있는 Service: 없음)"


# -- rendering a report in Korean -----------------------------------------------------------------------
def broken_nodeport() -> Report:
    """nodePort 30080 instead of 31001, and a selector the pods do not have."""
    def wrong(obj):
        if obj["kind"] == "Service":
            obj["spec"]["selector"] = {"app": "web-deploy"}
            obj["spec"]["ports"][0]["nodePort"] = 30080
    c = Cluster("nodeport").setup().apply("nodeport/service-test01.yml", edit=wrong)
    return Report("nodeport", c.lab.title, c.lab.namespace, "kind", evaluate(c.lab, c.probe()),
                  1.25, 7, c.lab.texts)


def test_a_failing_report_in_korean_shows_korean_title_hint_expected_found():
    text = reports.failures([broken_nodeport()], "ko")
    assert text.startswith(
        "nodeport #4 web-service-nodeport의 80번 포트가 nodePort 31001과 매핑된다\n"
        "  기대값:  PORT(S) 80:31001/TCP\n"
        "  실제 값: PORT(S) 80:30080/TCP\n"
        "  힌트:    spec.ports에 port: 80과 nodePort: 31001을 쓴다(NodePort는 30000~32767 범위 "
        "안이어야 한다).\n"
        "\n"
        "nodeport #5 web-service-nodeport가 deploy-test01의 Pod를 선택한다\n"
        "  기대값:  deploy-test01의 Pod를 선택하는 셀렉터 (Pod의 라벨: "
        "app.kubernetes.io/name=web-deploy)\n"
        "  실제 값: 셀렉터 app=web-deploy: Pod 3개 중 선택된 Pod 없음\n"
        "  힌트:    spec.selector는 Pod의 라벨과 일치해야 한다: app.kubernetes.io/name: web-deploy\n"
        "\n"
        "nodeport #6 web-service-nodeport의 준비된 엔드포인트가 준비된 웹 Pod마다 하나씩 있다\n"
        "  기대값:  준비된 엔드포인트 3개 (deploy-test01의 준비된 Pod마다 하나)\n"
        "  실제 값: ENDPOINTS <none>: 셀렉터가 선택한 준비된 Pod 없음\n")
    # curl's own words stay as curl wrote them, inside the Korean sentence
    assert ("nodeport #7 nginx01에서 ClusterIP로 보낸 curl이 웹 Pod까지 도달한다\n"
            "  기대값:  http://10.96.11.12:80/ 요청 6개 모두 deploy-test01의 Pod가 200으로 응답\n"
            "  실제 값: 6개 중 0개 응답; http://10.96.11.12:80/: curl: (7) Failed to connect to "
            "10.96.11.12 port 80 after 1 ms: Couldn't connect to server\n") in text
    assert reports.summary([broken_nodeport()], "ko") == (
        "nodeport: 통과 3, 실패 6 (1.2초, API 요청 7회)")


def test_the_same_report_in_english_is_what_the_grader_wrote():
    rep = broken_nodeport()
    english = rep.in_lang("en")
    assert [(r.title, r.expected, r.found, r.hint) for r in english.results] == \
        [(r.title, r.expected, r.found, r.hint) for r in rep.results]
    node_port = next(r for r in rep.results if r.id == "node-port")
    assert (node_port.expected, node_port.found) == ("PORT(S) 80:31001/TCP", "PORT(S) 80:30080/TCP")
    assert node_port.hint.startswith("In spec.ports: port: 80 and nodePort: 31001")


def test_the_notebook_panel_in_korean():
    rep = Cluster("nodeport").setup()
    report = Report("nodeport", rep.lab.title, rep.lab.namespace, "kind",
                    evaluate(rep.lab, rep.probe()), texts=rep.lab.texts)
    text = widgets.report_text([report], "ko")
    assert text.splitlines()[:10] == [
        "NodePort: 통과 2, 실패 1, 대기 6",
        "여기부터: NodePort 타입의 Service web-service-nodeport가 있다 - spec.type: NodePort로 지정한다.",
        "통과  웹 Deployment deploy-test01에 준비된 Pod가 3개 있다",
        "통과  클라이언트 Pod nginx01이 실행 중이고 준비되어 있다",
        "실패  NodePort 타입의 Service web-service-nodeport가 있다",
        "      기대값:  이름이 web-service-nodeport인 Service",
        "      실제 값: lab-nodeport에 Service web-service-nodeport 없음 (있는 Service: 없음)",
        "      힌트:    spec.type: NodePort로 지정한다.",
        "대기  web-service-nodeport의 80번 포트가 nodePort 31001과 매핑된다",
        "      채점 보류: 먼저 필요한 목표 NodePort 타입의 Service web-service-nodeport가 있다"]
    html = widgets.report_html([report], "ko")
    assert "<b>기대값</b> 이름이 web-service-nodeport인 Service<br>" in html
    assert "(통과 2, 실패 1, 대기 6)" in html


def test_a_fresh_lab_in_korean_says_how_to_set_it_up():
    c = Cluster("externalname")
    c.snap.namespace_exists = False
    r = evaluate(c.lab, c.snap)[0].in_lang("ko")
    assert (r.expected, r.found) == (
        "네임스페이스 lab-externalname",
        "네임스페이스 lab-externalname 없음: 실습이 아직 준비되지 않음 (노트북의 준비 셀을 "
        "실행하거나 `python -m labs setup externalname` 실행)")


def test_a_lab_title_with_a_translation():
    lab = catalog.load("loadbalancer")
    rep = Report(lab.name, lab.title, lab.namespace, "kind", [], texts=lab.texts)
    assert (rep.title, rep.in_lang("ko").title) == (
        "LoadBalancer with externalIPs", "externalIPs를 쓰는 LoadBalancer")


def test_a_result_made_of_plain_text_falls_back_to_english():
    r = Result("a", "The Service exists", FAILED, "x", "y", "do z")
    assert r.in_lang("ko") == r


def test_json_and_junit_in_korean_keep_their_ids(tmp_path):
    js, junit = reports.write([broken_nodeport()], tmp_path, "ko")
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["lang"] == "ko"
    results = {r["id"]: r for r in data["labs"][0]["results"]}
    assert list(results) == [o.id for o in catalog.load("nodeport").objectives]
    assert results["node-port"] == {
        "id": "node-port", "title": "web-service-nodeport의 80번 포트가 nodePort 31001과 매핑된다",
        "status": "failed", "expected": "PORT(S) 80:31001/TCP", "found": "PORT(S) 80:30080/TCP",
        "hint": "spec.ports에 port: 80과 nodePort: 31001을 쓴다(NodePort는 30000~32767 범위 "
                "안이어야 한다).", "needs": []}
    cases = {c.classname: c for c in next(iter(JUnitXml.fromfile(str(junit))))}
    case = cases["lab.nodeport.selector"]
    assert case.name == "web-service-nodeport가 deploy-test01의 Pod를 선택한다"
    assert case.result[0].message == (
        "기대값 deploy-test01의 Pod를 선택하는 셀렉터 (Pod의 라벨: app.kubernetes.io/name=web-deploy)"
        "; 실제 값 셀렉터 app=web-deploy: Pod 3개 중 선택된 Pod 없음")


@pytest.mark.parametrize(("lang", "waits"), [
    ("en", "not judged: waits for The Service web-service-nodeport exists with type NodePort"),
    ("ko", "채점 보류: 먼저 필요한 목표 NodePort 타입의 Service web-service-nodeport가 있다"),
])
def test_json_and_junit_say_what_an_objective_waits_for(tmp_path, lang, waits):
    c = Cluster("nodeport").setup()
    rep = Report("nodeport", c.lab.title, c.lab.namespace, "kind", evaluate(c.lab, c.probe()),
                 texts=c.lab.texts)
    js, junit = reports.write([rep], tmp_path, lang)
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["passed"] is False
    results = {r["id"]: r for r in data["labs"][0]["results"]}
    assert [r["status"] for r in results.values()] == ["passed"] * 2 + ["failed"] + ["blocked"] * 6
    assert results["selector"]["needs"] == ["service-type"]
    assert results["selector"]["found"] == waits and results["selector"]["hint"] == ""
    cases = {c.classname: c for c in next(iter(JUnitXml.fromfile(str(junit))))}
    assert cases["lab.nodeport.service-type"].result[0].type == "objective"  # the one failure
    skipped = cases["lab.nodeport.selector"].result[0]
    assert type(skipped).__name__ == "Skipped" and skipped.message == waits


# -- choosing the language ---------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "env", "lang"), [
    (None, {}, "en"),
    (None, {"LANG": "ko_KR.UTF-8"}, "ko"),
    (None, {"LANG": "en_US.UTF-8"}, "en"),
    (None, {"LC_ALL": "ko_KR.UTF-8", "LANG": "C.UTF-8"}, "ko"),
    (None, {"LC_ALL": "C", "LANG": "ko_KR.UTF-8"}, "en"),  # LC_ALL wins, as for every program
    (None, {"LAB_LANG": "en", "LANG": "ko_KR.UTF-8"}, "en"),
    (None, {"LAB_LANG": "ko", "LANG": "en_US.UTF-8"}, "ko"),
    ("ko", {"LAB_LANG": "en"}, "ko"),
    ("en", {"LANG": "ko_KR.UTF-8"}, "en"),
])
def test_the_language_is_the_option_else_lab_lang_else_the_locale(given, env, lang):
    assert messages.choose(given, env) == lang


def test_an_unknown_lab_lang_says_which_languages_there_are():
    with pytest.raises(LabError) as e:
        messages.choose(None, {"LAB_LANG": "fr"})
    assert e.value.what == "LAB_LANG 'fr' is not a language of the labs"
    assert e.value.fix == "use one of: en, ko (e.g. LAB_LANG=ko make check)"


class FakeCluster:
    host_ports = True

    def describe(self) -> str:
        return "the embedded cluster"


@pytest.fixture
def graded(monkeypatch, tmp_path):
    """`python -m labs check` in this process, grading a recorded broken NodePort lab."""
    for var in ("LAB_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(session, "cluster", lambda start=True: FakeCluster())
    monkeypatch.setattr(session, "check", lambda *names: [broken_nodeport()])
    return tmp_path


@pytest.mark.parametrize("how", ["option", "LAB_LANG", "LANG"])
def test_check_in_korean_from_the_shell(graded, capsys, monkeypatch, how):
    argv = ["check", "nodeport", "--reports", str(graded)]
    if how == "option":
        argv.append("--lang=ko")
    else:
        monkeypatch.setenv(how, "ko" if how == "LAB_LANG" else "ko_KR.UTF-8")
    assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    assert "nodeport 채점 중 (the embedded cluster)..." in err
    assert ("nodeport #4 web-service-nodeport의 80번 포트가 nodePort 31001과 매핑된다\n"
            "  기대값:  PORT(S) 80:31001/TCP\n"
            "  실제 값: PORT(S) 80:30080/TCP\n") in out
    assert "nodeport: 통과 3, 실패 6 (1.2초, API 요청 7회)" in out
    assert out.rstrip().endswith(f"보고서: {graded / 'check-results.json'}, {graded / 'junit.xml'}")
    assert json.loads((graded / "check-results.json").read_text(encoding="utf-8"))["lang"] == "ko"


def test_check_in_english_by_default(graded, capsys):
    assert cli.main(["check", "nodeport", "--reports", str(graded)]) == 1
    out, err = capsys.readouterr()
    assert "Checking nodeport on the embedded cluster..." in err
    assert ("nodeport #4 web-service-nodeport maps port 80 to nodePort 31001\n"
            "  expected: PORT(S) 80:31001/TCP\n"
            "  found:    PORT(S) 80:30080/TCP\n") in out
    assert "nodeport: 3 passed, 6 failed (1.2 s, 7 API requests)" in out
    assert out.rstrip().endswith(f"Reports: {graded / 'check-results.json'}, {graded / 'junit.xml'}")


def test_check_refuses_an_unknown_language_before_touching_a_cluster():
    done = subprocess.run([sys.executable, "-m", "labs", "check", "nodeport", "--lang", "fr"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "argument --lang: invalid choice: 'fr' (choose from 'en', 'ko')" in done.stderr
