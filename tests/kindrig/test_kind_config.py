"""The labs' kind backend takes a node image and a config patch from the environment (how the rig
runs its locally built images), and refuses a patch it cannot use with the reason."""

from __future__ import annotations

import pytest
import yaml

from kindrig import cluster as rig_cluster
from labs import clusters
from labs.errors import ClusterUnavailable


def test_without_a_patch_the_lab_config_is_used_as_it_is(monkeypatch):
    monkeypatch.delenv("LAB_KIND_CONFIG_PATCH", raising=False)
    backend = clusters.KindCluster()
    assert backend.config_file() == backend.config


def test_the_rig_patch_is_appended_to_the_lab_config(monkeypatch):
    monkeypatch.setenv("LAB_KIND_CONFIG_PATCH", str(rig_cluster.write_patch()))
    backend = clusters.KindCluster()
    merged = yaml.safe_load(backend.config_file().read_text())
    lab = yaml.safe_load(backend.config.read_text())
    assert merged["nodes"] == lab["nodes"]  # the port mappings and roles a learner gets
    patches = [yaml.safe_load(p) for p in merged["kubeadmConfigPatches"]]
    cluster_cfg = next(p for p in patches if p["kind"] == "ClusterConfiguration")
    assert cluster_cfg["etcd"]["local"]["imageTag"].endswith("-0")
    assert cluster_cfg["dns"]["imageTag"].startswith("v1.")
    assert {"kind": "KubeletConfiguration", "failCgroupV1": False} in patches


def test_node_image_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("LAB_KIND_NODE_IMAGE", "example.local/kind-node:v1")
    assert clusters.KindCluster()._kind().image == "example.local/kind-node:v1"
    monkeypatch.delenv("LAB_KIND_NODE_IMAGE")
    assert clusters.KindCluster()._kind().image is None


@pytest.mark.parametrize("text, says", [
    ("nodes: []\n", "has no kubeadmConfigPatches list"),
    ("kubeadmConfigPatches: [\n", "cannot be read"),
])
def test_a_bad_patch_says_what_is_wrong(monkeypatch, tmp_path, text, says):
    bad = tmp_path / "patch.yaml"
    bad.write_text(text)
    monkeypatch.setenv("LAB_KIND_CONFIG_PATCH", str(bad))
    with pytest.raises(ClusterUnavailable) as err:
        clusters.KindCluster().config_file()
    assert says in str(err.value) and str(bad) in str(err.value)


def test_a_missing_patch_file_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_KIND_CONFIG_PATCH", str(tmp_path / "nope.yaml"))
    with pytest.raises(ClusterUnavailable, match="cannot be read"):
        clusters.KindCluster().config_file()
