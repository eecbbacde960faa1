"""The instructor's scoreboard: every student x lab x objective, who is stuck on what.

How results reach it: the scoreboard grades the students' clusters itself (the hub's service
runs as root, reads each student's 0600 kubeconfig in their home, and runs the labs' grader
against their cluster, with host checks on the student's own address). Nothing is
self-reported, students configure nothing, and a student who never runs `make check` still
shows up. Each round's verdicts go to ``.classroom/hub/results/<student>.json`` (root only,
0700), with when each objective first passed, so "time since last progress" survives restarts.

Views: ``python -m classroom scoreboard show [--watch]`` (a terminal table), the hub service
``/services/scoreboard/`` (a page that refreshes itself; instructors only), CSV and GitHub
Classroom exports (classroom/export.py).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs import catalog, grading, probing
from labs.errors import LabError
from labs.kube import Kube

PASSED, FAILED = grading.PASSED, grading.FAILED


@dataclass
class Student:
    name: str
    kubeconfig: Path
    address: str | None = None


@dataclass
class Row:
    """One student's latest round: objective statuses per lab, and their progress over time."""

    student: str
    graded_at: float = 0.0
    error: str = ""
    labs: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # lab -> [{id,status,title}]
    first_passed: dict[str, float] = field(default_factory=dict)      # "lab/objective" -> time
    seconds: float = 0.0

    @property
    def last_progress(self) -> float | None:
        return max(self.first_passed.values(), default=None)

    def stuck_on(self) -> tuple[str, str] | None:
        """(lab, objective title): the first failing objective of the last lab they started."""
        started = [lab for lab, objs in self.labs.items() if any(o["status"] == PASSED for o in objs)]
        for lab in reversed(started):
            for o in self.labs[lab]:
                if o["status"] == FAILED:
                    return lab, o["title"]
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"student": self.student, "graded_at": self.graded_at, "error": self.error,
                "labs": self.labs, "first_passed": self.first_passed, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Row:
        return cls(d["student"], d.get("graded_at", 0.0), d.get("error", ""), d.get("labs", {}),
                   d.get("first_passed", {}), d.get("seconds", 0.0))


def students_from_settings(settings: dict[str, Any]) -> list[Student]:
    import pwd

    out = []
    for name in settings["students"]:
        unix = settings.get("unix_prefix", "lab-") + name
        try:
            home = Path(pwd.getpwnam(unix).pw_dir)
        except KeyError:
            home = Path(settings.get("homes", "/home")) / unix
        out.append(Student(name, home / ".labs" / "embedded" / "kubeconfig",
                           settings["addresses"].get(name)))
    return out


def grade_student(student: Student, labs: list[str], previous: Row | None = None) -> Row:
    """Grade one student's cluster (all ``labs``); keeps when each objective first passed."""
    start = time.monotonic()
    row = Row(student.name, time.time(), first_passed=dict(previous.first_passed) if previous else {})
    token = probing.HOST_IP.set(student.address)   # host checks on the student's own address
    try:
        if not student.kubeconfig.exists():
            row.error = "no cluster yet (the student's server has not started one)"
            return row
        kube = Kube(student.kubeconfig)
        for name in labs:
            report = grading.grade(kube, catalog.load(name), host_ports=True, cluster="embedded")
            row.labs[name] = [{"id": r.id, "status": r.status, "title": r.title}
                              for r in report.results]
            for r in report.results:
                if r.status == PASSED:
                    row.first_passed.setdefault(f"{name}/{r.id}", row.graded_at)
    except LabError as e:
        row.error = e.what
    except Exception as e:  # one student's broken cluster never stops the round
        row.error = f"{type(e).__name__}: {e}"[:300]
    finally:
        probing.HOST_IP.reset(token)
        row.seconds = time.monotonic() - start
    return row


def grade_all(students: list[Student], labs: list[str] | None = None, *, workers: int = 16,
              previous: dict[str, Row] | None = None) -> dict[str, Row]:
    """One round over every student, ``workers`` at a time (1 = one after another)."""
    labs = labs or catalog.names()
    previous = previous or {}
    if workers <= 1:
        return {s.name: grade_student(s, labs, previous.get(s.name)) for s in students}
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        rows = pool.map(lambda s: grade_student(s, labs, previous.get(s.name)), students)
        return {r.student: r for r in rows}


# -- the collection directory ------------------------------------------------------------------
def results_dir(settings: dict[str, Any]) -> Path:
    path = Path(settings["state"]) / "results"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def save(rows: dict[str, Row], directory: Path) -> None:
    for row in rows.values():
        tmp = directory / f".{row.student}.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(row.to_dict(), f)
        os.replace(tmp, directory / f"{row.student}.json")


def load(directory: Path) -> dict[str, Row]:
    rows = {}
    for path in sorted(directory.glob("*.json")):
        try:
            row = Row.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError):
            continue
        rows[row.student] = row
    return rows


def round_(settings: dict[str, Any], workers: int = 16) -> dict[str, Row]:
    directory = results_dir(settings)
    rows = grade_all(students_from_settings(settings), previous=load(directory), workers=workers)
    save(rows, directory)
    return rows


# -- views ---------------------------------------------------------------------------------------
MARK = {PASSED: "✓", FAILED: "✗", grading.BLOCKED: "·", grading.SKIPPED: "-"}


def ago(t: float | None, now: float | None = None) -> str:
    if t is None:
        return "never"
    s = int((now or time.time()) - t)
    if s < 60:
        return f"{s}s"
    return f"{s // 60}m{s % 60:02d}s" if s < 3600 else f"{s // 3600}h{s % 3600 // 60:02d}m"


def board(rows: dict[str, Row], labs: list[str] | None = None) -> dict[str, Any]:
    """The scoreboard as data: per student, per lab the marks, passed/total, stuck on, idle."""
    labs = labs or catalog.names()
    now = time.time()
    out = []
    for name in sorted(rows):
        r = rows[name]
        stuck = r.stuck_on()
        cells = {}
        for lab in labs:
            objs = r.labs.get(lab, [])
            cells[lab] = {"marks": "".join(MARK.get(o["status"], "?") for o in objs),
                          "passed": sum(o["status"] == PASSED for o in objs), "total": len(objs),
                          "objectives": objs}
        out.append({"student": name, "labs": cells, "error": r.error,
                    "stuck_on": f"{stuck[0]}: {stuck[1]}" if stuck else "",
                    "since_progress": ago(r.last_progress, now),
                    "graded": ago(r.graded_at, now) + " ago"})
    return {"labs": labs, "students": out, "at": now}


def terminal_table(data: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title=f"Scoreboard ({len(data['students'])} students)  ✓ passed  ✗ failed  · waits")
    t.add_column("student")
    for lab in data["labs"]:
        t.add_column(lab)
    t.add_column("stuck on")
    t.add_column("last progress")
    for s in data["students"]:
        cells = [f"{c['marks']} {c['passed']}/{c['total']}" for c in s["labs"].values()]
        t.add_row(s["student"], *cells, s["error"] or s["stuck_on"], s["since_progress"])
    return t


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Scoreboard</title><style>
body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
.m{font-family:monospace;letter-spacing:.1em}.ok{color:#1a7f37}.bad{color:#cf222e}.dim{color:#777}
.full{background:#e6ffec}.stuck{background:#fff8c5}</style></head><body>
<h1>Scoreboard <small class="dim" id="at"></small></h1>
<p class="dim">✓ passed ✗ failed · waits for another objective. Refreshes every 5 s.</p>
<table id="board"><thead></thead><tbody></tbody></table>
<script>
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]))}
async function refresh(){
  const r = await fetch('api/board', {credentials:'same-origin'}); const d = await r.json();
  document.querySelector('#board thead').innerHTML = '<tr><th>student</th>' +
    d.labs.map(l=>'<th>'+esc(l)+'</th>').join('') + '<th>stuck on</th><th>last progress</th></tr>';
  document.querySelector('#board tbody').innerHTML = d.students.map(s=>'<tr><td>'+esc(s.student)+
    '</td>' + d.labs.map(l=>{const c=s.labs[l]; const cls=c.total&&c.passed===c.total?'full':'';
      return '<td class="'+cls+'" title="'+esc(c.objectives.map(o=>o.status+': '+o.title).join('\\n'))+
      '"><span class="m">'+esc(c.marks).replace(/✓/g,'<span class=ok>✓</span>').replace(/✗/g,
      '<span class=bad>✗</span>')+'</span> '+c.passed+'/'+c.total+'</td>'}).join('') +
    '<td class="'+(s.stuck_on?'stuck':'')+'">'+esc(s.error||s.stuck_on)+'</td><td>'+
    esc(s.since_progress)+'</td></tr>').join('');
  document.querySelector('#at').textContent = new Date(d.at*1000).toLocaleTimeString();
}
refresh(); setInterval(refresh, 5000);
</script></body></html>
"""


def serve(settings: dict[str, Any], port: int, every: float) -> None:
    """The hub service: grades every ``every`` seconds; the page and api/board need a hub login
    with access to this service (instructors: the admin role)."""
    import asyncio

    from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
    from jupyterhub.utils import url_path_join
    from tornado import web

    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/scoreboard/")
    directory = results_dir(settings)

    class Page(HubOAuthenticated, web.RequestHandler):  # type: ignore[misc]
        @web.authenticated
        def get(self) -> None:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.write(PAGE)

    class Api(HubOAuthenticated, web.RequestHandler):  # type: ignore[misc]
        @web.authenticated
        def get(self) -> None:
            self.set_header("Content-Type", "application/json")
            self.set_header("Cache-Control", "no-store")
            self.write(json.dumps(board(load(directory))))

    async def rounds() -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, round_, settings)
            except Exception as e:  # keep grading; the page shows the last good round
                print(f"scoreboard round failed: {e}", flush=True)
            await asyncio.sleep(every)

    async def main() -> None:
        app = web.Application([
            (prefix, Page), (url_path_join(prefix, "api/board"), Api),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        ], cookie_secret=os.urandom(32))
        app.listen(port, "127.0.0.1")
        await rounds()

    asyncio.run(main())


def _settings(path: str | None) -> dict[str, Any]:
    from .hub import load_settings

    path = path or os.environ.get("CLASSROOM_SETTINGS")
    if not path:
        from . import env
        path = str(env.HOME / "hub" / "settings.json")
    try:
        return load_settings(Path(path))
    except OSError as e:
        raise LabError(f"no classroom settings at {path}", fix="start the hub first: make classroom "
                       "ROSTER=...") from e


def cmd_scoreboard(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.live import Live

    settings = _settings(args.settings)
    if args.action == "serve":
        serve(settings, args.port, args.every)
        return 0
    if args.action == "grade":
        round_(settings, workers=args.workers)
    directory = results_dir(settings)
    if args.action in ("show", "grade") and not args.watch:
        Console().print(terminal_table(board(load(directory))))
        return 0
    with Live(terminal_table(board(load(directory))), refresh_per_second=1) as live:
        while True:
            time.sleep(args.every)
            if args.grade:
                round_(settings, workers=args.workers)
            live.update(terminal_table(board(load(directory))))


def add_commands(sub: Any) -> None:
    s = sub.add_parser("scoreboard", help="the instructor's scoreboard")
    s.add_argument("action", choices=["show", "grade", "serve"],
                   help="show: the last results; grade: grade every student now; serve: the hub "
                        "service (started by the hub)")
    s.add_argument("--settings")
    s.add_argument("--watch", action="store_true", help="refresh the table")
    s.add_argument("--grade", action="store_true", help="with --watch: grade each time too")
    s.add_argument("--every", type=float, default=15.0, help="seconds between rounds")
    s.add_argument("--workers", type=int, default=16, help="students graded at once")
    s.add_argument("--port", type=int, default=8090)
    s.set_defaults(func=cmd_scoreboard)
    from . import export
    export.add_commands(sub)
