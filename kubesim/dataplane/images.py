"""What each container image brings: its network commands, shells, environment and servers.

The embedded cluster runs no images; a profile per image says what a learner would find inside
(``curl`` in nginx, ``nslookup`` and ``wget`` in busybox, ``dig`` in tools images) and what the
container's main process answers on which ports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..kubelet.runtime import PullFailure

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
    # the image's own command ends at once without a terminal (busybox's sh, curl --help): a
    # container without command, args or stdin exits, and restartPolicy Always crash-loops it
    exits: bool = False


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
    "nicolaka/netshoot": Image("nicolaka/netshoot", _ALL | {"iptables-save"}, exits=True),
    "registry.k8s.io/kube-proxy": Image("kube-proxy", frozenset({"iptables-save", "hostname"}),
                                        bash=False),
    "busybox": Image("busybox", _BUSYBOX, bash=False, busybox=True, exits=True),
    "alpine": Image("alpine", _BUSYBOX | {"getent"}, bash=False, busybox=True, exits=True),
    "curlimages/curl": Image("curlimages/curl", _BUSYBOX | {"curl"}, bash=False, busybox=True,
                             entrypoint=("curl",), cmd=("--help",), exits=True),
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


# ---- what the registries have (the kubelet's image pulls) ----
# The embedded cluster has no network, so it cannot ask a registry. The rule (README "Image
# pulls"): the images of the profiles above and Docker Hub's official images pull; a profile's
# tag must look like one its repository publishes (nginx:1.29, busybox:1.37, not nginx:1.299);
# a docker.io/library name that is no official image (ngnix, myapp) and a near miss of a known
# repository (amsy810/echo-ngnix) are "pull access denied"; registries other than the public
# ones below do not resolve (myregistry.local). Other repositories of the public registries
# pull: the simulation cannot know them, so it believes them. One exception: registry.invalid
# is the differential suite's "any image" (tests/differential/cases, recorded on the real
# control plane's KWOK nodes, which run any image); it pulls, so replays agree with them.
OFFICIAL = frozenset("""
nginx httpd busybox alpine ubuntu debian centos fedora rockylinux almalinux amazonlinux
archlinux opensuse photon oraclelinux clearlinux python node golang openjdk eclipse-temurin
amazoncorretto ruby php perl rust gcc erlang elixir haskell julia swift dotnet mono redis
memcached postgres mysql mariadb mongo cassandra couchdb neo4j influxdb elasticsearch
rabbitmq nats traefik haproxy caddy tomcat jetty wordpress ghost drupal joomla nextcloud
registry hello-world traefik consul vault vault zookeeper solr kibana logstash grafana
buildpack-deps bash docker telegraf chronograf kapacitor adminer phpmyadmin sonarqube
jenkins gradle maven groovy kong percona mongo-express redmine odoo rocket.chat eclipse-mosquitto
busybox nats-streaming varnish squid memcached irssi
""".split())
PUBLIC_REGISTRIES = frozenset({
    "docker.io", "registry.k8s.io", "k8s.gcr.io", "gcr.io", "ghcr.io", "quay.io",
    "mcr.microsoft.com", "public.ecr.aws", "mirror.gcr.io", "registry.gitlab.com",
    "us-docker.pkg.dev", "europe-docker.pkg.dev", "asia-docker.pkg.dev", "nvcr.io",
})
_NUM = r"(0|[1-9][0-9]*)"


def _version_tags(major: int, max_minor: int, max_patch: int, variants: str) -> str:
    minor = "|".join(str(n) for n in range(max_minor + 1))
    return (rf"({major}(\.({minor})(\.([0-9]|1[0-9]|{max_patch}))?)?)"
            rf"(-({variants}))?")


_NGINX_VARIANTS = r"(alpine(3\.[0-9]+)?|bookworm|bullseye|buster|trixie)(-(slim|perl|otel))?|" \
                  r"perl|otel"
_TAGS: dict[str, str] = {
    # nginx publishes 1.N and 1.N.M (up to this profile's 1.29.x mainline and 1.30 stable)
    "nginx": rf"latest|stable|mainline|({_NGINX_VARIANTS})|(stable|mainline)-({_NGINX_VARIANTS})|"
             + _version_tags(1, 30, 20, _NGINX_VARIANTS),
    "busybox": r"latest|stable|unstable|musl|glibc|uclibc|" +
               _version_tags(1, 37, 9, r"musl|glibc|uclibc"),
    "alpine": r"latest|edge|" + _version_tags(3, 23, 9, r"x"),
    "httpd": r"latest|alpine|2|2-alpine|2\.4|2\.4-alpine|2\.4\.([0-9]|[1-5][0-9]|6[0-6])"
             r"(-alpine)?",
    "amsy810/echo-nginx": r"latest|v[12]\.0",
    "amsy810/tools": r"latest|v[12]\.0",
    "nicolaka/netshoot": r"latest|v0\.([0-9]|1[0-4])",
    "curlimages/curl": r"latest|[78]\.[0-9]+\.[0-9]+",
    "registry.k8s.io/e2e-test-images/agnhost": r"2\.([0-9]|[1-5][0-9])",
    "registry.k8s.io/kube-proxy": r"v1\.([0-9]|[1-3][0-9])\.[0-9]+",
    "registry.k8s.io/coredns/coredns": r"v1\.[0-9]+\.[0-9]+",
}


def _parts(image: str) -> tuple[str, str, str, str]:
    """(registry, path, tag, digest) as containerd normalises a reference."""
    ref, _, digest = image.partition("@")
    first, slash, rest = ref.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = "docker.io", ref
    tag = ""
    if ":" in path.rsplit("/", 1)[-1]:
        path, tag = path.rsplit(":", 1)
    if domain in ("index.docker.io", "registry-1.docker.io"):
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    return domain, path, tag, digest


_REF = re.compile(r"[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*")


def pull_failure(image: str) -> PullFailure | None:
    """None when the cluster can have ``image``; else what the kubelet reports (containerd's
    words, as kind's containerd answers)."""
    domain, path, tag, digest = _parts(image)
    if not _REF.fullmatch(path) or (tag and not re.fullmatch(r"[\w][\w.-]{0,127}", tag)):
        why = "invalid reference format"
        if path.lower() != path and _REF.fullmatch(path.lower()):
            why += f": repository name ({path}) must be lowercase"
        return PullFailure("InvalidImageName",
                           f'Failed to apply default image tag "{image}": couldn\'t parse image '
                           f'name "{image}": {why}')
    full = f"{domain}/{path}" + (f":{tag or 'latest'}" if tag or not digest else "") + \
        (f"@{digest}" if digest else "")
    head = f'failed to pull and unpack image "{full}": failed to resolve reference "{full}": '
    if domain == "registry.invalid":
        return None
    if domain not in PUBLIC_REGISTRIES:
        host = domain.split(":")[0]
        ref = tag or digest or "latest"
        if host in ("localhost", "127.0.0.1"):
            port = domain.split(":")[1] if ":" in domain else "443"
            return PullFailure("ErrImagePull", head + f'failed to do request: Head "https://'
                               f'{domain}/v2/{path}/manifests/{ref}": dial tcp 127.0.0.1:{port}: '
                               f"connect: connection refused")
        return PullFailure("ErrImagePull", head + f'failed to do request: Head "https://{domain}'
                           f'/v2/{path}/manifests/{ref}": dial tcp: lookup {host} on '
                           f"172.18.0.1:53: no such host")
    denied = PullFailure("ErrImagePull", head + "pull access denied, repository does not exist "
                         "or may require authorization: server message: insufficient_scope: "
                         "authorization failed")
    short = path[len("library/"):] if domain == "docker.io" and path.startswith(
        "library/") else path if domain == "docker.io" else f"{domain}/{path}"
    if short in _TAGS or short in PROFILES:
        pattern = _TAGS.get(short)
        if tag and pattern and not re.fullmatch(pattern, tag):
            return PullFailure("ErrImagePull", f"rpc error: code = NotFound desc = {head}{full}:"
                               f" not found")
        return None
    if domain == "docker.io" and path.startswith("library/"):
        return None if short in OFFICIAL else denied
    known = [k for k in list(_TAGS) + list(PROFILES) if "/" in k or domain == "docker.io"]
    if any(_near(short, k) for k in known):
        return denied
    return None


def _near(a: str, b: str) -> bool:
    """A typo of ``b``: one or two edits (or two swapped letters) apart."""
    if a == b or abs(len(a) - len(b)) > 2:
        return False
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1] <= 2


def image_size(image: str) -> int:
    """Bytes the kubelet reports after a pull (roughly the real images' compressed sizes)."""
    p = profile(image)
    return {"nginx": 59774010, "amsy810/echo-nginx": 53421155, "busybox": 2166802,
            "alpine": 3653068, "httpd": 45226587, "curlimages/curl": 11312440,
            "nicolaka/netshoot": 186532940, "amsy810/tools": 147208932}.get(p.name, 26214400)
