#!/usr/bin/env python3
"""A runc wrapper for machines whose capability bounding set lacks capabilities that
`docker run --privileged` asks for (these test VMs lack CAP_SYS_RESOURCE).

Docker computes "every capability" for a privileged container from its own list, not from the
bounding set, so runc fails with "unable to apply caps: operation not permitted". This wrapper
removes the capabilities the bounding set does not hold from the OCI spec before calling the real
runc: from the bundle's config.json on `create`/`run`, and from the process spec passed with
`--process` on `exec` (every `docker exec` goes through that path). Everything else is passed
through unchanged.

Only the rig's private Docker daemon (kindrig/dockerd.py) registers it, and only when the
bounding set needs it: it never touches a user's Docker. The real runc is named by
RIG_REAL_RUNC (default: runc on PATH).
"""

import json
import os
import sys

CAP_NAMES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]


def missing_caps() -> set[str]:
    """Capabilities named above that this process's bounding set does not hold (the tests set
    RIG_CAPSHIM_MISSING to a comma-separated list instead)."""
    forced = os.environ.get("RIG_CAPSHIM_MISSING")
    if forced is not None:
        return {c for c in forced.split(",") if c}
    with open("/proc/self/status") as f:
        bnd = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    return {name for bit, name in enumerate(CAP_NAMES) if not bnd & (1 << bit)}


def strip(process: dict, drop: set[str]) -> bool:
    caps = process.get("capabilities") or {}
    changed = False
    for kind, names in caps.items():
        if isinstance(names, list) and drop.intersection(names):
            caps[kind] = [n for n in names if n not in drop]
            changed = True
    return changed


def rewrite(path: str, drop: set[str], whole_spec: bool) -> None:
    with open(path) as f:
        spec = json.load(f)
    process = spec.get("process") if whole_spec else spec
    if isinstance(process, dict) and strip(process, drop):
        tmp = path + ".capshim"
        with open(tmp, "w") as f:
            json.dump(spec, f)
        os.replace(tmp, path)


def option(args: list[str], *names: str) -> str | None:
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def main() -> None:
    args = sys.argv[1:]
    real = os.environ.get("RIG_REAL_RUNC", "runc")
    drop = missing_caps()
    command = next((a for a in args if a in ("create", "run", "exec")), None)
    if drop and command in ("create", "run"):
        bundle = option(args, "--bundle", "-b") or os.getcwd()
        rewrite(os.path.join(bundle, "config.json"), drop, whole_spec=True)
    elif drop and command == "exec":
        process = option(args, "--process", "-p")
        if process:
            rewrite(process, drop, whole_spec=False)
    os.execvp(real, [real, *args])


if __name__ == "__main__":
    main()
