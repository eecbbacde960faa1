"""Every image the labs' kind cluster needs, built here from Debian packages and Go modules, and
the kind node image that carries them (`make kind-images`).

Pod images are written as docker-archives (oci.py) and preloaded into the node image's containerd
(namespace k8s.io, pinned, not unpacked), the way `kind build node-image` preloads its images:
no registry is ever asked. Every image carries the label io.k8s-service-labs.built-locally=true,
and nothing here pushes anywhere.

| image | made of |
|---|---|
| registry.k8s.io/pause:3.10 (kind's sandbox image) | files/pause.c, compiled static |
| registry.k8s.io/etcd:<etcd>-0 | the control plane's etcd build |
| registry.k8s.io/kube-{apiserver,controller-manager,scheduler}:<k8s> | the control plane's build |
| registry.k8s.io/kube-proxy:<k8s> | the 'net' Debian root filesystem + kube-proxy |
| registry.k8s.io/coredns/coredns:<coredns> | CoreDNS from Go modules |
| docker.io/library/nginx:<tag> | the 'web' Debian root filesystem (Debian's nginx and curl) |
| k8s-service-labs.local/kindnet-lite:<key> | the 'net' root filesystem + files/kindnet-lite.sh |
| docker.io/nicolaka/netshoot:v0.14 | the 'tools' root filesystem (dig, nslookup, curl, ping, iptables) |

The node image is the 'node' root filesystem with kind's own base-image files (from the kind
module: entrypoint, systemd units, containerd config), containerd, crictl, the CNI plugins,
kubeadm, kubelet and kubectl, /kind/version, /kind/manifests/default-cni.yaml, and the images
above in /var/lib/containerd. Its differences from kindest/node are listed in DIFFERENCES.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from controlplane import build as cp_build
from controlplane import versions as cp_versions

from . import gobuild, oci, paths, rootfs, versions
from .errors import RigError

RECIPE = "1"
FILES = Path(__file__).resolve().parent / "files"
KUBE = cp_versions.KUBERNETES
ETCD_TAG = cp_versions.ETCD.lstrip("v") + "-0"
PAUSE_REF = "registry.k8s.io/pause:3.10"  # kind's containerd config names this sandbox image

# What the rig's node image does differently from kindest/node, and why (README, kindrig/README).
DIFFERENCES = [
    "pod network: kindnet-lite (files/kindnet-lite.sh: ptp + host-local + routes + masquerade, "
    "as kindnetd does) instead of kindnetd, whose image cannot be built from the module proxy; "
    "no NetworkPolicy",
    "containerd: restrict_oom_score_adj = true (the test machines lack CAP_SYS_RESOURCE, so a "
    "pod's oom_score_adj cannot go below containerd's)",
    "the kubelet's kernel tunables (vm.overcommit_memory, kernel.panic, ...) land in files "
    "bind-mounted over /proc/sys, so the shared test machine keeps its own (files/protect-host-sysctls)",
    "Debian bookworm (systemd 252, runs on cgroup v1) instead of trixie; Debian's runc; no "
    "nfs-common/open-iscsi; no local-path provisioner (kind falls back to a host-path StorageClass)",
    f"etcd {cp_versions.ETCD} and CoreDNS {versions.COREDNS}: the cluster config's patch tells "
    "kubeadm these tags (kindrig/cluster.py)",
    "nginx:1.29 is Debian trixie's nginx 1.26 and curl 8.14 (the official image is trixie with "
    "nginx.org's 1.29) in the official image's layout (conf.d, logs to stdout); "
    "nicolaka/netshoot:v0.14 is Debian trixie with dig, nslookup, curl, ping, ip and iptables",
]


def _h(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _files_digest(*names: str) -> str:
    h = hashlib.sha256()
    for name in names:
        for f in sorted((FILES / name).rglob("*")) if (FILES / name).is_dir() else [FILES / name]:
            if f.is_file():
                h.update(str(f.relative_to(FILES)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


def net_ref() -> str:
    key = _h(rootfs.key("net"), _files_digest("kindnet-lite.sh", "iptables-wrapper"))
    return f"k8s-service-labs.local/kindnet-lite:{key[:12]}"


def image_refs() -> dict[str, str]:
    return {
        "pause": PAUSE_REF,
        "etcd": f"registry.k8s.io/etcd:{ETCD_TAG}",
        "kube-apiserver": f"registry.k8s.io/kube-apiserver:{KUBE}",
        "kube-controller-manager": f"registry.k8s.io/kube-controller-manager:{KUBE}",
        "kube-scheduler": f"registry.k8s.io/kube-scheduler:{KUBE}",
        "kube-proxy": f"registry.k8s.io/kube-proxy:{KUBE}",
        "coredns": f"registry.k8s.io/coredns/coredns:{versions.COREDNS}",
        "web": f"docker.io/library/nginx:{versions.NGINX_TAG}",
        "kindnet-lite": net_ref(),
        "tools": versions.TOOLS_REF,
    }


def images_dir() -> Path:
    return paths.cache() / "images"


def _archive(name: str, key: str) -> Path:
    return images_dir() / f"{name}-{key}.tar"


def _labels(what: str) -> dict[str, str]:
    return {"org.opencontainers.image.description":
            f"{what}; built locally by k8s-service-labs kindrig from Debian packages and Go "
            "modules, never pushed"}


def _iptables_overlay(root: Path) -> None:
    sbin = root / "usr" / "sbin"
    sbin.mkdir(parents=True, exist_ok=True)
    shutil.copy2(FILES / "iptables-wrapper", sbin / "iptables-wrapper")
    for name in ("iptables", "iptables-save", "iptables-restore",
                 "ip6tables", "ip6tables-save", "ip6tables-restore"):
        (sbin / name).symlink_to("iptables-wrapper")


def _build_pod_images(log) -> dict[str, Path]:
    """Each pod image's docker-archive, made if missing. Returns name -> archive path."""
    cp_bin = cp_build.ensure_built(log=log)
    go_bin = gobuild.ensure_built(log=log)
    refs = image_refs()
    images_dir().mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def make(name: str, key: str, builder) -> None:
        path = _archive(name, key)
        if not path.exists():
            t0 = time.monotonic()
            with tempfile.TemporaryDirectory(dir=images_dir()) as d:
                builder(Path(d), path)
            log(f"rig: image {refs[name]} written in {time.monotonic() - t0:.1f} s")
        out[name] = path

    # pause: compiled from files/pause.c
    def pause(d: Path, path: Path) -> None:
        gcc = shutil.which("gcc") or shutil.which("cc")
        if not gcc:
            raise RigError("no C compiler for the pause image", fix="apt-get install gcc")
        subprocess.run([gcc, "-Os", "-static", "-DVERSION=\"3.10\"", "-o", str(d / "pause"),
                        str(FILES / "pause.c")], check=True)
        subprocess.run(["strip", str(d / "pause")], check=False)
        oci.scratch_layer(d / "layer.tar", {"/pause": d / "pause"})
        oci.write_archive(path, d / "layer.tar", refs["pause"], entrypoint=["/pause"],
                          labels=_labels("the pod sandbox's pause process"))

    make("pause", _h(RECIPE, _files_digest("pause.c")), pause)

    # control-plane components: one static binary each on an empty filesystem
    for name, binary in (("etcd", "etcd"), ("kube-apiserver", "kube-apiserver"),
                         ("kube-controller-manager", "kube-controller-manager"),
                         ("kube-scheduler", "kube-scheduler")):
        def component(d: Path, path: Path, name=name, binary=binary) -> None:
            oci.scratch_layer(d / "layer.tar", {f"/usr/local/bin/{binary}": cp_bin / binary},
                              dirs=("tmp", "var/lib"))
            oci.write_archive(path, d / "layer.tar", refs[name],
                              env=["PATH=/usr/local/bin:/usr/bin:/bin"], labels=_labels(name))

        make(name, _h(RECIPE, cp_bin.parent.name, name), component)

    # CoreDNS
    def coredns(d: Path, path: Path) -> None:
        oci.scratch_layer(d / "layer.tar", {"/coredns": go_bin / "coredns"})
        oci.write_archive(path, d / "layer.tar", refs["coredns"], entrypoint=["/coredns"],
                          exposed=["53/tcp", "53/udp"], labels=_labels("CoreDNS"))

    make("coredns", _h(RECIPE, go_bin.name), coredns)

    # kube-proxy and kindnet-lite: the 'net' root filesystem
    net = rootfs.ensure("net", log=log)

    def on_net(name: str, program: Path, what: str):
        """An image of the 'net' root filesystem with `program` as /usr/local/bin/<name>."""
        def build(d: Path, path: Path) -> None:
            extra = d / "extra"
            (extra / "usr/local/bin").mkdir(parents=True)
            shutil.copy2(program, extra / "usr/local/bin" / name)
            _iptables_overlay(extra)
            oci.layer_from_dirs(d / "layer.tar", [net, extra])
            oci.write_archive(path, d / "layer.tar", refs[name],
                              entrypoint=[f"/usr/local/bin/{name}"], labels=_labels(what))
        return build

    make("kube-proxy", _h(RECIPE, rootfs.key("net"), cp_bin.parent.name,
                          _files_digest("iptables-wrapper")),
         on_net("kube-proxy", cp_bin / "kube-proxy", "kube-proxy"))
    make("kindnet-lite", net_ref().rsplit(":", 1)[1],
         on_net("kindnet-lite", FILES / "kindnet-lite.sh", "the rig's pod network agent"))

    # nginx: the 'web' root filesystem with the official image's layout
    web = rootfs.ensure("web", log=log)

    def nginx(d: Path, path: Path) -> None:
        extra = d / "extra"
        for sub in ("etc/nginx/conf.d", "etc/nginx/sites-enabled", "usr/share/nginx/html",
                    "var/log/nginx"):
            (extra / sub).mkdir(parents=True)
        shutil.copy2(FILES / "nginx/nginx.conf", extra / "etc/nginx/nginx.conf")
        shutil.copy2(FILES / "nginx/default.conf", extra / "etc/nginx/conf.d/default.conf")
        for page in ("index.html", "50x.html"):
            shutil.copy2(FILES / "nginx" / page, extra / "usr/share/nginx/html" / page)
        (extra / "var/log/nginx/access.log").symlink_to("/dev/stdout")
        (extra / "var/log/nginx/error.log").symlink_to("/dev/stderr")
        staged = d / "web"
        subprocess.run(["cp", "-a", str(web), str(staged)], check=True)
        for f in (staged / "etc/nginx/sites-enabled").glob("*"):
            f.unlink()
        for f in (staged / "var/log/nginx").glob("*"):
            f.unlink()
        oci.layer_from_dirs(d / "layer.tar", [staged, extra])
        oci.write_archive(path, d / "layer.tar", refs["web"], cmd=["nginx", "-g", "daemon off;"],
                          stop_signal="SIGQUIT", exposed=["80/tcp"],
                          labels=_labels("stand-in for the official nginx image: Debian's nginx "
                                         "and curl"))

    make("web", _h(RECIPE, rootfs.key("web"), _files_digest("nginx")), nginx)

    # network tools (dig, nslookup, ping, iptables-save): the 'tools' root filesystem
    tools = rootfs.ensure("tools", log=log)

    def tools_image(d: Path, path: Path) -> None:
        extra = d / "extra"
        _iptables_overlay(extra)
        oci.layer_from_dirs(d / "layer.tar", [tools, extra])
        oci.write_archive(path, d / "layer.tar", refs["tools"], cmd=["/bin/bash"],
                          labels=_labels("stand-in for a network tools image: Debian's dig, "
                                         "nslookup, curl, ping, ip and iptables"))

    make("tools", _h(RECIPE, rootfs.key("tools"), _files_digest("iptables-wrapper")), tools_image)
    return out


def kind_module_dir() -> Path:
    """kind's module source (for its base-image files), fetched through the module proxy."""
    go = cp_build._go()
    from controlplane import gomod

    out = subprocess.run([go, "mod", "download", "-json", f"sigs.k8s.io/kind@{versions.KIND}"],
                         capture_output=True, text=True, env=gomod.go_env(), cwd=paths.cache())
    try:
        return Path(json.loads(out.stdout)["Dir"])
    except (ValueError, KeyError) as e:
        raise RigError(f"could not fetch sigs.k8s.io/kind@{versions.KIND}: {out.stderr[-500:]}",
                       fix="check that the Go module proxy answers") from e


def node_key(archives: dict[str, Path]) -> str:
    return _h(RECIPE, rootfs.key("node"), gobuild.key(), cp_build.versions_key(),
              sorted(p.name for p in archives.values()),
              _files_digest("default-cni.yaml", "protect-host-sysctls"), DIFFERENCES)


def _install_kind_base_files(root: Path, kind_dir: Path) -> None:
    """What kind's base-image Dockerfile does with its files/ and systemd (kind: images/base)."""
    files = kind_dir / "images" / "base" / "files"
    for src in files.rglob("*"):
        if src.is_dir() or src.parts[-2:-1] == ("LICENSES",):
            continue
        rel = src.relative_to(files)
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        executable = rel.parts[:3] == ("usr", "local", "bin") or rel.parts[:2] == ("kind", "bin")
        os.chmod(dest, 0o755 if executable else 0o644)
    os.chmod(root / "kind", 0o755)
    os.chmod(root / "kind" / "bin", 0o755)
    lib = root / "lib" / "systemd" / "system"
    (lib / "sysinit.target.wants" / "systemd-tmpfiles-setup.service").unlink(missing_ok=True)
    for pattern in ("multi-user.target.wants/*", "local-fs.target.wants/*",
                    "sockets.target.wants/*udev*", "sockets.target.wants/*initctl*",
                    "basic.target.wants/*"):
        for f in lib.glob(pattern):
            f.unlink()
    for f in (root / "etc" / "systemd" / "system").glob("*.wants/*"):
        f.unlink()
    with open(root / "etc" / "systemd" / "journald.conf", "a") as conf:
        conf.write("ReadKMsg=no\n")
    init = root / "sbin" / "init"
    if init.exists() or init.is_symlink():
        init.unlink()
    init.symlink_to("/usr/lib/systemd/systemd")
    chroot = ["chroot", str(root)]
    subprocess.run(chroot + ["systemctl", "enable", "kubelet.service", "containerd.service",
                             "undo-mount-hacks.service"], check=True, capture_output=True)
    subprocess.run(chroot + ["systemctl", "mask", "systemd-binfmt.service"], check=True,
                   capture_output=True)
    (root / "etc" / "kubernetes" / "manifests").mkdir(parents=True, exist_ok=True)


def _containerd_config(root: Path) -> None:
    conf = root / "etc" / "containerd" / "config.toml"
    text = conf.read_text()
    if "restrict_oom_score_adj = false" not in text:
        raise RigError(f"kind {versions.KIND}'s containerd config has no restrict_oom_score_adj "
                       "line to change", fix="update kindrig/images.py for this kind version")
    conf.write_text(text.replace(
        "restrict_oom_score_adj = false",
        "# the rig: its test machines lack CAP_SYS_RESOURCE (kindrig/images.py DIFFERENCES)\n"
        "  restrict_oom_score_adj = true"))


def _cri_base_spec(root: Path, go_bin: Path) -> None:
    """/etc/containerd/cri-base.json as kind's Dockerfile makes it: `ctr oci spec` with kind's
    createContainer hook added and the process rlimits removed."""
    spec = json.loads(subprocess.run([str(go_bin / "ctr"), "oci", "spec"], check=True,
                                     capture_output=True, text=True).stdout)
    hooks = spec.setdefault("hooks", {}).setdefault("createContainer", [])
    hooks.append({"path": "/kind/bin/mount-product-files.sh"})
    spec.get("process", {}).pop("rlimits", None)
    (root / "etc" / "containerd" / "cri-base.json").write_text(json.dumps(spec, indent=4) + "\n")


def _preload(root: Path, go_bin: Path, archives: dict[str, Path], log) -> None:
    """Import the archives into the node's containerd store (k8s.io, pinned, not unpacked), with
    this machine running the node's own containerd on the node's /var/lib/containerd."""
    with tempfile.TemporaryDirectory(prefix="rig-ctrd-", dir="/tmp") as d:
        state = Path(d)
        sock = state / "c.sock"
        (state / "config.toml").write_text(
            'version = 3\ndisabled_plugins = ["io.containerd.grpc.v1.cri", '
            '"io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images", '
            '"io.containerd.nri.v1.nri"]\n')
        proc = subprocess.Popen([str(go_bin / "containerd"), "--config", str(state / "config.toml"),
                                 "--root", str(root / "var/lib/containerd"), "--state",
                                 str(state / "state"), "--address", str(sock)],
                                stdout=open(state / "log", "wb"), stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if sock.exists():
                    break
                time.sleep(0.1)
            ctr = [str(go_bin / "ctr"), "--address", str(sock), "--namespace", "k8s.io"]
            for archive in archives.values():
                with open(archive, "rb") as f:
                    r = subprocess.run(ctr + ["images", "import", "--label=io.cri-containerd.pinned=pinned",
                                              "--all-platforms", "--no-unpack", "--digests", "-"],
                                       stdin=f, capture_output=True, text=True)
                if r.returncode != 0:
                    raise RigError(f"importing {archive.name} into the node's containerd failed: "
                                   f"{r.stderr[-1000:]}")
            listed = subprocess.run(ctr + ["images", "ls", "-q"], check=True, capture_output=True,
                                    text=True).stdout.split()
            missing = [ref for ref in image_refs().values()
                       if not any(have in (ref, f"docker.io/library/{ref}") for have in listed)]
            if missing:
                raise RigError(f"the node's containerd lacks {missing} after the import "
                               f"(it has {listed})")
        finally:
            proc.terminate()
            proc.wait(30)


def node_image_ref(key: str) -> str:
    return f"k8s-service-labs.local/kind-node:{KUBE}-{key[:12]}"


def build_node_image(docker_env: dict[str, str], log=print) -> str:
    """Build (or find) the rig's kind node image in the Docker engine at docker_env; its ref."""
    t0 = time.monotonic()
    archives = _build_pod_images(log)
    go_bin = gobuild.ensure_built(log=log)
    cp_bin = cp_build.ensure_built(log=log)
    key = node_key(archives)
    ref = node_image_ref(key)
    if subprocess.run(["docker", "image", "inspect", ref], env=docker_env,
                      capture_output=True).returncode == 0:
        return ref
    node_fs = rootfs.ensure("node", log=log)
    kind_dir = kind_module_dir()
    with open(paths.cache() / "node-image.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        staging = paths.cache() / f"node-staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            subprocess.run(["cp", "-a", str(node_fs), str(staging)], check=True)
            (staging / ".complete").unlink(missing_ok=True)
            _install_kind_base_files(staging, kind_dir)
            _containerd_config(staging)
            for b in ("containerd", "ctr", "containerd-shim-runc-v2", "crictl"):
                shutil.copy2(go_bin / b, staging / "usr/local/bin" / b)
            (staging / "opt/cni/bin").mkdir(parents=True, exist_ok=True)
            for b in ("ptp", "host-local", "loopback", "portmap"):
                shutil.copy2(go_bin / b, staging / "opt/cni/bin" / b)
            for b in ("kubeadm", "kubelet", "kubectl"):
                shutil.copy2(cp_bin / b, staging / "usr/bin" / b)
                os.chmod(staging / "usr/bin" / b, 0o755)
            shutil.copy2(FILES / "protect-host-sysctls", staging / "kind/bin/protect-host-sysctls")
            _cri_base_spec(staging, go_bin)
            (staging / "kind" / "version").write_text(f"{KUBE}\n")
            (staging / "kind" / "manifests").mkdir(parents=True, exist_ok=True)
            (staging / "kind" / "manifests" / "default-cni.yaml").write_text(
                (FILES / "default-cni.yaml").read_text().replace("@NET_IMAGE@", net_ref()))
            (staging / "kind" / "rig-differences.txt").write_text(
                "".join(f"- {d}\n" for d in DIFFERENCES))
            _preload(staging, go_bin, archives, log)
            log(f"rig: importing the node image {ref} into the private Docker engine")
            tar = subprocess.Popen(["tar", "--numeric-owner", "--xattrs", "-C", str(staging), "-c",
                                    "."], stdout=subprocess.PIPE)
            # kind's base image also sets STOPSIGNAL SIGRTMIN+3; Docker 20.10's import refuses
            # it, and kind removes nodes with `docker rm -f` (SIGKILL) anyway.
            changes = [
                "ENV container=docker",
                'ENTRYPOINT ["/kind/bin/protect-host-sysctls", "/usr/local/bin/entrypoint", '
                '"/sbin/init"]',
                f'LABEL {oci.LABEL}="true"',
            ]
            cmd = ["docker", "import"]
            for c in changes:
                cmd += ["--change", c]
            done = subprocess.run(cmd + ["-", ref], stdin=tar.stdout, env=docker_env,
                                  capture_output=True, text=True)
            tar.wait()
            if done.returncode != 0:
                raise RigError(f"docker import of the node image failed: {done.stderr.strip()}")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    log(f"rig: node image {ref} ready in {time.monotonic() - t0:.0f} s")
    return ref
