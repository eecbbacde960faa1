"""The rig's one patch to the labs' kind config (manifests/kind-cluster.yaml), applied only by
the rig, through LAB_KIND_CONFIG_PATCH: kubeadm is told the etcd and CoreDNS tags the rig builds
(kubeadm 1.37 would name etcd 3.7.0-0 and CoreDNS v1.14.6), and the kubelet is allowed to run
on a cgroup v1 host (Kubernetes 1.35+ refuses by default; these test machines are cgroup v1).
Learners' kind clusters get none of this.
"""

from __future__ import annotations

from pathlib import Path

from . import images, paths, versions

PATCH = """\
# Written by kindrig/cluster.py: the rig's patch to manifests/kind-cluster.yaml (never used for
# learners' clusters). Its kubeadmConfigPatches are appended to the lab config's.
kubeadmConfigPatches:
  - |
    kind: ClusterConfiguration
    etcd:
      local:
        imageTag: "{etcd}"
    dns:
      imageTag: "{coredns}"
  - |
    kind: KubeletConfiguration
    failCgroupV1: false
"""


def write_patch() -> Path:
    path = paths.cache() / "kind-config-patch.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PATCH.format(etcd=images.ETCD_TAG, coredns=versions.COREDNS))
    return path
