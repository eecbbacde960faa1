"""Unix users for students: one per student, created by the classroom and only those removed.

Each student's server, kernels, terminals and embedded cluster run as ``lab-<name>``, a member of
the group ``lab-students``, with a 0700 home (the labs keep the cluster's state, its 0600
kubeconfig and the learner's notebooks there), so one student cannot read another's files.
Removal touches only users in that group whose comment says the classroom made them.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from pathlib import Path

from labs.errors import LabError

from .roster import unix_name

GROUP = os.environ.get("CLASSROOM_GROUP", "lab-students")
COMMENT = "k8s-service-labs student"
HOMES = Path(os.environ.get("CLASSROOM_HOMES", "/home"))


def _root() -> None:
    if os.geteuid() != 0:
        raise LabError("creating the students' Unix users needs root",
                       fix="run make classroom as root (sudo make classroom ...)")


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed (exit {done.returncode}): "
                       f"{done.stderr.strip()[-300:]}", fix="read the message; run it by hand to see more")


def home(student: str) -> Path:
    try:
        return Path(pwd.getpwnam(unix_name(student)).pw_dir)
    except KeyError:
        return HOMES / unix_name(student)


def exists(student: str) -> bool:
    try:
        pwd.getpwnam(unix_name(student))
        return True
    except KeyError:
        return False


def ours(student: str) -> bool:
    """The user was made by the classroom (its comment and group say so)."""
    try:
        entry = pwd.getpwnam(unix_name(student))
        members = grp.getgrnam(GROUP).gr_mem
    except KeyError:
        return False
    return entry.pw_gecos == COMMENT and unix_name(student) in members


def ensure(student: str) -> pwd.struct_passwd:
    """Create the student's Unix user if missing (home 0700 under CLASSROOM_HOMES)."""
    name = unix_name(student)
    _root()
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        _run(["groupadd", "--system", GROUP])
    if not exists(student):
        HOMES.mkdir(parents=True, exist_ok=True)
        _run(["useradd", "--create-home", "--home-dir", str(HOMES / name), "--shell", "/bin/bash",
              "--comment", COMMENT, "--groups", GROUP, "--user-group", name])
    elif not ours(student):
        raise LabError(f"the Unix user {name} exists and was not made by the classroom",
                       fix=f"rename the student in the roster, or set CLASSROOM_UNIX_PREFIX to "
                           f"another prefix than {name[:-len(student)]!r}")
    entry = pwd.getpwnam(name)
    Path(entry.pw_dir).chmod(0o700)
    return entry


def remove(student: str) -> bool:
    """Delete the student's Unix user and home, only if the classroom made it."""
    _root()
    if not ours(student):
        return False
    _run(["userdel", "--remove", unix_name(student)])
    return True
