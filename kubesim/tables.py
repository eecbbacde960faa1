"""Server-side ``Table`` output, with the columns and cell formats of pkg/printers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]


def human_duration(seconds: float) -> str:
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h{m}m" if m else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d{h}h" if h else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        d = (hours // 24) % 365
        return f"{hours // 24 // 365}y{d}d" if d else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(ts: str | None) -> str:
    if not ts:
        return "<unknown>"
    try:
        t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration((dt.datetime.now(dt.timezone.utc) - t).total_seconds())


def _labels(sel: dict[str, str] | None) -> str:
    if not sel:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(sel.items()))


def _label_selector(sel: dict[str, Any] | None) -> str:
    if not sel:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        vals = ",".join(sorted(e.get("values") or []))
        if op == "In":
            parts.append(f"{e['key']} in ({vals})")
        elif op == "NotIn":
            parts.append(f"{e['key']} notin ({vals})")
        elif op == "Exists":
            parts.append(e["key"])
        elif op == "DoesNotExist":
            parts.append(f"!{e['key']}")
    return ",".join(parts) or "<none>"


def col(name: str, typ: str = "string", priority: int = 0, fmt: str = "",
        desc: str = "") -> dict[str, Any]:
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


NAME = col("Name", fmt="name", desc="Name must be unique within a namespace.")
AGE = col("Age", desc="CreationTimestamp is a timestamp representing the server time when this "
          "object was created.")


# ---- pods ----
def pod_status(pod: Obj) -> tuple[str, int, int, int]:
    st = pod.get("status") or {}
    spec = pod.get("spec") or {}
    reason = st.get("reason") or st.get("phase") or "Pending"
    total = len(spec.get("containers") or [])
    ready = restarts = 0
    has_running = False
    for cs in reversed(st.get("containerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif state.get("terminated"):
            t = state["terminated"]
            reason = f"Signal:{t['signal']}" if t.get("signal") else \
                f"ExitCode:{t.get('exitCode', 0)}"
        elif cs.get("ready") and state.get("running"):
            has_running = True
            ready += 1
    if reason == "Completed" and has_running:
        reason = "Running"
    if pod["metadata"].get("deletionTimestamp"):
        if st.get("reason") == "NodeLost":
            reason = "Unknown"
        elif st.get("phase") not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return reason, ready, total, restarts


def pod_row(pod: Obj) -> list[Any]:
    reason, ready, total, restarts = pod_status(pod)
    st, spec = pod.get("status") or {}, pod.get("spec") or {}
    gates = spec.get("readinessGates")
    if gates:
        conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
        ok = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gate_cell = f"{ok}/{len(gates)}"
    else:
        gate_cell = "<none>"
    last = max((((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or ""
                for cs in st.get("containerStatuses") or []), default="")
    restarts_cell = f"{restarts} ({age(last)} ago)" if restarts and last else str(restarts)
    return [pod["metadata"]["name"], f"{ready}/{total}", reason, restarts_cell,
            age(pod["metadata"].get("creationTimestamp")), st.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>", gate_cell]


POD_COLS = [NAME, col("Ready", desc="The aggregate readiness state of this pod for accepting "
                      "traffic."), col("Status", desc="The aggregate status of the containers in "
                                       "this pod."),
            col("Restarts", desc="The number of times the containers in this pod have been "
                "restarted and when the last container in this pod has restarted."),
            AGE, col("IP", priority=1, desc="IP address allocated to the pod. Routable at least "
                     "within the cluster. Empty if not yet allocated."),
            col("Node", priority=1, desc="NodeName is a request to schedule this pod onto a "
                "specific node."),
            col("Nominated Node", priority=1, desc="nominatedNodeName is set only when this pod "
                "preempts other pods on the node."),
            col("Readiness Gates", priority=1, desc="If specified, all readiness gates will be "
                "evaluated for pod readiness.")]


# ---- services ----
def service_external_ip(svc: Obj, wide: bool = True) -> str:
    spec = svc.get("spec") or {}
    typ = spec.get("type", "ClusterIP")
    ext = spec.get("externalIPs") or []
    if typ in ("ClusterIP", "NodePort"):
        return ",".join(ext) if ext else "<none>"
    if typ == "LoadBalancer":
        ing = (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
        lb = ",".join(i.get("ip") or i.get("hostname") or "" for i in ing)
        if not wide and len(lb) > 16:
            lb = lb[:13] + "..."
        if ext:
            return ",".join(([lb] if lb else []) + ext)
        return lb or "<pending>"
    if typ == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def service_ports(svc: Obj) -> str:
    ports = (svc.get("spec") or {}).get("ports") or []
    if not ports:
        return "<none>"
    out = []
    for p in ports:
        proto = p.get("protocol", "TCP")
        if p.get("nodePort"):
            out.append(f"{p['port']}:{p['nodePort']}/{proto}")
        else:
            out.append(f"{p['port']}/{proto}")
    return ",".join(out)


def service_row(svc: Obj) -> list[Any]:
    spec = svc.get("spec") or {}
    cip = spec.get("clusterIP") or "<none>"
    return [svc["metadata"]["name"], spec.get("type", "ClusterIP"), cip,
            service_external_ip(svc, wide=False), service_ports(svc),
            age(svc["metadata"].get("creationTimestamp")), _labels(spec.get("selector"))]


SERVICE_COLS = [NAME, col("Type", desc="type determines how the Service is exposed."),
                col("Cluster-IP", desc="clusterIP is the IP address of the service."),
                col("External-IP", desc="externalIPs is a list of IP addresses for which nodes in "
                    "the cluster will also accept traffic for this service."),
                col("Port(s)", desc="The list of ports that are exposed by this service."), AGE,
                col("Selector", priority=1, desc="Route service traffic to pods with label keys "
                    "and values matching this selector.")]


# ---- endpoints / slices ----
def format_endpoints(ep: Obj) -> str:
    subsets = ep.get("subsets") or []
    if not subsets:
        return "<none>"
    out: list[str] = []
    count, more, cap = 0, False, 3
    for ss in subsets:
        addrs = ss.get("addresses") or []
        ports = ss.get("ports") or []
        if not ports:
            count += len(addrs)
            for a in addrs:
                if len(out) == cap:
                    more = True
                    break
                out.append(a["ip"])
            continue
        for p in ports:
            count += len(addrs)
            for a in addrs:
                if len(out) == cap:
                    more = True
                    break
                out.append(f"{a['ip']}:{p['port']}")
    s = ",".join(out)
    if more:
        s += f" + {count - cap} more..."
    return s


def _slice_ports(sl: Obj) -> str:
    ports = sl.get("ports")
    if not ports:
        return "<unset>"
    out = [str(p["port"]) if p.get("port") is not None else "<unset>" for p in ports[:3]]
    s = ",".join(out)
    if len(ports) > 3:
        s += f" + {len(ports) - 3} more..."
    return s


def _slice_endpoints(sl: Obj) -> str:
    eps = sl.get("endpoints") or []
    if not eps:
        return "<unset>"
    out: list[str] = []
    count = 0
    for e in eps:
        for a in e.get("addresses") or []:
            count += 1
            if len(out) < 3:
                out.append(a)
    s = ",".join(out)
    if count > 3:
        s += f" + {count - 3} more..."
    return s


def _containers(spec: Obj) -> tuple[str, str]:
    cs = (((spec.get("template") or {}).get("spec") or {}).get("containers")) or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def deployment_row(d: Obj) -> list[Any]:
    spec, st = d.get("spec") or {}, d.get("status") or {}
    names, images = _containers(spec)
    return [d["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0),
            age(d["metadata"].get("creationTimestamp")), names, images,
            _label_selector(spec.get("selector"))]


def replicaset_row(r: Obj) -> list[Any]:
    spec, st = r.get("spec") or {}, r.get("status") or {}
    names, images = _containers(spec)
    return [r["metadata"]["name"], spec.get("replicas", 1), st.get("replicas", 0),
            st.get("readyReplicas", 0), age(r["metadata"].get("creationTimestamp")), names,
            images, _label_selector(spec.get("selector"))]


def node_row(n: Obj) -> list[Any]:
    st = n.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    status = "Ready" if conds.get("Ready") == "True" else "NotReady"
    if (n.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (n["metadata"].get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/"))
    addrs = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
    info = st.get("nodeInfo") or {}
    return [n["metadata"]["name"], status, ",".join(roles) or "<none>",
            age(n["metadata"].get("creationTimestamp")), info.get("kubeletVersion", ""),
            addrs.get("InternalIP", "<none>"), addrs.get("ExternalIP", "<none>"),
            info.get("osImage", ""), info.get("kernelVersion", ""),
            info.get("containerRuntimeVersion", "")]


def event_row(e: Obj) -> list[Any]:
    io = e.get("involvedObject") or {}
    last = e.get("lastTimestamp") or e.get("eventTime") or e["metadata"].get("creationTimestamp")
    first = e.get("firstTimestamp") or e.get("eventTime")
    src = e.get("source") or {}
    source = src.get("component", "") or e.get("reportingComponent", "")
    if src.get("host"):
        source += f", {src['host']}"
    obj = f"{(io.get('kind') or '').lower()}/{io.get('name', '')}"
    return [age(last), e.get("type", ""), e.get("reason", ""), obj, e.get("message", ""),
            io.get("fieldPath", ""), source, age(first), e.get("count", 1), e["metadata"]["name"]]


def statefulset_row(s: Obj) -> list[Any]:
    spec, st = s.get("spec") or {}, s.get("status") or {}
    names, images = _containers(spec)
    return [s["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            age(s["metadata"].get("creationTimestamp")), names, images]


def daemonset_row(d: Obj) -> list[Any]:
    spec, st = d.get("spec") or {}, d.get("status") or {}
    names, images = _containers(spec)
    node_sel = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
    return [d["metadata"]["name"], st.get("desiredNumberScheduled", 0),
            st.get("currentNumberScheduled", 0), st.get("numberReady", 0),
            st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
            _labels(node_sel), age(d["metadata"].get("creationTimestamp")), names, images,
            _label_selector(spec.get("selector"))]


def controllerrevision_row(r: Obj) -> list[Any]:
    ref = next((o for o in r["metadata"].get("ownerReferences") or [] if o.get("controller")),
               None)
    controller = "<none>"
    if ref is not None:
        group = ref.get("apiVersion", "").rpartition("/")[0]
        kind = ref.get("kind", "").lower() + (f".{group}" if group else "")
        controller = f"{kind}/{ref.get('name', '')}"
    return [r["metadata"]["name"], controller, r.get("revision", 0),
            age(r["metadata"].get("creationTimestamp"))]


def ingress_row(i: Obj) -> list[Any]:
    spec = i.get("spec") or {}
    rules = spec.get("rules") or []
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and (rule or {}).get("host"):
            hosts.append(rule["host"])
    host_cell = ",".join(hosts) if hosts else "*"
    if more:
        host_cell += f" + {len(rules) - 3} more..."
    lb = ((i.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    address = ",".join(x.get("ip") or x.get("hostname") or "" for x in lb)
    if len(address) > 16:
        address = address[:13] + "..."
    return [i["metadata"]["name"], spec.get("ingressClassName") or "<none>", host_cell, address,
            "80, 443" if spec.get("tls") else "80", age(i["metadata"].get("creationTimestamp"))]


def ingressclass_row(c: Obj) -> list[Any]:
    spec = c.get("spec") or {}
    params = spec.get("parameters")
    cell = "<none>"
    if isinstance(params, dict):
        cell = params.get("kind", "")
        if params.get("apiGroup"):
            cell += "." + params["apiGroup"]
        cell += "/" + params.get("name", "")
    return [c["metadata"]["name"], spec.get("controller", ""), cell,
            age(c["metadata"].get("creationTimestamp"))]


CONTAINERS = col("Containers", priority=1, desc="Names of each container in the template.")
IMAGES = col("Images", priority=1, desc="Images referenced by each container in the template.")
DS_DOC = "More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"

Row = Callable[[Obj], list[Any]]
PRINTERS: dict[str, tuple[list[dict[str, Any]], Row]] = {
    "pods": (POD_COLS, pod_row),
    "services": (SERVICE_COLS, service_row),
    "endpoints": ([NAME, col("Endpoints", desc="Endpoints of the service"), AGE],
                  lambda e: [e["metadata"]["name"], format_endpoints(e),
                             age(e["metadata"].get("creationTimestamp"))]),
    "endpointslices": ([NAME, col("AddressType", desc="The IP protocol for this slice"),
                        col("Ports", desc="Ports of the slice"),
                        col("Endpoints", desc="Addresses of the endpoints"), AGE],
                       lambda s: [s["metadata"]["name"], s.get("addressType", ""),
                                  _slice_ports(s), _slice_endpoints(s),
                                  age(s["metadata"].get("creationTimestamp"))]),
    "deployments": ([NAME, col("Ready", desc="Number of the pod with ready state"),
                     col("Up-to-date", "integer", desc="Total number of non-terminated pods "
                         "targeted by this deployment that have the desired template spec."),
                     col("Available", "integer", desc="Total number of available pods (ready for "
                         "at least minReadySeconds) targeted by this deployment."), AGE,
                     col("Containers", priority=1, desc="Names of each container in the "
                         "template."),
                     col("Images", priority=1, desc="Images referenced by each container in the "
                         "template."),
                     col("Selector", priority=1, desc="Label selector for pods.")],
                    deployment_row),
    "replicasets": ([NAME, col("Desired", "integer", desc="Replicas is the number of desired "
                               "pods."),
                     col("Current", "integer", desc="Replicas is the most recently observed "
                         "number of replicas."),
                     col("Ready", "integer", desc="The number of ready replicas for this replica "
                         "set."), AGE,
                     col("Containers", priority=1, desc="Names of each container in the "
                         "template."),
                     col("Images", priority=1, desc="Images referenced by each container in the "
                         "template."),
                     col("Selector", priority=1, desc="Label selector for pods.")],
                    replicaset_row),
    "statefulsets": ([NAME, col("Ready", desc="Number of the pod with ready state"), AGE,
                      CONTAINERS, IMAGES], statefulset_row),
    "daemonsets": ([NAME, col("Desired", "integer", desc="The total number of nodes that should "
                              "be running the daemon pod (including nodes correctly running the "
                              "daemon pod). " + DS_DOC),
                    col("Current", "integer", desc="The number of nodes that are running at "
                        "least 1 daemon pod and are supposed to run the daemon pod. " + DS_DOC),
                    col("Ready", "integer", desc="numberReady is the number of nodes that should "
                        "be running the daemon pod and have one or more of the daemon pod "
                        "running with a Ready Condition."),
                    col("Up-to-date", "integer", desc="The total number of nodes that are "
                        "running updated daemon pod"),
                    col("Available", "integer", desc="The number of nodes that should be running "
                        "the daemon pod and have one or more of the daemon pod running and "
                        "available (ready for at least spec.minReadySeconds)"),
                    col("Node Selector", desc="NodeSelector is a selector which must be true for "
                        "the pod to fit on a node. Selector which must match a node's labels for "
                        "the pod to be scheduled on that node. More info: "
                        "https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
                    AGE, CONTAINERS, IMAGES,
                    col("Selector", priority=1, desc="A label query over pods that are managed "
                        "by the daemon set. Must match in order to be controlled. It must match "
                        "the pod template's labels. More info: https://kubernetes.io/docs/"
                        "concepts/overview/working-with-objects/labels/#label-selectors")],
                   daemonset_row),
    "controllerrevisions": ([NAME, col("Controller", desc="Controller of the object"),
                             col("Revision", desc="Revision indicates the revision of the state "
                                 "represented by Data."), AGE], controllerrevision_row),
    "ingresses": ([NAME, col("Class", desc="The name of the IngressClass resource that should be "
                             "used for additional configuration"),
                   col("Hosts", desc="Hosts that incoming requests are matched against before "
                       "the ingress rule"),
                   col("Address", desc="Address is a list containing ingress points for the "
                       "load-balancer"),
                   col("Ports", desc="Ports of TLS configurations that open"), AGE],
                  ingress_row),
    "ingressclasses": ([NAME, col("Controller", desc="Controller that is responsible for "
                                  "handling this class"),
                        col("Parameters", desc="A reference to a resource with additional "
                            "parameters"), AGE], ingressclass_row),
    "nodes": ([NAME, col("Status", desc="The status of the node"),
               col("Roles", desc="The roles of the node"), AGE,
               col("Version", desc="Kubelet Version reported by the node."),
               col("Internal-IP", priority=1, desc="List of addresses reachable to the node."),
               col("External-IP", priority=1, desc="List of addresses reachable to the node."),
               col("OS-Image", priority=1, desc="OS Image reported by the node."),
               col("Kernel-Version", priority=1, desc="Kernel Version reported by the node."),
               col("Container-Runtime", priority=1, desc="Container Runtime Version reported by "
                   "the node.")], node_row),
    "namespaces": ([NAME, col("Status", desc="The status of the namespace"), AGE],
                   lambda n: [n["metadata"]["name"], (n.get("status") or {}).get("phase", ""),
                              age(n["metadata"].get("creationTimestamp"))]),
    "configmaps": ([NAME, col("Data", "integer", desc="Number of data entries"), AGE],
                   lambda c: [c["metadata"]["name"],
                              len(c.get("data") or {}) + len(c.get("binaryData") or {}),
                              age(c["metadata"].get("creationTimestamp"))]),
    "secrets": ([NAME, col("Type"), col("Data", "integer"), AGE],
                lambda c: [c["metadata"]["name"], c.get("type", "Opaque"),
                           len(c.get("data") or {}), age(c["metadata"].get("creationTimestamp"))]),
    "serviceaccounts": ([NAME, col("Secrets", "integer"), AGE],
                        lambda c: [c["metadata"]["name"], len(c.get("secrets") or []),
                                   age(c["metadata"].get("creationTimestamp"))]),
    "events": ([col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message"),
                col("Subobject", priority=1), col("Source", priority=1),
                col("First Seen", priority=1), col("Count", priority=1),
                col("Name", priority=1)], event_row),
}


def partial_metadata(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"]}


def table(plural: str, items: list[Obj], rv: str, include: str = "Metadata",
          cont: str | None = None) -> Obj:
    cols, row = PRINTERS.get(plural, ([NAME, AGE], lambda o: [
        o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"))]))
    rows = []
    for o in items:
        r: Obj = {"cells": row(o)}
        if include == "Object":
            r["object"] = o
        elif include != "None":
            r["object"] = partial_metadata(o)
        rows.append(r)
    md: Obj = {"resourceVersion": rv}
    if cont:
        md["continue"] = cont
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md,
            "columnDefinitions": cols, "rows": rows}
