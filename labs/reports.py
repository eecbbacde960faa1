"""Render grading reports: a terminal table, JSON, and JUnit XML (for CI and GitHub Classroom).

Reports are data (:class:`labs.grading.Report`); these functions only present them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .grading import FAILED, PASSED, SKIPPED, Report

MARKS = {PASSED: ("PASS", "green"), FAILED: ("FAIL", "red"), SKIPPED: ("SKIP", "yellow")}


def table(reports: Sequence[Report]) -> Table:
    t = Table(title="Lab checks", expand=False)
    t.add_column("Lab")
    t.add_column("#", justify="right")
    t.add_column("Objective")
    t.add_column("Result")
    t.add_column("Found", overflow="fold", style="dim")
    for rep in reports:
        for i, r in enumerate(rep.results, 1):
            mark, colour = MARKS[r.status]
            t.add_row(rep.lab, str(i), r.title, Text(mark, style=f"bold {colour}"), r.found)
    return t


def failures(reports: Sequence[Report]) -> str:
    """Each failed objective: what was expected, what was found, and the hint."""
    blocks = []
    for rep in reports:
        for i, r in enumerate(rep.results, 1):
            if r.status == FAILED:
                blocks.append(f"{rep.lab} #{i} {r.title}\n  expected: {r.expected}\n"
                              f"  found:    {r.found}\n  hint:     {r.hint}")
    return "\n\n".join(blocks)


def summary(reports: Sequence[Report]) -> str:
    lines = []
    for rep in reports:
        c = rep.counts
        lines.append(f"{rep.lab}: {c[PASSED]} passed, {c[FAILED]} failed"
                     + (f", {c[SKIPPED]} skipped" if c[SKIPPED] else "")
                     + f" ({rep.seconds:.1f} s, {rep.api_requests} API requests)")
    return "\n".join(lines)


def print_reports(reports: Sequence[Report], console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    console.print(table(reports))
    failed = failures(reports)
    if failed:
        console.print(Text(failed), soft_wrap=True)
        console.print()
    console.print(summary(reports))


def to_json(reports: Sequence[Report]) -> str:
    return json.dumps({"passed": all(r.passed for r in reports),
                       "labs": [r.to_dict() for r in reports]}, indent=2)


def to_junit(reports: Sequence[Report]) -> JUnitXml:
    xml = JUnitXml("k8s-service-labs")
    for rep in reports:
        suite = TestSuite(f"lab.{rep.lab}")
        suite.time = round(rep.seconds, 3)
        for r in rep.results:
            case = TestCase(r.title, classname=f"lab.{rep.lab}.{r.id}")
            if r.status == FAILED:
                case.result = [Failure(f"expected {r.expected}; found {r.found}", "objective")]
                case.system_out = f"hint: {r.hint}"
            elif r.status == SKIPPED:
                case.result = [Skipped(r.found)]
            suite.add_testcase(case)
        xml.add_testsuite(suite)
    return xml


def write(reports: Sequence[Report], directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    js, junit = directory / "check-results.json", directory / "junit.xml"
    js.write_text(to_json(reports) + "\n", encoding="utf-8")
    to_junit(reports).write(str(junit), pretty=True)
    return js, junit
