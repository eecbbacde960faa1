"""Reports as data rendered three ways: JSON, JUnit XML, and the notebook panel's HTML."""

from __future__ import annotations

import json

from junitparser import JUnitXml

from labs import reports, widgets
from labs.grading import FAILED, PASSED, SKIPPED, Report, Result


def sample() -> Report:
    return Report("nodeport", "NodePort", "lab-nodeport", "kind", [
        Result("service-type", "The Service exists", PASSED, found="type NodePort"),
        Result("node-port", "nodePort 31001", FAILED, "PORT(S) 80:31001/TCP",
               "PORT(S) 80:30080/TCP", "set nodePort: 31001"),
        Result("curl-host", "curl from the host", SKIPPED, found="not mapped here"),
    ], seconds=1.5, api_requests=7)


def test_json_has_every_result_and_the_verdict(tmp_path):
    js, _ = reports.write([sample()], tmp_path)
    data = json.loads(js.read_text())
    assert data["passed"] is False
    lab = data["labs"][0]
    assert (lab["lab"], lab["cluster"], lab["api_requests"]) == ("nodeport", "kind", 7)
    assert {k: v for k, v in lab.items() if k != "results"} == {
        "lab": "nodeport", "title": "NodePort", "namespace": "lab-nodeport", "cluster": "kind",
        "seconds": 1.5, "api_requests": 7, "passed": False}
    assert [r["status"] for r in lab["results"]] == ["passed", "failed", "skipped"]
    assert lab["results"][1]["hint"] == "set nodePort: 31001"


def test_junit_has_one_case_per_objective_with_failures_and_skips(tmp_path):
    _, junit = reports.write([sample()], tmp_path)
    xml = JUnitXml.fromfile(str(junit))
    suite = next(iter(xml))
    assert suite.name == "lab.nodeport"
    cases = {c.classname: c for c in suite}
    assert set(cases) == {"lab.nodeport.service-type", "lab.nodeport.node-port",
                          "lab.nodeport.curl-host"}
    failure = cases["lab.nodeport.node-port"].result[0]
    assert failure.message == "expected PORT(S) 80:31001/TCP; found PORT(S) 80:30080/TCP"
    assert cases["lab.nodeport.curl-host"].is_skipped
    assert cases["lab.nodeport.service-type"].is_passed


def test_the_summary_line_counts_results():
    assert reports.summary([sample()]) == (
        "nodeport: 1 passed, 1 failed, 1 skipped (1.5 s, 7 API requests)")


def test_the_notebook_panel_escapes_and_shows_expected_found_hint():
    rep = sample()
    rep.results[1].found = "<script>x</script>"
    html = widgets.report_html([rep])
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    assert "<b>expected</b> PORT(S) 80:31001/TCP" in html
    assert "<b>hint</b> set nodePort: 31001" in html
