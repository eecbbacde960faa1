"""The students' servers: JupyterHub's LocalProcessSpawner, run as each student's own Unix user.

Why LocalProcessSpawner (and not SystemdSpawner or Docker): it ships with JupyterHub, needs no
systemd (containers and many CI machines have none) and no Docker, and setuid to a per-student
Unix user gives the isolation a workshop needs (0700 homes, 0600 kubeconfigs). What it lacks is
tearing down what the server started: it signals the server's process only, and the student's
embedded cluster is a daemon of its own. :meth:`ClassroomSpawner.stop` therefore stops that
cluster too (``kubesim down`` on the student's state directory, as the student), so an idle
server that the culler stops frees its ports; the cluster's state stays in the home and comes
back with the next start.

Per student the server gets: ``LAB_HOST_IP`` (their own loopback address, where their cluster's
NodePorts answer and where the grader and the notebooks' host cells look), ``LAB_STATE_DIR``
(``~/.labs``: the cluster's state, token and kubeconfig), ``LAB_REPORTS`` and ``LAB_CLUSTER``.
"""

from __future__ import annotations

import asyncio
import pwd
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Bool, Dict, Unicode

from . import roster, users


class ClassroomSpawner(LocalProcessSpawner):  # type: ignore[misc]
    addresses = Dict(help="hub user name -> the student's own loopback address").tag(config=True)
    student_bin = Unicode(help="bin/ of the students' virtualenv (.classroom/venv/bin)").tag(
        config=True)
    create_users = Bool(True, help="create the student's Unix user lab-<name> when missing").tag(
        config=True)
    lang = Unicode("en", help="the notebooks' language students open first (en or ko)").tag(
        config=True)

    @property
    def unix_name(self) -> str:
        return roster.unix_name(self.user.name)

    def make_preexec_fn(self, name: str) -> Any:
        return set_user_setuid(roster.unix_name(name))

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        entry = pwd.getpwnam(self.unix_name)
        env.update(USER=self.unix_name, LOGNAME=self.unix_name, HOME=entry.pw_dir,
                   SHELL=entry.pw_shell or "/bin/bash")
        return env

    def home(self) -> Path:
        return Path(pwd.getpwnam(self.unix_name).pw_dir)

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        home = self.home()
        address = self.addresses.get(self.user.name)
        if address:
            env["LAB_HOST_IP"] = env["KUBESIM_HOST_IP"] = address
        env.update(
            LAB_CLUSTER="embedded", LAB_STATE_DIR=str(home / ".labs"),
            LAB_REPORTS=str(home / "reports"), LAB_LANG=self.lang,
            KUBECONFIG=str(home / ".labs" / "embedded" / "kubeconfig"),
            XDG_CACHE_HOME=str(home / ".cache"),
            PATH=f"{self.student_bin}:/usr/local/bin:/usr/bin:/bin")
        return env

    async def start(self) -> Any:
        if self.create_users and not users.exists(self.user.name):
            await asyncio.get_running_loop().run_in_executor(None, users.ensure, self.user.name)
        self.cmd = [str(Path(self.student_bin) / "python"), "-m", "classroom.singleuser"]
        self.notebook_dir = str(self.home() / "notebooks")
        return await super().start()

    async def stop(self, now: bool = False) -> None:
        await super().stop(now=now)
        await self.stop_cluster()

    async def stop_cluster(self) -> None:
        """Stop the student's embedded cluster (its state stays for the next start)."""
        state = self.home() / ".labs" / "embedded"
        if not (state / "server.json").exists():
            return
        proc = await asyncio.create_subprocess_exec(
            str(Path(self.student_bin) / "python"), "-m", "kubesim", "down", "--state-dir",
            str(state), preexec_fn=self.make_preexec_fn(self.user.name), env=self.get_env(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=str(self.home()))
        _, err = await proc.communicate()
        if proc.returncode:
            self.log.warning("stopping %s's embedded cluster failed: %s", self.user.name,
                             err.decode(errors="replace")[-300:])
        else:
            self.log.info("stopped %s's embedded cluster (state kept in %s)", self.user.name, state)
