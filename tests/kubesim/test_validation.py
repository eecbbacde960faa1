"""Service validation: each rule of service-semantics.md §2, asserting the Status body."""

from __future__ import annotations

from typing import Any

import pytest
from kubesim_testkit import Sim

DNS1123_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                 "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',"
                 "  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1123_SUB = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
               "characters, '-' or '.', and must start and end with an alphanumeric character "
               "(e.g. 'example.com', regex used for validation is "
               "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
PORTS = [{"port": 80}]


def create(sim: Sim, ns: str, spec: dict[str, Any], name: str = "web") -> tuple[int, Any]:
    code, body, _ = sim.request("POST", f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
    return code, body


CASES: list[tuple[str, dict[str, Any], str, list[tuple[str, str, str]]]] = [
    # 1.37 checks Service names as RFC 1123 labels (so "1web" is accepted)
    ("Web_Service", {"ports": PORTS}, "", [
        ("metadata.name", "FieldValueInvalid", f'Invalid value: "Web_Service": {DNS1123_LABEL}')]),
    ("web", {"selector": {"app": "web"}}, "", [
        ("spec.ports", "FieldValueRequired", "Required value")]),
    ("web", {"ports": [{"name": "http", "port": 80}, {"port": 443}]}, "", [
        ("spec.ports[1].name", "FieldValueRequired", "Required value")]),
    ("web", {"ports": [{"name": "HTTP", "port": 80}]}, "", [
        ("spec.ports[0].name", "FieldValueInvalid", f'Invalid value: "HTTP": {DNS1123_LABEL}')]),
    ("web", {"ports": [{"name": "http", "port": 80}, {"name": "http", "port": 81}]}, "", [
        ("spec.ports[1].name", "FieldValueDuplicate", 'Duplicate value: "http"')]),
    # targetPort defaults to port, so a zero port is reported twice (validateServicePort)
    ("web", {"ports": [{"port": 0}]},
     'Service "web" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and '
     '65535, inclusive, spec.ports[0].targetPort: Invalid value: 0: must be between 1 and '
     '65535, inclusive]', [
         ("spec.ports[0].port", "FieldValueInvalid",
          "Invalid value: 0: must be between 1 and 65535, inclusive"),
         ("spec.ports[0].targetPort", "FieldValueInvalid",
          "Invalid value: 0: must be between 1 and 65535, inclusive")]),
    ("web", {"ports": [{"port": 80, "targetPort": 70000}]}, "", [
        ("spec.ports[0].targetPort", "FieldValueInvalid",
         "Invalid value: 70000: must be between 1 and 65535, inclusive")]),
    ("web", {"ports": [{"port": 80, "targetPort": "a-very-long-port-name"}]}, "", [
        ("spec.ports[0].targetPort", "FieldValueInvalid",
         'Invalid value: "a-very-long-port-name": must be no more than 15 characters')]),
    ("web", {"ports": [{"port": 80, "targetPort": "web--http"}]}, "", [
        ("spec.ports[0].targetPort", "FieldValueInvalid",
         'Invalid value: "web--http": must not contain consecutive hyphens')]),
    ("web", {"ports": [{"port": 80, "targetPort": "8080"}]}, "", [
        ("spec.ports[0].targetPort", "FieldValueInvalid",
         'Invalid value: "8080": must contain at least one letter (a-z)')]),
    ("web", {"ports": [{"port": 80, "protocol": "HTTP"}]}, "", [
        ("spec.ports[0].protocol", "FieldValueNotSupported",
         'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"')]),
    ("web", {"ports": [{"port": 80, "nodePort": 30080}]}, "", [
        ("spec.ports[0].nodePort", "FieldValueForbidden",
         "Forbidden: may not be used when `type` is 'ClusterIP'")]),
    ("web", {"type": "NodePort", "clusterIP": "None", "ports": PORTS}, "", [
        ("spec.clusterIPs[0]", "FieldValueInvalid",
         'Invalid value: "None": may not be set to \'None\' for NodePort services')]),
    ("web", {"type": "LoadBalancer", "clusterIP": "None", "ports": PORTS}, "", [
        ("spec.clusterIPs[0]", "FieldValueInvalid",
         'Invalid value: "None": may not be set to \'None\' for LoadBalancer services')]),
    ("web", {"type": "ExternalName"}, "", [
        ("spec.externalName", "FieldValueRequired", "Required value")]),
    ("web", {"type": "ExternalName", "externalName": "Not_A_Host"}, "", [
        ("spec.externalName", "FieldValueInvalid", f'Invalid value: "Not_A_Host": {DNS1123_SUB}')]),
    ("web", {"type": "ExternalName", "externalName": "example.com", "clusterIP": "10.96.5.5"},
     "", [("spec.clusterIPs", "FieldValueForbidden",
           "Forbidden: may not be set for ExternalName services")]),
    ("web", {"ports": PORTS, "externalIPs": ["1.2.3"]}, "", [
        ("spec.externalIPs[0]", "FieldValueInvalid",
         'Invalid value: "1.2.3": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')]),
    ("web", {"ports": PORTS, "externalIPs": ["127.0.0.1"]}, "", [
        ("spec.externalIPs[0]", "FieldValueInvalid",
         'Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)')]),
    ("web", {"ports": PORTS, "externalIPs": ["169.254.1.1"]}, "", [
        ("spec.externalIPs[0]", "FieldValueInvalid",
         'Invalid value: "169.254.1.1": may not be in the link-local range (169.254.0.0/16, '
         'fe80::/10)')]),
    ("web", {"ports": PORTS, "sessionAffinity": "Cookie"}, "", [
        ("spec.sessionAffinity", "FieldValueNotSupported",
         'Unsupported value: "Cookie": supported values: "ClientIP", "None"')]),
    ("web", {"ports": PORTS, "sessionAffinity": "ClientIP",
             "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 86401}}}, "", [
        ("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "FieldValueInvalid",
         "Invalid value: 86401: must be greater than 0 and less than 86400")]),
    ("web", {"ports": PORTS, "externalTrafficPolicy": "Local"}, "", [
        ("spec.externalTrafficPolicy", "FieldValueInvalid",
         'Invalid value: "Local": may only be set for externally-accessible services')]),
    ("web", {"ports": PORTS, "allocateLoadBalancerNodePorts": False}, "", [
        ("spec.allocateLoadBalancerNodePorts", "FieldValueForbidden",
         "Forbidden: may only be used when `type` is 'LoadBalancer'")]),
    ("web", {"ports": PORTS, "clusterIP": "10.96.7.7", "clusterIPs": ["10.96.7.8"]}, "", [
        ("spec.clusterIPs", "FieldValueInvalid",
         'Invalid value: ["10.96.7.8"]: first value must match `clusterIP`')]),
    ("web", {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}, "", [
        ("spec.ports[1]", "FieldValueDuplicate",
         'Duplicate value: {"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,'
         '"TargetPort":0,"NodePort":0}')]),
    ("web", {"ports": PORTS, "loadBalancerSourceRanges": ["10.0.0.0/8"]}, "", [
        ("spec.LoadBalancerSourceRanges", "FieldValueForbidden",  # sic, as the real server
         "Forbidden: may only be used when `type` is 'LoadBalancer'")]),
    ("web", {"ports": [{"port": 70000, "protocol": "HTTP", "targetPort": 80}]},
     'Service "web" is invalid: [spec.ports[0].port: Invalid value: 70000: must be between 1 '
     'and 65535, inclusive, spec.ports[0].protocol: Unsupported value: "HTTP": supported '
     'values: "SCTP", "TCP", "UDP"]', [
         ("spec.ports[0].port", "FieldValueInvalid",
          "Invalid value: 70000: must be between 1 and 65535, inclusive"),
         ("spec.ports[0].protocol", "FieldValueNotSupported",
          'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"')]),
]


@pytest.mark.parametrize("name,spec,message,causes", CASES,
                         ids=[f"{i:02d}-{c[3][0][0]}" for i, c in enumerate(CASES)])
def test_invalid_service(sim: Sim, ns: str, name: str, spec: dict[str, Any], message: str,
                         causes: list[tuple[str, str, str]]) -> None:
    code, body = create(sim, ns, spec, name)
    assert code == 422, body
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["reason"] == "Invalid" and body["code"] == 422
    assert body["details"]["name"] == name and body["details"]["kind"] == "Service"
    assert [(c["field"], c["reason"], c["message"]) for c in body["details"]["causes"]] == causes
    if message:
        assert body["message"] == message
    elif len(causes) == 1:
        field, _, msg = causes[0]
        assert body["message"] == f'Service "{name}" is invalid: {field}: {msg}'


def test_kubectl_prints_invalid(sim: Sim, ns: str, tmp_path: Any) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n"
                   "  - port: 80\n    nodePort: 30080\n")
    done = sim.kubectl("-n", ns, "apply", "-f", str(bad), check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'The Service "web" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when '
        "`type` is 'ClusterIP'")


def test_kubectl_apply_rejects_unknown_field(sim: Sim, ns: str, tmp_path: Any) -> None:
    typo = tmp_path / "typo.yml"
    typo.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n"
                    "  - port: 80\n    tagetPort: 8080\n")
    done = sim.kubectl("-n", ns, "apply", "-f", str(typo), check=False)
    assert done.returncode == 1
    assert 'strict decoding error: unknown field "spec.ports[0].tagetPort"' in done.stderr
    assert done.stderr.startswith("Error from server (BadRequest): error when creating")


def test_service_name_may_start_with_a_digit(sim: Sim, ns: str) -> None:
    assert create(sim, ns, {"ports": PORTS}, "1web")[0] == 201


def test_malformed_body_is_400(sim: Sim, ns: str) -> None:
    code, body, _ = sim.request("POST", f"/api/v1/namespaces/{ns}/services", "{not json",
                                content_type="application/json")
    assert code == 400 and body["reason"] == "BadRequest"


def test_not_found_and_already_exists(sim: Sim, ns: str) -> None:
    code, body, _ = sim.request("GET", f"/api/v1/namespaces/{ns}/services/nope")
    assert (code, body["reason"], body["message"]) == (404, "NotFound",
                                                       'services "nope" not found')
    assert body["details"] == {"name": "nope", "kind": "services"}
    assert create(sim, ns, {"ports": PORTS})[0] == 201
    code, body = create(sim, ns, {"ports": PORTS})
    assert (code, body["reason"], body["message"]) == (409, "AlreadyExists",
                                                       'services "web" already exists')
    code, body, _ = sim.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/nope")
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
