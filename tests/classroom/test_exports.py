"""The classroom's pieces that need no hub: the roster, the students' addresses, who is stuck,
the CSV and GitHub Classroom exports with points per objective, and host URLs per student."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import pytest

from classroom import export, roster, scoreboard
from labs import probing
from labs.errors import LabError


def test_roster_names_students_and_instructors() -> None:
    r = roster.parse("# room 1\ninstructor: kim\nalice  Alice Park\nbob\n", "r.txt")
    assert r.names == ["alice", "bob"] and r.instructors == ["kim"]
    assert r.students["alice"] == "Alice Park"
    with pytest.raises(LabError) as e:
        roster.parse("alice\nAl!ce\n", "r.txt")
    assert e.value.where == "r.txt:2"
    with pytest.raises(LabError, match="listed twice"):
        roster.parse("bob\nbob\n")


def test_addresses_are_own_and_kept(tmp_path: Path) -> None:
    first = roster.addresses(["alice", "bob"], tmp_path)
    assert len(set(first.values())) == 2
    assert all(a.startswith("127.") and not a.endswith((".0", ".1", ".255")) for a in first.values())
    again = roster.addresses(["carol", "bob", "alice"], tmp_path)   # roster reordered, grown
    assert again["alice"] == first["alice"] and again["bob"] == first["bob"]
    assert again["carol"] not in first.values()


def test_host_url_follows_the_students_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_HOST_IP", raising=False)
    assert probing.host_url("http://127.0.0.1:31001/") == "http://127.0.0.1:31001/"
    monkeypatch.setenv("LAB_HOST_IP", "127.77.0.9")
    assert probing.host_url("http://127.0.0.1:31001/x") == "http://127.77.0.9:31001/x"
    assert probing.host_url("http://localhost:8080/") == "http://127.77.0.9:8080/"
    assert probing.host_url("http://10.0.0.1:31001/") == "http://10.0.0.1:31001/"
    token = probing.HOST_IP.set("127.77.0.3")   # the scoreboard's per-student grading
    try:
        assert probing.host_url("http://127.0.0.1:31001/") == "http://127.77.0.3:31001/"
    finally:
        probing.HOST_IP.reset(token)


def row() -> scoreboard.Row:
    objs = [{"id": "web-ready", "status": "passed", "title": "web ready"},
            {"id": "node-port", "status": "failed", "title": "nodePort 31001"},
            {"id": "curl-host", "status": "blocked", "title": "curl from the host"},
            {"id": "skipped-one", "status": "skipped", "title": "n/a here"}]
    return scoreboard.Row("alice", 1000.0, labs={"nodeport": objs, "clusterip": []},
                          first_passed={"nodeport/web-ready": 900.0})


def test_stuck_on_the_first_failing_objective_of_the_lab_started() -> None:
    r = row()
    assert r.stuck_on() == ("nodeport", "nodePort 31001")
    assert r.last_progress == 900.0
    data = scoreboard.board({"alice": r}, ["clusterip", "nodeport"])
    cell = data["students"][0]["labs"]["nodeport"]
    assert cell["marks"] == "✓✗·-" and (cell["passed"], cell["total"]) == (1, 4)
    assert data["students"][0]["stuck_on"] == "nodeport: nodePort 31001"


def test_csv_has_points_per_objective() -> None:
    text = export.csv_text({"alice": row()}, {"nodeport": {"web-ready": 3}})
    lines = list(csv.DictReader(io.StringIO(text)))
    by_id = {r["objective"]: r for r in lines}
    assert set(by_id) == {"web-ready", "node-port", "curl-host"}   # skipped ones are left out
    assert (by_id["web-ready"]["points"], by_id["web-ready"]["max_points"]) == ("3", "3")
    assert (by_id["node-port"]["points"], by_id["node-port"]["max_points"]) == ("0", "1")
    assert by_id["web-ready"]["first_passed"] and not by_id["node-port"]["first_passed"]


def test_github_classroom_result_gives_partial_credit() -> None:
    check = {"labs": [{"lab": "nodeport", "results": [
        {"id": "web-ready", "title": "web ready", "status": "passed", "found": ""},
        {"id": "node-port", "title": "nodePort", "status": "failed", "found": "nodePort 30080"},
        {"id": "curl-host", "title": "host", "status": "blocked", "found": "waits"},
        {"id": "x", "title": "skipped", "status": "skipped", "found": ""}]}]}
    result = export.autograding_result(check, {"nodeport": {"curl-host": 2}})
    assert result["max_score"] == 4 and result["status"] == "fail"
    assert [t["score"] for t in result["tests"]] == [1, 0, 0]
    assert result["tests"][1]["message"] == "nodePort 30080"
    decoded = json.loads(base64.b64decode(export.encoded(result)))
    assert decoded == result
    check["labs"][0]["results"] = check["labs"][0]["results"][:1]
    assert export.autograding_result(check, {})["status"] == "pass"


def test_the_workflow_feeds_the_reporter_the_step_output() -> None:
    import yaml

    wf = yaml.safe_load((export.PROJECT / "classroom" / "github" / "classroom.yml").read_text())
    steps = wf["jobs"]["grade"]["steps"]
    grade = next(s for s in steps if s.get("id") == "labs")
    report = steps[-1]
    assert "autograding" in grade["run"] and "GITHUB_OUTPUT" in grade["run"]
    assert report["uses"].startswith("classroom-resources/autograding-grading-reporter@")
    assert report["with"]["runners"] == "labs"
    assert report["env"]["LABS_RESULTS"] == "${{ steps.labs.outputs.result }}"
