"""`python -m classroom ...`: the instructor's commands (make classroom calls `hub`)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

from labs.errors import LabError
from labs.paths import PROJECT

from . import env, roster, users

CONFIG = PROJECT / "classroom" / "jupyterhub_config.py"


def hub_state() -> Path:
    state = env.HOME / "hub"
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)   # the hub's database, cookie secret, tokens and passwords
    return state


def _secret_file(path: Path, make: str) -> str:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make + "\n")
    return path.read_text().strip()


def passwords(state: Path, student_password: str | None) -> dict[str, str]:
    """The room's password (CLASSROOM_PASSWORD or --password, else made once) and the
    instructors' (made once, 32+ characters), kept 0600 in .classroom/hub/passwords.json."""
    path = state / "passwords.json"
    current = json.loads(path.read_text()) if path.exists() else {}
    new = {"students": student_password or current.get("students") or secrets.token_urlsafe(9),
           "instructors": current.get("instructors") or secrets.token_urlsafe(33)}
    if len(new["students"]) < 8:
        raise LabError("the room's password is shorter than 8 characters",
                       fix="JupyterHub's shared-password login needs 8 or more")
    if new != current:
        path.unlink(missing_ok=True)
        _secret_file(path, json.dumps(new))
    return new


def write_settings(args: argparse.Namespace) -> dict:
    the_roster = roster.load(Path(args.roster))
    if not the_roster.instructors:
        raise LabError("the roster names no instructor", where=args.roster,
                       fix="add a line `instructor: <name>` (the hub's admin, who sees the "
                           "scoreboard)")
    state = hub_state()
    pw = passwords(state, args.password or os.environ.get("CLASSROOM_PASSWORD"))
    _secret_file(state / "proxy-token", secrets.token_hex(32))
    _secret_file(state / "instructor-token", secrets.token_hex(32))
    student_bin = env.ensure_student_venv()
    settings = {
        "path": str(state / "settings.json"), "state": str(state), "roster": str(args.roster),
        "students": the_roster.names, "instructors": the_roster.instructors,
        "addresses": roster.addresses(the_roster.names, state),
        "ip": args.ip, "port": args.port, "hub_port": args.hub_port,
        "proxy_api_port": args.proxy_api_port, "scoreboard_port": args.scoreboard_port,
        "chp": str(env.ensure_proxy()), "student_bin": str(student_bin),
        "hub_python": sys.executable, "idle_timeout": args.idle_timeout,
        "cull_every": args.cull_every, "lang": args.lang, "create_users": True,
        "homes": str(users.HOMES), "unix_prefix": roster.UNIX_PREFIX,
    }
    path = state / "settings.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(settings, indent=1) + "\n")
    tmp.chmod(0o600)
    os.replace(tmp, path)
    for student in the_roster.names:
        users.ensure(student)
    print(f"Classroom hub on http://{args.ip}:{args.port}/ for {len(the_roster.names)} "
          f"student(s) of {args.roster}\n"
          f"  students log in with their roster name and the room's password: {pw['students']}\n"
          f"  instructors ({', '.join(the_roster.instructors)}) with the instructors' password "
          f"(in {state / 'passwords.json'})\n"
          f"  scoreboard: http://{args.ip}:{args.port}/services/scoreboard/", file=sys.stderr)
    return settings


def cmd_hub(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        raise LabError("the classroom hub runs students' servers as their own Unix users, which "
                       "needs root", fix="sudo make classroom ROSTER=...")
    settings = write_settings(args)
    if args.prepare_only:
        return 0
    hub = Path(sys.executable).parent / "jupyterhub"
    environ = {**os.environ, "CLASSROOM_SETTINGS": settings["path"]}
    os.chdir(settings["state"])
    os.umask(0o077)
    os.execve(str(hub), [str(hub), "-f", str(CONFIG)], environ)
    return 0  # not reached


def cmd_users(args: argparse.Namespace) -> int:
    the_roster = roster.load(Path(args.roster))
    for student in the_roster.names:
        if args.action == "add":
            entry = users.ensure(student)
            print(f"{entry.pw_name} {entry.pw_dir}")
        elif users.remove(student):
            print(f"removed {roster.unix_name(student)}")
        else:
            print(f"left {roster.unix_name(student)} alone (not made by the classroom)")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m classroom",
                                description="Run the labs for a room of students")
    sub = p.add_subparsers(dest="command", required=True)
    h = sub.add_parser("hub", help="start JupyterHub for the roster (root)")
    h.add_argument("--roster", required=True, help="one student a line; `instructor: NAME`")
    h.add_argument("--password", help="the room's password (default: CLASSROOM_PASSWORD, else "
                                      "one made and kept in .classroom/hub/passwords.json)")
    h.add_argument("--ip", default="127.0.0.1", help="where the hub listens (default 127.0.0.1)")
    h.add_argument("--port", type=int, default=8000)
    h.add_argument("--hub-port", type=int, default=8081)
    h.add_argument("--proxy-api-port", type=int, default=8001)
    h.add_argument("--scoreboard-port", type=int, default=8090)
    h.add_argument("--idle-timeout", type=int, default=3600, help="seconds before an idle "
                   "student's server is stopped (their files and cluster state stay)")
    h.add_argument("--cull-every", type=int, default=300)
    h.add_argument("--lang", choices=["en", "ko"], default="en")
    h.add_argument("--prepare-only", action="store_true",
                   help="write the settings and create the users, do not start the hub")
    h.set_defaults(func=cmd_hub)
    u = sub.add_parser("users", help="create or remove the roster's Unix users (root)")
    u.add_argument("action", choices=["add", "remove"])
    u.add_argument("--roster", required=True)
    u.set_defaults(func=cmd_users)
    from . import scoreboard
    scoreboard.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except LabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
