"""What each container image brings: its network commands, shells, environment and servers.

The embedded cluster runs no images; a profile per image says what a learner would find inside
(``curl`` in nginx, ``nslookup`` and ``wget`` in busybox, ``dig`` in tools images) and what the
container's main process answers on which ports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NETWORK_TOOLS = ("curl", "wget", "nslookup", "dig", "host", "getent", "ping", "hostname",
                 "iptables-save")
STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NGINX_VERSION = "1.29.4"
CURL_VERSION = "8.14.1"

_BUSYBOX = frozenset({"wget", "nslookup", "ping", "hostname"})
_ALL = frozenset({"curl", "wget", "nslookup", "dig", "host", "getent", "ping", "hostname"})


@dataclass(frozen=True)
class Image:
    name: str
    tools: frozenset[str]
    bash: bool = True
    server: str | None = None       # "nginx", "echo", "httpd", "generic" or None
    ports: tuple[int, ...] = ()     # where the server listens (before config files)
    env: dict[str, str] = field(default_factory=dict)
    busybox: bool = False           # busybox-style nslookup/wget output
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ("sh",)


NGINX_ENV = {"NGINX_VERSION": NGINX_VERSION, "NJS_VERSION": "0.9.4", "NJS_RELEASE": "1~trixie",
             "PKG_RELEASE": "1~trixie", "DYNPKG_RELEASE": "1~trixie"}

PROFILES: dict[str, Image] = {
    "nginx": Image("nginx", frozenset({"curl", "getent", "hostname"}), server="nginx",
                   ports=(80,), env=NGINX_ENV),
    "nginx-alpine": Image("nginx", _BUSYBOX | {"curl", "getent"}, bash=False, server="nginx",
                          ports=(80,), env=NGINX_ENV, busybox=True),
    "amsy810/echo-nginx": Image("amsy810/echo-nginx", frozenset({"curl", "getent", "hostname"}),
                                server="echo", ports=(8080,), env=NGINX_ENV),
    "amsy810/tools": Image("amsy810/tools", _ALL),
    "nicolaka/netshoot": Image("nicolaka/netshoot", _ALL | {"iptables-save"}),
    "registry.k8s.io/kube-proxy": Image("kube-proxy", frozenset({"iptables-save", "hostname"}),
                                        bash=False),
    "busybox": Image("busybox", _BUSYBOX, bash=False, busybox=True),
    "alpine": Image("alpine", _BUSYBOX | {"getent"}, bash=False, busybox=True),
    "curlimages/curl": Image("curlimages/curl", _BUSYBOX | {"curl"}, bash=False, busybox=True,
                             entrypoint=("curl",), cmd=("--help",)),
    "httpd": Image("httpd", frozenset({"getent", "hostname"}), server="httpd", ports=(80,)),
    "registry.k8s.io/e2e-test-images/agnhost": Image("agnhost", _ALL | {"curl"},
                                                    server="generic"),
}
DEFAULT = Image("unknown", frozenset({"getent", "hostname"}), server="generic")


def repository(image: str) -> tuple[str, str]:
    """``docker.io/library/nginx:1.29`` -> ("nginx", "1.29")."""
    ref = image.split("@", 1)[0]
    tag = ""
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/",
                   "library/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
    return ref, tag


def profile(image: str) -> Image:
    repo, tag = repository(image or "")
    if repo == "nginx" and "alpine" in tag:
        return PROFILES["nginx-alpine"]
    if repo in PROFILES:
        return PROFILES[repo]
    if repo.endswith("/nginx") or repo == "nginxinc/nginx-unprivileged":
        return PROFILES["nginx"]
    return DEFAULT
