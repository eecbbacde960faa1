"""The API server's warnings for Services (Kubernetes 1.37, pkg/api/service/warnings.go), as
kubectl prints them. Checked on the kind rig's real v1.37.2 API server with the same three
Services: each printed exactly the warning asserted here."""

from __future__ import annotations

from kubesim_testkit import Sim

SERVICES = """
apiVersion: v1
kind: Service
metadata: {name: w-ext}
spec:
  selector: {app: x}
  externalIPs: [172.18.0.3]
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: w-alias}
spec:
  type: ExternalName
  externalName: example.test
  externalIPs: [172.18.0.3]
---
apiVersion: v1
kind: Service
metadata: {name: w-headless}
spec:
  clusterIP: None
  sessionAffinity: ClientIP
  selector: {app: x}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: w-plain}
spec:
  selector: {app: x}
  ports: [{port: 80}]
"""


def test_kubectl_prints_what_the_api_server_warns(sim: Sim, ns: str) -> None:
    done = sim.kubectl("-n", ns, "create", "-f", "-", input=SERVICES)
    assert done.stderr.splitlines() == [
        "Warning: spec.externalIPs is deprecated and may no longer be implemented in some "
        "clusters",
        'Warning: spec.externalIPs is ignored when spec.type is "ExternalName"',
        "Warning: spec.SessionAffinity is ignored for headless services",
    ]
    assert done.stdout.split() == ["service/w-ext", "created", "service/w-alias", "created",
                                   "service/w-headless", "created", "service/w-plain", "created"]


def test_an_update_that_keeps_external_ips_warns_again(sim: Sim, ns: str) -> None:
    sim.kubectl("-n", ns, "create", "-f", "-", input=SERVICES.split("---")[0])
    done = sim.kubectl("-n", ns, "label", "service", "w-ext", "a=b")
    assert "spec.externalIPs is deprecated" in done.stderr
