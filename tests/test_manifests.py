"""Every manifest validates against the real Kubernetes schema; bad files name the file and line."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from labs import catalog, manifests
from labs.errors import ManifestError
from labs.paths import MANIFESTS

FILES = sorted(p for p in MANIFESTS.rglob("*.yml"))


def test_there_are_manifests_for_every_lab():
    assert {p.parent.name for p in FILES} >= {"common", *catalog.names()}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_manifest_validates_against_the_kubernetes_1_37_schema(path: Path):
    docs = manifests.load(path, {"NODE_IP": "172.18.0.2"})
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc.obj, "1.37.0", strict=True)
        assert "namespace" not in doc.obj["metadata"], "labs choose the namespace"


@pytest.mark.parametrize("lab", catalog.names())
def test_every_lab_lists_existing_manifests(lab):
    the_lab = catalog.load(lab)
    assert the_lab.solution and all(p.exists() for p in the_lab.manifests())


def test_the_source_materials_ports_are_kept():
    np = manifests.load("nodeport/service-test01.yml")[0].obj["spec"]["ports"][0]
    assert (np["port"], np["targetPort"], np["nodePort"]) == (80, 80, 31001)
    lb = manifests.load("loadbalancer/service-test01.yml", {"NODE_IP": "172.18.0.2"})[0].obj
    assert lb["spec"]["externalIPs"] == ["172.18.0.2"] and lb["spec"]["ports"][0]["nodePort"] == 31002
    deploy = manifests.load("common/deploy-test01.yml")[0].obj
    assert deploy["spec"]["replicas"] == 3
    assert deploy["spec"]["template"]["metadata"]["labels"] == {"app.kubernetes.io/name": "web-deploy"}


def test_the_kind_config_maps_the_lab_node_ports_to_loopback():
    import yaml

    config = yaml.safe_load((MANIFESTS / "kind-cluster.yaml").read_text())
    roles = [n["role"] for n in config["nodes"]]
    assert roles == ["control-plane", "worker", "worker"]
    maps = config["nodes"][0]["extraPortMappings"]
    # NodePorts 31001-31005 on the same host port; host port 8080 to the node's port 80
    assert sorted((m["hostPort"], m["containerPort"]) for m in maps) == [
        (8080, 80), (31001, 31001), (31002, 31002), (31003, 31003), (31004, 31004),
        (31005, 31005)]
    assert all(m["listenAddress"] == "127.0.0.1" and m["protocol"] == "TCP" for m in maps)
    assert all("extraPortMappings" not in n for n in config["nodes"][1:])


def test_a_placeholder_without_a_value_names_the_file_line_and_fix():
    with pytest.raises(ManifestError) as e:
        manifests.load("loadbalancer/service-test01.yml")
    assert e.value.where == "manifests/loadbalancer/service-test01.yml:14"
    assert "${NODE_IP}" in e.value.what and "python -m labs render" in e.value.fix


def test_malformed_yaml_names_the_file_and_line(tmp_path: Path):
    bad = tmp_path / "service.yml"
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n"
                   "  ports:\n  - port: 80\n   targetPort: 80\n")
    with pytest.raises(ManifestError) as e:
        manifests.load(bad)
    assert e.value.where == f"{bad}:8:4"
    assert "not valid YAML" in e.value.what and "indentation" in e.value.fix


def test_a_tab_in_yaml_is_pointed_at(tmp_path: Path):
    bad = tmp_path / "tab.yml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n")
    with pytest.raises(ManifestError) as e:
        manifests.load(bad)
    assert e.value.where.startswith(f"{bad}:4")


def test_an_object_without_a_name_is_refused_with_its_line(tmp_path: Path):
    f = tmp_path / "two.yml"
    f.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n---\n"
                 "apiVersion: v1\nkind: Service\nmetadata:\n  labels: {}\n")
    with pytest.raises(ManifestError) as e:
        manifests.load(f)
    assert e.value.what == "the Service has no metadata.name"
    assert e.value.where == f"{f}:8"


def test_a_missing_file_says_so(tmp_path: Path):
    with pytest.raises(ManifestError) as e:
        manifests.load(tmp_path / "nope.yml")
    assert "cannot read the manifest" in e.value.what and "ls manifests/" in e.value.fix


def test_locate_finds_nested_fields():
    doc = manifests.load("nodeport/service-test01.yml")[0]
    assert doc.locate("spec.ports[0].nodePort") == 11
    assert doc.locate("spec.selector") == 6
    assert doc.locate("spec.ports[3].port") == 9  # the deepest part that exists: spec.ports


def test_a_learners_file_is_never_written(tmp_path: Path):
    f = tmp_path / "lb.yml"
    text = (MANIFESTS / "loadbalancer/service-test01.yml").read_text()
    f.write_text(text)
    manifests.load(f, {"NODE_IP": "172.18.0.2"})
    assert f.read_text() == text
