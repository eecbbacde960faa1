"""JupyterHub's configuration for a classroom, from the settings `python -m classroom hub` wrote.

classroom/jupyterhub_config.py calls :func:`configure`. Everything listens on 127.0.0.1 unless
the instructor names another address (``--ip``); students' servers always do.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

SERVICE_SCOREBOARD = "scoreboard"
SERVICE_CULLER = "idle-culler"
SERVICE_INSTRUCTOR = "instructor-cli"


def load_settings(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def secret(state: Path, name: str) -> str:
    return (state / name).read_text().strip()


def configure(c: Any, settings: dict[str, Any]) -> None:
    state = Path(settings["state"])
    hub_python = settings.get("hub_python", sys.executable)
    students, instructors = settings["students"], settings["instructors"]

    c.JupyterHub.bind_url = f"http://{settings['ip']}:{settings['port']}"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings['hub_port']}"
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
    c.ConfigurableHTTPProxy.command = [settings["chp"]]
    c.ConfigurableHTTPProxy.auth_token = secret(state, "proxy-token")
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "cookie-secret")
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
    c.JupyterHub.log_level = settings.get("log_level", "INFO")
    # one server per student: each student's embedded cluster has one address
    c.JupyterHub.allow_named_servers = False
    c.JupyterHub.cleanup_servers = True

    # login: one password for the room, a long one for the instructors (shared-password)
    passwords = json.loads(secret(state, "passwords.json"))
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = passwords["students"]
    c.SharedPasswordAuthenticator.admin_password = passwords["instructors"]
    c.Authenticator.allowed_users = set(students) | set(instructors)
    c.Authenticator.admin_users = set(instructors)

    # the students' servers
    c.JupyterHub.spawner_class = "classroom.spawner.ClassroomSpawner"
    c.ClassroomSpawner.addresses = settings["addresses"]
    c.ClassroomSpawner.student_bin = settings["student_bin"]
    c.ClassroomSpawner.create_users = settings.get("create_users", True)
    c.ClassroomSpawner.lang = settings.get("lang", "en")
    c.Spawner.ip = "127.0.0.1"
    c.Spawner.default_url = "/lab"
    c.Spawner.start_timeout = int(settings.get("start_timeout", 120))
    c.Spawner.http_timeout = int(settings.get("start_timeout", 120))
    c.Spawner.mem_limit = settings.get("mem_limit")  # informational for LocalProcessSpawner

    scoreboard_url = f"http://127.0.0.1:{settings['scoreboard_port']}"
    c.JupyterHub.services = [
        {"name": SERVICE_SCOREBOARD, "url": scoreboard_url,
         "command": [hub_python, "-m", "classroom", "scoreboard", "serve",
                     "--settings", settings["path"], "--port", str(settings["scoreboard_port"])],
         "oauth_no_confirm": True,
         "environment": {"CLASSROOM_SETTINGS": settings["path"]}},
        {"name": SERVICE_CULLER,
         "command": [hub_python, "-m", "jupyterhub_idle_culler",
                     f"--timeout={int(settings.get('idle_timeout', 3600))}",
                     f"--cull-every={int(settings.get('cull_every', 300))}"]},
        {"name": SERVICE_INSTRUCTOR, "api_token": secret(state, "instructor-token")},
    ]
    c.JupyterHub.load_roles = [
        {"name": "scoreboard", "services": [SERVICE_SCOREBOARD],
         "scopes": ["list:users", "read:users", "read:servers"]},
        {"name": "idle-culler", "services": [SERVICE_CULLER],
         "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
        # `python -m classroom` as the instructor: start, stop and reset students' servers
        {"name": "instructor-cli", "services": [SERVICE_INSTRUCTOR],
         "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "list:users"]},
    ]
    os.environ.setdefault("CLASSROOM_SETTINGS", settings["path"])
