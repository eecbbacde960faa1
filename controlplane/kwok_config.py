"""KWOK's configuration: which fake-kubelet behaviour (Stages) the control plane gets.

kwok v0.8.0 refuses to start without stages ("no stages found"); they are read from --config.
These stages are written for this project and kept minimal:

- node-ready       a managed node that is not Ready becomes Ready (kubelet-like conditions);
                   addresses, capacity and nodeInfo set when the node was created are kept.
- node-heartbeat   a Ready node's conditions get a fresh lastHeartbeatTime every 20 s (node
                   leases are also renewed by kwok itself: nodeLeaseDurationSeconds).
- pod-running      a scheduled pod without an IP gets hostIP, podIP (from its node's podCIDR),
                   phase Running and running containers.  It is Ready unless it has readiness
                   gates (nothing here sets gate conditions): a way to make a not-ready pod.
- pod-delete       a pod being deleted is removed (kubelet's final delete).
"""

from __future__ import annotations

import yaml

_NODE_CONDITIONS = """\
conditions:
- type: Ready
  status: "True"
  reason: KubeletReady
  message: kwok is this node's kubelet
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $since | Quote }}
{{ range $t := list "MemoryPressure" "DiskPressure" "PIDPressure" }}
- type: {{ $t }}
  status: "False"
  reason: KubeletHasNo{{ $t }}
  message: kwok reports no {{ $t }}
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $since | Quote }}
{{ end }}
"""

_NODE_READY = """\
{{ $now := Now }}
{{ $since := $now }}
""" + _NODE_CONDITIONS + """\
phase: Running
"""

_NODE_HEARTBEAT = """\
{{ $now := Now }}
{{ $since := $now }}
{{ range .status.conditions }}{{ if eq .type "Ready" }}{{ $since = .lastTransitionTime }}{{ end }}{{ end }}
""" + _NODE_CONDITIONS

_POD_RUNNING = """\
{{ $now := Now }}
{{ $ready := "True" }}
{{ if .spec.readinessGates }}{{ $ready = "False" }}{{ end }}
conditions:
- {type: PodReadyToStartContainers, status: "True", lastTransitionTime: {{ $now | Quote }}}
- {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
- {type: ContainersReady, status: "True", lastTransitionTime: {{ $now | Quote }}}
- {type: Ready, status: {{ $ready | Quote }}, lastTransitionTime: {{ $now | Quote }}}
- {type: PodScheduled, status: "True", lastTransitionTime: {{ $now | Quote }}}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: ""
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
{{ $hostIPs := NodeIPsWith .spec.nodeName }}
{{ with $hostIPs }}
hostIP: {{ index . 0 | Quote }}
hostIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
{{ $hostNetwork := or .spec.hostNetwork false }}
{{ $uid := or .metadata.uid "" }}{{ $name := or .metadata.name "" }}
{{ $podIPs := PodIPsWith .spec.nodeName $hostNetwork $uid $name ( or .metadata.namespace "" ) }}
{{ with $podIPs }}
podIP: {{ index . 0 | Quote }}
podIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
phase: Running
startTime: {{ $now | Quote }}
"""


def _stage(name: str, kind: str, selector: list[dict], next_: dict, delay_ms: int = 0) -> dict:
    spec: dict = {"resourceRef": {"apiGroup": "v1", "kind": kind},
                  "selector": {"matchExpressions": selector}, "next": next_}
    if delay_ms:
        spec["delay"] = {"durationMilliseconds": delay_ms}
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage", "metadata": {"name": name},
            "spec": spec}


def _ready_is(op: str) -> dict:
    return {"key": '.status.conditions.[] | select( .type == "Ready" ) | .status',
            "operator": op, "values": ["True"]}


def documents(node_lease_seconds: int = 40) -> list[dict]:
    return [
        {"apiVersion": "config.kwok.x-k8s.io/v1alpha1", "kind": "KwokConfiguration",
         "options": {"nodeLeaseDurationSeconds": node_lease_seconds, "nodeLeaseParallelism": 4,
                     "nodePlayStageParallelism": 4, "podPlayStageParallelism": 4}},
        _stage("node-ready", "Node", [_ready_is("NotIn")], {"statusTemplate": _NODE_READY}),
        _stage("node-heartbeat", "Node", [_ready_is("In")],
               {"statusTemplate": _NODE_HEARTBEAT}, delay_ms=20000),
        _stage("pod-running", "Pod", [
            {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
            {"key": ".spec.nodeName", "operator": "Exists"},
            {"key": ".status.podIP", "operator": "DoesNotExist"},
        ], {"statusTemplate": _POD_RUNNING}),
        _stage("pod-delete", "Pod", [
            {"key": ".metadata.deletionTimestamp", "operator": "Exists"},
        ], {"finalizers": {"empty": True}, "delete": True}),
    ]


def render(node_lease_seconds: int = 40) -> str:
    return yaml.safe_dump_all(documents(node_lease_seconds), sort_keys=False, width=1000)
