"""The widgets' text, as a learner (or a reader without a kernel) sees it."""

from __future__ import annotations

from typing import Any

import pytest

from labs import widgets
from labs.grading import BLOCKED, FAILED, PASSED, SKIPPED, Report, Result
from labs.probing import HttpResult


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, str, str]]:
    out: list[tuple[Any, str, str]] = []
    monkeypatch.setattr(widgets, "_show", lambda w, text, html: out.append((w, text, html)))
    return out


@pytest.fixture(params=["en", "ko"])
def lang(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:
    (tmp_path / request.param).mkdir()
    monkeypatch.chdir(tmp_path / request.param)
    return str(request.param)


REPORT = Report("nodeport", "NodePort", "lab-nodeport", "embedded", [
    Result("web-ready", "The web Deployment deploy-test01 has 3 ready pods", PASSED,
           found="3/3 ready"),
    Result("node-port", "web-service-nodeport maps port 80 to nodePort 31001", FAILED,
           expected="PORT(S) 80:31001/TCP", found="PORT(S) 80:30080/TCP",
           hint="In spec.ports: port: 80 and nodePort: 31001."),
    Result("curl-host", "curl http://127.0.0.1:31001 reaches the web pods", SKIPPED,
           found="not mapped here"),
    Result("curl-node", "curl to nodePort 31001 on every node reaches the web pods", BLOCKED,
           needs=("node-port",)),
])


def test_the_check_panel_as_text() -> None:
    assert widgets.report_text([REPORT]) == (
        "NodePort: 1 passed, 1 failed, 1 skipped, 1 waiting\n"
        "Start here: web-service-nodeport maps port 80 to nodePort 31001 - "
        "In spec.ports: port: 80 and nodePort: 31001.\n"
        "PASS  The web Deployment deploy-test01 has 3 ready pods\n"
        "FAIL  web-service-nodeport maps port 80 to nodePort 31001\n"
        "      expected: PORT(S) 80:31001/TCP\n"
        "      found:    PORT(S) 80:30080/TCP\n"
        "      hint:     In spec.ports: port: 80 and nodePort: 31001.\n"
        "SKIP  curl http://127.0.0.1:31001 reaches the web pods\n"
        "WAIT  curl to nodePort 31001 on every node reaches the web pods\n"
        "      not judged: waits for web-service-nodeport maps port 80 to nodePort 31001")


def test_the_check_panel_html_leads_with_the_first_failure_and_says_what_waits() -> None:
    html = widgets.report_html([REPORT], "en")
    lead = ("<b>Start here:</b> web-service-nodeport maps port 80 to nodePort 31001 &mdash; "
            "In spec.ports: port: 80 and nodePort: 31001.")
    assert lead in html and html.index(lead) < html.index(">FAIL<")
    assert ">WAIT</td>" in html
    assert "not judged: waits for web-service-nodeport maps port 80 to nodePort 31001" in html
    assert html.count("<b>hint</b>") == 1


def test_the_check_panel_shows_text_html_and_a_check_again_button(shown, lang) -> None:
    widgets.check_panel([REPORT])
    box, text, html = shown[0]
    assert text == widgets.report_text([REPORT])
    assert html == widgets.report_html([REPORT])
    hint = {"en": "hint", "ko": "힌트"}[lang]  # the notebook's language; no translation: English
    assert f"<b>{hint}</b> In spec.ports: port: 80 and nodePort: 31001." in html
    assert box.children[0].description == {"en": "Check again", "ko": "다시 채점"}[lang]


def test_hints_are_revealed_one_at_a_time(shown, lang) -> None:
    widgets.hints(en=["first", "second"], ko=["첫째", "둘째"])
    box, text, _ = shown[0]
    button, revealed = box.children
    assert revealed.value == ""
    assert text == {"en": "2 hint(s): press the button to see one at a time",
                    "ko": "힌트 2개: 버튼을 누를 때마다 하나씩 보인다"}[lang]
    button.click()
    first = {"en": "first", "ko": "첫째"}[lang]
    assert revealed.value == f"<p><b>1.</b> {first}</p>"
    assert not button.disabled
    button.click()
    assert revealed.value.count("<p>") == 2 and button.disabled


def test_the_answers_chart_counts_pods_and_failures(shown, lang) -> None:
    url = "http://web-service/"
    results = [HttpResult(url, True, 200, pod="deploy-test01-abc-x1")] * 3 + \
        [HttpResult(url, True, 200, pod="deploy-test01-abc-y2")] + \
        [HttpResult(url, False, error="Connection refused")]
    widgets.answers_chart(results)
    _, text, html = shown[0]
    failed = {"en": "no answer", "ko": "응답 없음"}[lang]
    title = {"en": "5 requests to http://web-service/", "ko": "http://web-service/ 로 보낸 요청 5개"}
    assert text.splitlines() == [
        title[lang],
        f"{'deploy-test01-abc-x1':20}  {'#' * 18} 3",
        f"{'deploy-test01-abc-y2':20}  {'#' * 6} 1",
        f"{failed:20}  {'#' * 6} 1"]
    assert "width:60%" in html and "#cf222e" in html  # the failures' bar is red


def test_port_rows_follow_a_named_target_port_to_the_container() -> None:
    svc = {"spec": {"type": "NodePort", "ports": [
        {"port": 80, "targetPort": "http", "nodePort": 31001, "protocol": "TCP"}]}}
    pod = {"spec": {"containers": [{"name": "nginx", "ports": [
        {"name": "http", "containerPort": 80}]}]}}
    assert widgets.port_rows(svc, [pod]) == [{
        "name": "-", "protocol": "TCP", "port": "80", "targetPort": "http", "nodePort": "31001",
        "container": "nginx:80"}]
    assert widgets.port_rows({"spec": {"ports": [{"port": 8080}]}})[0]["targetPort"] == "8080"
