"""Grades where instructors keep them: CSV, and GitHub Classroom's autograding results.

Points: one point per objective unless ``classroom/points.yaml`` (or ``--points FILE``) says
otherwise (``<lab>: {<objective id>: <points>}``). A passed objective earns its points; a failed
or waiting one earns none; one skipped because it cannot be judged here (a host check on a
cluster that maps no ports) is left out of the maximum. Partial credit is per objective.

GitHub Classroom: ``python -m classroom autograding reports/check-results.json`` prints
``result=<base64>`` for ``$GITHUB_OUTPUT``: one JSON object per runner as the Classroom grading
reporter reads it (``status``, ``max_score``, ``tests[].name/status/score/message``);
``classroom/github/classroom.yml`` is a ready workflow for an assignment repository.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from labs import grading
from labs.paths import PROJECT

POINTS = PROJECT / "classroom" / "points.yaml"


def points(path: Path | None = None) -> dict[str, dict[str, float]]:
    path = path or POINTS
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    return {str(lab): {str(k): float(v) for k, v in (objs or {}).items()}
            for lab, objs in data.items()}


def worth(table: dict[str, dict[str, float]], lab: str, objective: str) -> float:
    return table.get(lab, {}).get(objective, 1.0)


def csv_text(rows: dict[str, Any], table: dict[str, dict[str, float]] | None = None) -> str:
    """student, lab, objective, status, points, max_points, first_passed (ISO time)."""
    table = table if table is not None else points()
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["student", "lab", "objective", "status", "points", "max_points", "first_passed"])
    for name in sorted(rows):
        row = rows[name]
        for lab, objs in row.labs.items():
            for o in objs:
                if o["status"] == grading.SKIPPED:
                    continue
                most = worth(table, lab, o["id"])
                got = most if o["status"] == grading.PASSED else 0.0
                when = row.first_passed.get(f"{lab}/{o['id']}")
                w.writerow([name, lab, o["id"], o["status"], f"{got:g}", f"{most:g}",
                            time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when)) if when else ""])
    return out.getvalue()


def autograding_result(check_json: dict[str, Any], table: dict[str, dict[str, float]] | None = None,
                       labs: list[str] | None = None) -> dict[str, Any]:
    """GitHub Classroom's runner result from `make check`'s reports/check-results.json."""
    table = table if table is not None else points()
    tests, max_score = [], 0.0
    for lab in check_json.get("labs", []):
        if labs and lab["lab"] not in labs:
            continue
        for r in lab["results"]:
            if r["status"] == grading.SKIPPED:
                continue
            most = worth(table, lab["lab"], r["id"])
            max_score += most
            ok = r["status"] == grading.PASSED
            tests.append({"name": f"{lab['lab']}: {r['title']}", "status": "pass" if ok else "fail",
                          "score": most if ok else 0, "message": "" if ok else
                          (r.get("found") or "")[:500], "test_code": f"make check LAB={lab['lab']}",
                          "filename": f"checks/{lab['lab']}.yaml", "line_no": 0, "duration": 0})
    status = "pass" if tests and all(t["status"] == "pass" for t in tests) else "fail"
    return {"version": 1, "status": status, "max_score": max_score, "tests": tests}


def encoded(result: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(result).encode()).decode()


def cmd_export(args: argparse.Namespace) -> int:
    from . import scoreboard

    settings = scoreboard._settings(args.settings)
    rows = scoreboard.load(scoreboard.results_dir(settings))
    text = csv_text(rows, points(Path(args.points) if args.points else None))
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out} ({len(rows)} students)", file=sys.stderr)
    return 0


def cmd_autograding(args: argparse.Namespace) -> int:
    data = json.loads(Path(args.results).read_text())
    result = autograding_result(data, points(Path(args.points) if args.points else None),
                                args.lab or None)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"result={encoded(result)}")
    total = sum(t["score"] for t in result["tests"])
    print(f"{total:g}/{result['max_score']:g} points", file=sys.stderr)
    return 0


def add_commands(sub: Any) -> None:
    e = sub.add_parser("export", help="the scoreboard's results as CSV (points per objective)")
    e.add_argument("--settings")
    e.add_argument("--points", help="points per objective (default classroom/points.yaml)")
    e.add_argument("--out", default="-", help="file (default: stdout)")
    e.set_defaults(func=cmd_export)
    a = sub.add_parser("autograding", help="GitHub Classroom's result from make check's JSON")
    a.add_argument("results", nargs="?", default="reports/check-results.json")
    a.add_argument("--lab", action="append", help="only this lab (repeatable)")
    a.add_argument("--points")
    a.add_argument("--json", action="store_true", help="print the JSON, not result=<base64>")
    a.set_defaults(func=cmd_autograding)
