"""The pinned pieces of the kind rig: everything a kind node image needs that does not come from
the control plane's Kubernetes build (controlplane/, which also builds kubelet, kube-proxy,
kubeadm and kubectl) or from Debian's packages.

None of these modules replaces a dependency with a local directory, so each is built exactly as
released with `go install <package>@<version>` (its own go.mod and go.sum, checked against the
module proxy's checksum database): no wrapper module is needed, unlike the control plane's.
Changing a pin here changes the cache key, and only the pieces it touches rebuild.
"""

from __future__ import annotations

KIND = "v0.33.0"            # sigs.k8s.io/kind: creates the cluster; the node image follows its layout
CONTAINERD = "v2.4.2"       # the container runtime inside each node
CRICTL = "v1.37.0"          # sigs.k8s.io/cri-tools: kind and kubeadm call crictl in the node
CNI_PLUGINS = "v1.10.0"     # ptp, host-local, loopback, portmap: what kindnetd's conflist uses
COREDNS = "v1.15.0"         # cluster DNS (kubeadm 1.37 names v1.14.6; the rig tells kubeadm v1.15.0)
DEBIAN = "bookworm"         # the node's root filesystem (systemd 252 still runs on cgroup v1)
DEBIAN_PODS = "trixie"      # the web and tools images (the official nginx image is trixie-based)
NGINX_TAG = "1.29"          # the tag the labs' manifests use; the rig's web image is Debian's nginx
TOOLS_REF = "docker.io/nicolaka/netshoot:v0.14"  # the tools image learners use for dig/iptables

# Each Go program: (binary name, package@version, extra -ldflags, build tags)
GO_PROGRAMS = [
    ("kind", f"sigs.k8s.io/kind@{KIND}", "", ""),
    ("containerd", f"github.com/containerd/containerd/v2/cmd/containerd@{CONTAINERD}",
     f"-X github.com/containerd/containerd/v2/version.Version={CONTAINERD}",
     "no_aufs,no_zfs,no_btrfs,no_devmapper"),
    ("ctr", f"github.com/containerd/containerd/v2/cmd/ctr@{CONTAINERD}",
     f"-X github.com/containerd/containerd/v2/version.Version={CONTAINERD}",
     "no_aufs,no_zfs,no_btrfs,no_devmapper"),
    ("containerd-shim-runc-v2",
     f"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@{CONTAINERD}",
     f"-X github.com/containerd/containerd/v2/version.Version={CONTAINERD}",
     "no_aufs,no_zfs,no_btrfs,no_devmapper"),
    ("crictl", f"sigs.k8s.io/cri-tools/cmd/crictl@{CRICTL}",
     f"-X sigs.k8s.io/cri-tools/pkg/version.Version={CRICTL}", ""),
    ("coredns", f"github.com/coredns/coredns@{COREDNS}", "", ""),
] + [
    (name, f"github.com/containernetworking/plugins/plugins/{path}@{CNI_PLUGINS}",
     f"-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion={CNI_PLUGINS}",
     "")
    for name, path in [("ptp", "main/ptp"), ("host-local", "ipam/host-local"),
                       ("loopback", "main/loopback"), ("portmap", "meta/portmap")]
]
