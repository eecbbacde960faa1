"""Render grading reports: a terminal table, JSON, and JUnit XML (for CI and GitHub Classroom).

Reports are data (:class:`labs.grading.Report`); these functions only present them, in the
language ``lang`` (titles, hints, expected/found and the words around them: see labs/messages.py).
JSON and JUnit carry the same language as the table; ids, statuses and JUnit class names
(``lab.<lab>.<objective id>``) never change with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .grading import BLOCKED, FAILED, PASSED, SKIPPED, Report
from .messages import DEFAULT, field_labels, label

MARKS = {PASSED: ("PASS", "green"), FAILED: ("FAIL", "red"), SKIPPED: ("SKIP", "yellow"),
         BLOCKED: ("WAIT", "blue")}


def mark(status: str, lang: str = DEFAULT) -> tuple[str, str]:
    """PASS/FAIL/SKIP in ``lang``, and its colour."""
    return label(status, lang), MARKS[status][1]


def table(reports: Sequence[Report], lang: str = DEFAULT) -> Table:
    t = Table(title=label("table", lang), expand=False)
    t.add_column(label("col.lab", lang))
    t.add_column("#", justify="right")
    t.add_column(label("col.objective", lang))
    t.add_column(label("col.result", lang))
    t.add_column(label("col.found", lang), overflow="fold", style="dim")
    for rep in reports:
        for i, r in enumerate(rep.in_lang(lang).results, 1):
            word, colour = mark(r.status, lang)
            t.add_row(rep.lab, str(i), r.title, Text(word, style=f"bold {colour}"), r.found)
    return t


def failures(reports: Sequence[Report], lang: str = DEFAULT) -> str:
    """Each failed objective: what was expected, what was found, and the hint; the first of them
    is where to start (the objectives that wait are not repeated: the table says what they wait
    for)."""
    f = field_labels(lang)
    blocks = []
    for rep in reports:
        for i, r in enumerate(rep.in_lang(lang).results, 1):
            if r.status == FAILED:
                blocks.append(f"{rep.lab} #{i} {r.title}\n  {f['expected']}{r.expected}\n"
                              f"  {f['found']}{r.found}\n  {f['hint']}{r.hint}")
    return "\n\n".join(blocks)


def counts(rep: Report, lang: str = DEFAULT) -> str:
    """"2 passed, 1 failed" (", 1 skipped", ", 6 waiting" when any was)."""
    c = rep.counts
    return (label("counts", lang, passed=c[PASSED], failed=c[FAILED])
            + (label("counts.skipped", lang, skipped=c[SKIPPED]) if c[SKIPPED] else "")
            + (label("counts.blocked", lang, blocked=c[BLOCKED]) if c[BLOCKED] else ""))


def summary(reports: Sequence[Report], lang: str = DEFAULT) -> str:
    return "\n".join(f"{rep.lab}: {counts(rep, lang)} "
                     f"({label('cost', lang, seconds=rep.seconds, requests=rep.api_requests)})"
                     for rep in reports)


def print_reports(reports: Sequence[Report], console: Console | None = None,
                  lang: str = DEFAULT) -> None:
    console = console or Console(highlight=False)
    console.print(table(reports, lang))
    failed = failures(reports, lang)
    if failed:
        console.print(Text(failed), soft_wrap=True)
        console.print()
    console.print(summary(reports, lang))


def to_json(reports: Sequence[Report], lang: str = DEFAULT) -> str:
    return json.dumps({"passed": all(r.passed for r in reports), "lang": lang,
                       "labs": [r.in_lang(lang).to_dict() for r in reports]},
                      indent=2, ensure_ascii=False)


def to_junit(reports: Sequence[Report], lang: str = DEFAULT) -> JUnitXml:
    xml = JUnitXml("k8s-service-labs")
    hint = label("hint", lang)
    for rep in reports:
        suite = TestSuite(f"lab.{rep.lab}")
        suite.time = round(rep.seconds, 3)
        for r in rep.in_lang(lang).results:
            case = TestCase(r.title, classname=f"lab.{rep.lab}.{r.id}")
            if r.status == FAILED:
                case.result = [Failure(label("junit.failure", lang, expected=r.expected,
                                             found=r.found), "objective")]
                case.system_out = f"{hint}: {r.hint}"
            elif r.status in (SKIPPED, BLOCKED):
                case.result = [Skipped(r.found)]
            suite.add_testcase(case)
        xml.add_testsuite(suite)
    return xml


def write(reports: Sequence[Report], directory: Path, lang: str = DEFAULT
          ) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    js, junit = directory / "check-results.json", directory / "junit.xml"
    js.write_text(to_json(reports, lang) + "\n", encoding="utf-8")
    to_junit(reports, lang).write(str(junit), pretty=True)
    return js, junit
