"""The environment a container starts with: image variables, HOSTNAME, the container's own env,
and the Service variables the kubelet injects (pkg/kubelet/envvars/envvars.go)."""

from __future__ import annotations

from typing import Any

from .images import STD_PATH, Image

MASTER_NS = "default"


def _var(name: str) -> str:
    return name.upper().replace("-", "_").replace(".", "_")


def has_cluster_ip(svc: dict[str, Any]) -> bool:
    ip = (svc.get("spec") or {}).get("clusterIP")
    return bool(ip) and ip != "None"


def service_env(services: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Variables for ``services`` in order (the caller already chose which ones apply)."""
    out: list[tuple[str, str]] = []
    for svc in services:
        spec = svc.get("spec") or {}
        ports = spec.get("ports") or []
        if not has_cluster_ip(svc) or not ports:
            continue
        ip = spec["clusterIP"]
        prefix = _var(svc["metadata"]["name"])
        out.append((f"{prefix}_SERVICE_HOST", ip))
        out.append((f"{prefix}_SERVICE_PORT", str(ports[0]["port"])))
        for p in ports:
            if p.get("name"):
                out.append((f"{prefix}_SERVICE_PORT_{_var(p['name'])}", str(p["port"])))
        for i, p in enumerate(ports):
            proto = (p.get("protocol") or "TCP").lower()
            url = f"{proto}://{ip}:{p['port']}"
            if i == 0:
                out.append((f"{prefix}_PORT", url))
            pp = f"{prefix}_PORT_{p['port']}_{proto.upper()}"
            out += [(pp, url), (f"{pp}_PROTO", proto), (f"{pp}_PORT", str(p["port"])),
                    (f"{pp}_ADDR", ip)]
    return out


def visible_services(pod: dict[str, Any], services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The kubelet's getServiceEnvVarMap: the pod's namespace (with enableServiceLinks) plus the
    ``kubernetes`` Service of the default namespace."""
    ns = pod["metadata"].get("namespace", "default")
    links = (pod.get("spec") or {}).get("enableServiceLinks", True) is not False
    chosen: dict[str, dict[str, Any]] = {}
    for s in services:
        sns, name = s["metadata"].get("namespace"), s["metadata"]["name"]
        if not has_cluster_ip(s):
            continue
        if sns == MASTER_NS and name == "kubernetes":
            chosen.setdefault(name, s)
        elif sns == ns and links:
            chosen[name] = s
    return [chosen[k] for k in sorted(chosen)]


def field_ref(pod: dict[str, Any], path: str) -> str:
    md, st, spec = pod["metadata"], pod.get("status") or {}, pod.get("spec") or {}
    simple = {"metadata.name": md.get("name"), "metadata.namespace": md.get("namespace"),
              "metadata.uid": md.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
              "status.podIP": st.get("podIP"), "status.hostIP": st.get("hostIP")}
    if path in simple:
        return str(simple[path] or "")
    for kind in ("labels", "annotations"):
        pre = f"metadata.{kind}['"
        if path.startswith(pre) and path.endswith("']"):
            return str((md.get(kind) or {}).get(path[len(pre):-2], ""))
    return ""


def container_env(pod: dict[str, Any], container: dict[str, Any], image: Image,
                  services: list[tuple[str, str]], path: str, tty: bool) -> dict[str, str]:
    env: dict[str, str] = {"PATH": path or STD_PATH}
    env["HOSTNAME"] = (pod.get("spec") or {}).get("hostname") or pod["metadata"]["name"]
    env.update(image.env)
    for k, v in services:
        env[k] = v
    for e in container.get("env") or []:
        if "value" in e:
            env[e["name"]] = str(e["value"])
        elif (e.get("valueFrom") or {}).get("fieldRef"):
            env[e["name"]] = field_ref(pod, e["valueFrom"]["fieldRef"].get("fieldPath", ""))
    env["HOME"] = "/root"
    if tty:
        env["TERM"] = "xterm"
        if image.busybox:
            env["PS1"] = "$PWD # "   # busybox ash's prompt (\\w \\$), in POSIX sh terms
    return env
