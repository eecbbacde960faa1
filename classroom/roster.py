"""The roster: who the students and instructors are, their Unix users and their own addresses.

A roster file has one person a line: a hub user name, then optionally a display name; ``#``
starts a comment. A line ``instructor: NAME`` names an instructor (the hub's admin). Example::

    # CS 101, Monday 9:00
    instructor: kim
    alice   Alice Park
    bob

Each student gets a Unix user ``lab-<name>`` (their server and their embedded cluster run as it,
their home 0700) and a loopback address 127.77.X.Y of their own, kept in
``.classroom/addresses.json`` so a student keeps the same address when the roster changes.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from labs.errors import LabError

# JupyterHub 6's server names and Unix user names both accept this; 30 chars keeps lab-<name>
# within useradd's 32.
NAME = re.compile(r"^[a-z][a-z0-9-]{0,27}$")
UNIX_PREFIX = os.environ.get("CLASSROOM_UNIX_PREFIX", "lab-")
# 127.77.0.0/16: 65,000 students' addresses, far from 127.0.0.1 (the machine's own services)
ADDRESS_BLOCK = ipaddress.IPv4Network(os.environ.get("CLASSROOM_ADDRESS_BLOCK", "127.77.0.0/16"))


@dataclass
class Roster:
    students: dict[str, str] = field(default_factory=dict)   # name -> display name
    instructors: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def names(self) -> list[str]:
        return list(self.students)


def _check_name(name: str, where: str) -> str:
    if not NAME.match(name):
        raise LabError(f"{name!r} is not a usable user name", where=where,
                       fix="lower-case letters, digits and '-', starting with a letter, at most "
                           "28 characters (it becomes the Unix user lab-<name>)")
    return name


def parse(text: str, source: str = "roster") -> Roster:
    roster = Roster(source=source)
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{source}:{number}"
        if line.lower().startswith("instructor:"):
            name = _check_name(line.split(":", 1)[1].strip(), where)
            roster.instructors.append(name)
            continue
        name, _, display = line.partition(" ")
        _check_name(name, where)
        if name in roster.students:
            raise LabError(f"{name} is listed twice", where=where, fix="keep one of the lines")
        roster.students[name] = display.strip() or name
    clash = set(roster.instructors) & set(roster.students)
    if clash:
        raise LabError(f"{', '.join(sorted(clash))} is both a student and an instructor",
                       where=source, fix="an instructor sees the students' work from the "
                                         "scoreboard; list them once, as instructor:")
    return roster


def load(path: Path) -> Roster:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise LabError(f"cannot read the roster: {e.strerror}", where=str(path),
                       fix="write one student name a line (see docs/classroom.md)") from e
    return parse(text, str(path))


def unix_name(student: str) -> str:
    return f"{UNIX_PREFIX}{student}"


def addresses(students: list[str], state: Path) -> dict[str, str]:
    """Each student's own loopback address; addresses already given are kept (state file)."""
    path = state / "addresses.json"
    try:
        known: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    used = set(known.values())
    # .0 and .255 of each /24 are skipped (they read as network/broadcast addresses to people)
    free = (str(a) for a in ADDRESS_BLOCK.hosts() if str(a) not in used
            and a.packed[-1] not in (0, 255) and a.packed[-1] != 1)
    for s in students:
        if s not in known:
            known[s] = next(free)
    state.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return {s: known[s] for s in students}
