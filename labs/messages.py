"""The grader's words in each language: a message catalogue, and how the language is chosen.

Grading returns data: each finding is a :class:`Message` (a key and its values), rendered into
English for the stable ``expected``/``found`` fields and into any language when a report is shown.
Values that are a tool's own words (curl's errors, addresses, kubectl's columns) stay as they are.

    msg("pod.missing", pod="nginx01", ns="lab-nodeport").text("ko")
    # 'lab-nodeport에 Pod nginx01 없음'
"""

from __future__ import annotations

import os
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import LabError

LANGS = ("en", "ko")
DEFAULT = "en"

# key -> {language: template}. Every key has every language (a test says so); a template names its
# values with {name}. Korean avoids particles right after a value (이/가, 을/를, 으로/로 depend on
# how the value ends): "{ns}에 Pod {pod} 없음", not "{pod}가 없음".
FINDINGS: dict[str, dict[str, str]] = {
    # any check
    "text": {"en": "{text}", "ko": "{text}"},  # a tool's or the API server's own words
    "none": {"en": "none", "ko": "없음"},
    "namespace": {"en": "namespace {ns}", "ko": "네임스페이스 {ns}"},
    "namespace.missing": {
        "en": "no namespace {ns}: the lab has not been set up (run the notebook's setup cell, "
              "or `python -m labs setup {lab}`)",
        "ko": "네임스페이스 {ns} 없음: 실습이 아직 준비되지 않음 (노트북의 준비 셀을 실행하거나 "
              "`python -m labs setup {lab}` 실행)"},
    "service.named": {"en": "a Service named {name}", "ko": "이름이 {name}인 Service"},
    "service.missing": {"en": "no Service {name} in {ns} (Services there: {others})",
                        "ko": "{ns}에 Service {name} 없음 (있는 Service: {others})"},
    "deployment": {"en": "the Deployment {name}", "ko": "Deployment {name}"},
    "deployment.missing": {"en": "no Deployment {name} in {ns}",
                           "ko": "{ns}에 Deployment {name} 없음"},
    "deployment.pods": {"en": "pods of {name}", "ko": "{name}의 Pod"},
    "deployment.no-pods": {"en": "the Deployment {name} has no pods yet",
                           "ko": "Deployment {name}의 Pod가 아직 없음"},
    "statefulset": {"en": "the StatefulSet {name}", "ko": "StatefulSet {name}"},
    "statefulset.missing": {"en": "no StatefulSet {name} in {ns}",
                            "ko": "{ns}에 StatefulSet {name} 없음"},
    "statefulset.pods": {"en": "pods of {name}", "ko": "{name}의 Pod"},
    "statefulset.no-pods": {"en": "the StatefulSet {name} has no pods yet",
                            "ko": "StatefulSet {name}의 Pod가 아직 없음"},
    "url.field": {"en": "{name} with a {field}", "ko": "{field} 값이 있는 {name}"},
    "url.no-field": {"en": "{name} has no {field} (PORT(S) {ports})",
                     "ko": "{name}에 {field} 값 없음 (PORT(S) {ports})"},
    # deployment-ready
    "ready.deployment": {"en": "Deployment {name} with {want} ready pods",
                         "ko": "준비된 Pod가 {want}개인 Deployment {name}"},
    "ready.statefulset": {"en": "StatefulSet {name} with {want} ready pods",
                          "ko": "준비된 Pod가 {want}개인 StatefulSet {name}"},
    "ready.want": {"en": "{want} ready pods", "ko": "준비된 Pod {want}개"},
    "ready.count": {"en": "{ready}/{total} ready", "ko": "{ready}/{total} 준비됨"},
    # pod-ready
    "pod.ready": {"en": "pod {pod} ready", "ko": "Pod {pod} 준비됨"},
    "pod.missing": {"en": "no pod {pod} in {ns}", "ko": "{ns}에 Pod {pod} 없음"},
    "pod.not-ready": {"en": "phase {phase}, not ready", "ko": "phase {phase}, 준비 안 됨"},
    "pod.where": {"en": "{ip} on {node}", "ko": "{ip} (노드 {node})"},
    # service, service-port, external-name, no-cluster-ip: kubectl's own columns
    "type": {"en": "type {type}", "ko": "타입 {type}"},
    "ports": {"en": "PORT(S) {ports}", "ko": "PORT(S) {ports}"},
    "external-name": {"en": "externalName {name}", "ko": "externalName {name}"},
    "cluster-ip": {"en": "CLUSTER-IP {ip}", "ko": "CLUSTER-IP {ip}"},
    # headless
    "headless.want": {"en": "type ClusterIP with CLUSTER-IP None (a headless Service)",
                      "ko": "타입 ClusterIP, CLUSTER-IP None (헤드리스 Service)"},
    "service-name": {"en": "serviceName of the StatefulSet {statefulset}: {service}",
                     "ko": "StatefulSet {statefulset}의 serviceName: {service}"},
    "headless": {"en": "CLUSTER-IP None; serviceName of the StatefulSet {statefulset}: {service}",
                 "ko": "CLUSTER-IP None; StatefulSet {statefulset}의 serviceName: {service}"},
    # selector
    "selector.want": {"en": "a selector matching the pods of {deployment}",
                      "ko": "{deployment}의 Pod를 선택하는 셀렉터"},
    "selector.none": {"en": "no selector: Kubernetes manages no endpoints for this Service",
                      "ko": "셀렉터 없음: 쿠버네티스가 이 Service의 엔드포인트를 관리하지 않음"},
    "selector.want-labels": {
        "en": "a selector matching the pods of {deployment} (their labels: {labels})",
        "ko": "{deployment}의 Pod를 선택하는 셀렉터 (Pod의 라벨: {labels})"},
    "selector.misses": {"en": "selector {selector} matches none of {n} pod(s)",
                        "ko": "셀렉터 {selector}: Pod {n}개 중 선택된 Pod 없음"},
    "selector.misses-some": {
        "en": "selector {selector} matches {matched} of {n} pod(s), not {names}",
        "ko": "셀렉터 {selector}: Pod {n}개 중 {matched}개만 선택됨 ({names} 제외)"},
    "selector.want-only": {"en": "a selector matching only the pods of {deployment}",
                           "ko": "{deployment}의 Pod만 선택하는 셀렉터"},
    "selector.extra": {"en": "selector {selector} also matches {extra}",
                       "ko": "셀렉터 {selector}: {extra}까지 선택함"},
    "selector.matches": {"en": "selector {selector} matches {n} pod(s)",
                         "ko": "셀렉터 {selector}: Pod {n}개 선택"},
    # endpoints
    "endpoints": {"en": "ENDPOINTS {shown}{more}", "ko": "ENDPOINTS {shown}{more}"},
    "endpoints.want": {"en": "{n} ready endpoint(s) (one per ready pod of {deployment})",
                       "ko": "준비된 엔드포인트 {n}개 ({deployment}의 준비된 Pod마다 하나)"},
    "endpoints.none": {"en": "ENDPOINTS <none>: {why}", "ko": "ENDPOINTS <none>: {why}"},
    "endpoints.no-ready-pod": {"en": "the selector matches no ready pod",
                               "ko": "셀렉터가 선택한 준비된 Pod 없음"},
    "endpoints.no-port": {"en": "the targetPort names no port of the pods",
                          "ko": "targetPort가 Pod의 어느 포트도 가리키지 않음"},
    "endpoints.no-slice": {"en": "no EndpointSlice yet", "ko": "EndpointSlice가 아직 없음"},
    "endpoints.count": {"en": "{n} ready endpoint(s): {shown}{more}",
                        "ko": "준비된 엔드포인트 {n}개: {shown}{more}"},
    "endpoints.want-port": {"en": "endpoints on a port the pods listen on ({ports})",
                            "ko": "Pod가 요청을 받는 포트({ports})의 엔드포인트"},
    "endpoints.wrong-port": {"en": "endpoints on port {ports}: check targetPort",
                             "ko": "엔드포인트의 포트 {ports}: targetPort를 확인할 것"},
    # external-ips
    "external-ip": {"en": "EXTERNAL-IP {ips}", "ko": "EXTERNAL-IP {ips}"},
    "external-ip.pending": {"en": "EXTERNAL-IP <pending>", "ko": "EXTERNAL-IP <pending>"},
    "external-ip.want": {"en": "EXTERNAL-IP set to a node's address (spec.externalIPs)",
                         "ko": "노드 주소로 채운 EXTERNAL-IP (spec.externalIPs)"},
    "external-ip.want-node": {"en": "a node's address in externalIPs ({nodes})",
                              "ko": "externalIPs에 노드 주소 ({nodes})"},
    "external-ip.not-a-node": {"en": "externalIPs {ips}: no node has that address",
                               "ko": "externalIPs {ips}: 이 주소를 가진 노드 없음"},
    # probes (dns, http, http-host)
    "probe.want-pod": {"en": "a ready pod {pod} to probe from",
                       "ko": "요청을 보낼 준비된 Pod {pod}"},
    "probe.no-pod": {"en": "no ready pod {pod} in {ns}", "ko": "{ns}에 준비된 Pod {pod} 없음"},
    "probe.want-result": {"en": "a probe result", "ko": "프로브 결과"},
    "probe.not-run": {"en": "the probe did not run", "ko": "프로브가 실행되지 않음"},
    "probe.want-run": {"en": "the probe to run", "ko": "프로브 실행"},
    "dns.want": {"en": "{service} resolving to {ip}", "ko": "{service} 이름 조회 결과 {ip}"},
    "dns.want-target": {"en": "{service} resolving to {ip} ({target})",
                        "ko": "{service} 이름 조회 결과 {ip} ({target})"},
    "dns.failed": {"en": "lookup failed: {error}", "ko": "이름 조회 실패: {error}"},
    "dns.got": {"en": "{service} -> {addresses} ({canonical})",
                "ko": "{service} -> {addresses} ({canonical})"},
    "dns.chain": {"en": "{service} -> {canonical} -> {addresses}",
                  "ko": "{service} -> {canonical} -> {addresses}"},
    "dns.records.want": {
        "en": "{service} resolving to the {n} ready pod(s) of {statefulset}, one A record each: "
              "{ips}",
        "ko": "{service} 이름 조회 결과 {statefulset}의 준비된 Pod {n}개, Pod마다 A 레코드 하나: "
              "{ips}"},
    "dns.records": {"en": "{service} -> {addresses} ({n} A record(s))",
                    "ko": "{service} -> {addresses} (A 레코드 {n}개)"},
    "dns.records.vip": {
        "en": "{service} -> {ip}: the Service's cluster IP, not the pods (the Service is not "
              "headless)",
        "ko": "{service} -> {ip}: Pod가 아닌 Service의 클러스터 IP (헤드리스 Service가 아님)"},
    "dns.pod-names.want": {
        "en": "each ready pod of {statefulset} resolving by name to its own IP "
              "(<pod>.{service}.{ns}.svc.cluster.local)",
        "ko": "{statefulset}의 준비된 Pod마다 이름으로 조회하면 그 Pod의 IP "
              "(<Pod>.{service}.{ns}.svc.cluster.local)"},
    "dns.pod-names.no-ready": {"en": "no ready pod of {statefulset}",
                               "ko": "{statefulset}의 준비된 Pod 없음"},
    "dns.pod-names.not-headless": {
        "en": " - {service} is not headless, so its pods get no names in DNS",
        "ko": " - Service {service}: 헤드리스가 아니어서 Pod 이름이 DNS에 등록되지 않음"},
    "dns.pod-names.other-service": {
        "en": " - the StatefulSet {statefulset} names the Service {service} in spec.serviceName",
        "ko": " - StatefulSet {statefulset}의 spec.serviceName은 Service {service}"},
    "dns.pod-name.failed": {"en": "{name}: lookup failed: {error}{why}",
                            "ko": "{name}: 이름 조회 실패: {error}{why}"},
    "dns.pod-name.wrong": {"en": "{name} -> {addresses}, but {pod} has {ip}",
                           "ko": "{name} -> {addresses}, 하지만 {pod}의 IP는 {ip}"},
    "dns.pod-name": {"en": "{name} -> {ip}", "ko": "{name} -> {ip}"},
    "http.no-host-ports": {"en": "this cluster's NodePorts are not mapped to 127.0.0.1 here",
                           "ko": "이 클러스터는 NodePort를 이 컴퓨터의 127.0.0.1로 연결하지 않음"},
    "http.want": {"en": "{count}/{count} answers 200 from pods of {deployment} for {url}",
                  "ko": "{url} 요청 {count}개 모두 {deployment}의 Pod가 200으로 응답"},
    "http.failed": {"en": "{ok}/{count} answered; {url}: {what}",
                    "ko": "{count}개 중 {ok}개 응답; {url}: {what}"},
    "http.status": {"en": "HTTP {status}", "ko": "HTTP {status}"},
    "http.no-answer": {"en": "no answer", "ko": "응답 없음"},
    "http.strangers": {"en": "answered by {pods}, not a pod of {deployment}",
                       "ko": "{deployment}의 Pod가 아닌 {pods}에서 응답"},
    "http.answered": {"en": "{url} -> 200 from {spread}",
                      "ko": "{url} -> 200 (응답한 Pod: {spread})"},
}

# The words around the findings: the terminal table, the failure blocks, the summary line, JUnit,
# the notebook's check panel and the CLI's own lines.
LABELS: dict[str, dict[str, str]] = {
    "passed": {"en": "PASS", "ko": "통과"},
    "failed": {"en": "FAIL", "ko": "실패"},
    "skipped": {"en": "SKIP", "ko": "건너뜀"},
    "blocked": {"en": "WAIT", "ko": "대기"},
    "waits-for": {"en": "not judged: waits for {titles}",
                  "ko": "채점 보류: 먼저 필요한 목표 {titles}"},
    "first": {"en": "Start here", "ko": "여기부터"},
    "expected": {"en": "expected", "ko": "기대값"},
    "found": {"en": "found", "ko": "실제 값"},
    "hint": {"en": "hint", "ko": "힌트"},
    "table": {"en": "Lab checks", "ko": "실습 채점"},
    "col.lab": {"en": "Lab", "ko": "실습"},
    "col.objective": {"en": "Objective", "ko": "목표"},
    "col.result": {"en": "Result", "ko": "결과"},
    "col.found": {"en": "Found", "ko": "실제 값"},
    "counts": {"en": "{passed} passed, {failed} failed", "ko": "통과 {passed}, 실패 {failed}"},
    "counts.skipped": {"en": ", {skipped} skipped", "ko": ", 건너뜀 {skipped}"},
    "counts.blocked": {"en": ", {blocked} waiting", "ko": ", 대기 {blocked}"},
    "cost": {"en": "{seconds:.1f} s, {requests} API requests",
             "ko": "{seconds:.1f}초, API 요청 {requests}회"},
    "junit.failure": {"en": "expected {expected}; found {found}",
                      "ko": "기대값 {expected}; 실제 값 {found}"},
    "fix": {"en": "fix", "ko": "해결"},
    "error": {"en": "error", "ko": "오류"},
    "cli.list": {"en": "namespace {ns}, {n} objectives", "ko": "네임스페이스 {ns}, 목표 {n}개"},
    "cli.cluster": {"en": "Lab cluster: {cluster} (Kubernetes {version}, {server})",
                    "ko": "실습 클러스터: {cluster} (쿠버네티스 {version}, {server})"},
    "cli.stopped": {"en": "{cluster}: stopped", "ko": "{cluster}: 중지됨"},
    "cli.solved": {"en": "Solved {lab}: `make check LAB={lab}` grades it.",
                   "ko": "{lab} 정답 적용 완료: `make check LAB={lab}`로 채점한다."},
    "cli.lab-cluster": {"en": "Lab cluster: {cluster}  (KUBECONFIG={kubeconfig})",
                        "ko": "실습 클러스터: {cluster}  (KUBECONFIG={kubeconfig})"},
    "cli.jupyter": {"en": "Starting JupyterLab on 127.0.0.1 (Ctrl-C stops it; the cluster keeps "
                          "running, `make cluster-down` stops it)",
                    "ko": "127.0.0.1에서 JupyterLab 시작 (Ctrl-C로 멈춘다. 클러스터는 계속 실행되며 "
                          "`make cluster-down`으로 멈춘다)"},
    "cli.checking": {"en": "Checking {labs} on {cluster}...", "ko": "{labs} 채점 중 ({cluster})..."},
    "cli.reports": {"en": "Reports: {files}", "ko": "보고서: {files}"},
}


# Errors a learner reads from the CLI (`python -m labs ...`): key -> what and fix, per language.
# Raised with :func:`error`, printed with :func:`error_text` in the language of `make check`.
ERRORS: dict[str, dict[str, dict[str, str]]] = {
    "lab.unknown": {
        "what": {"en": "there is no lab named {name!r}", "ko": "이름이 {name!r}인 실습 없음"},
        "fix": {"en": "pick one of: {labs} (e.g. make check LAB=nodeport)",
                "ko": "다음 중 하나를 고른다: {labs} (예: make check LAB=nodeport)"}},
    "lab.unnamed": {
        "what": {"en": "name the lab to {action}", "ko": "{action}할 실습의 이름이 필요함"},
        "fix": {"en": "make {action} LAB=<lab> with one of: {labs}",
                "ko": "make {action} LAB=<실습> (실습은 다음 중 하나: {labs})"}},
    "cluster.unknown": {
        "what": {"en": "unknown LAB_CLUSTER={name!r}", "ko": "알 수 없는 LAB_CLUSTER={name!r}"},
        "fix": {"en": "use LAB_CLUSTER=kind, current or embedded",
                "ko": "LAB_CLUSTER=kind, current, embedded 중 하나를 쓴다"}},
    "cluster.no-kubeconfig": {
        "what": {"en": "no kubeconfig at {path}", "ko": "{path}에 kubeconfig 없음"},
        "fix": {"en": "set KUBECONFIG to your cluster's kubeconfig, or use "
                      "LAB_CLUSTER=kind / LAB_CLUSTER=embedded",
                "ko": "KUBECONFIG를 클러스터의 kubeconfig로 지정하거나 "
                      "LAB_CLUSTER=kind / LAB_CLUSTER=embedded를 쓴다"}},
    "cluster.embedded-failed": {
        "what": {"en": "the embedded cluster did not start: {error}",
                 "ko": "내장 클러스터가 시작되지 않음: {error}"},
        "fix": {"en": "read {log}; `make setup` reinstalls it",
                "ko": "{log}를 읽어 본다. `make setup`으로 다시 설치할 수 있다"}},
    "cluster.embedded-fix": {  # the fix the embedded cluster logged (a command: its own words)
        "what": {"en": "the embedded cluster did not start: {error}",
                 "ko": "내장 클러스터가 시작되지 않음: {error}"},
        "fix": {"en": "{fix} (the whole log: {log})", "ko": "{fix} (전체 로그: {log})"}},
    "cluster.embedded-down": {
        "what": {"en": "the embedded cluster is not running",
                 "ko": "내장 클러스터가 실행 중이 아님"},
        "fix": {"en": "make cluster (LAB_CLUSTER=embedded)",
                "ko": "make cluster 실행 (LAB_CLUSTER=embedded)"}},
}


def error(cls: type[LabError], key: str, *, where: str | None = None,
          details: list[str] | None = None, **args: Any) -> LabError:
    """A :class:`LabError` worded in English from :data:`ERRORS`, renderable in any language."""
    texts = ERRORS[key]
    return cls(texts["what"][DEFAULT].format(**args), where=where,
               fix=texts["fix"][DEFAULT].format(**args), details=details, key=key, args=args)


def error_text(e: LabError, lang: str = DEFAULT) -> str:
    """``e`` as the CLI prints it, in ``lang`` (its words in :data:`ERRORS`; an error raised
    without a key keeps its English what and fix, under the label of ``lang``)."""
    what, fix = e.what, e.fix
    texts = ERRORS.get(e.key or "")
    if texts:
        what = texts["what"].get(lang, texts["what"][DEFAULT]).format(**e.values)
        fix = texts["fix"].get(lang, texts["fix"][DEFAULT]).format(**e.values)
    lines = [f"{e.where}: {what}" if e.where else what, *(f"  {d}" for d in e.details)]
    if fix:
        lines.append(f"  {label('fix', lang)}: {fix}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Message:
    """One finding as data: a key of :data:`FINDINGS` and its values. A value may itself be a
    Message (rendered in the same language) or a list of them (joined with "; ")."""

    key: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.key not in FINDINGS:
            raise KeyError(f"no message {self.key!r} in labs/messages.py FINDINGS")

    def text(self, lang: str = DEFAULT) -> str:
        templates = FINDINGS[self.key]
        return templates.get(lang, templates[DEFAULT]).format(
            **{k: _value(v, lang) for k, v in self.args.items()})

    def __str__(self) -> str:
        return self.text()


def _value(v: Any, lang: str) -> Any:
    if isinstance(v, Message):
        return v.text(lang)
    if isinstance(v, list | tuple):
        return "; ".join(str(_value(x, lang)) for x in v)
    return v


def msg(key: str, **args: Any) -> Message:
    return Message(key, args)


def raw(text: object) -> Message:
    """A tool's own words, the same in every language."""
    return Message("text", {"text": str(text)})


def label(key: str, lang: str = DEFAULT, **args: Any) -> str:
    templates = LABELS[key]
    return templates.get(lang, templates[DEFAULT]).format(**args)


def field_labels(lang: str = DEFAULT) -> dict[str, str]:
    """"expected: ", "found: ", "hint: " padded to one width on screen (Hangul takes two
    columns), so the values line up: ``expected: …`` / ``found:    …`` / ``hint:     …``."""
    words = {k: label(k, lang) + ":" for k in ("expected", "found", "hint")}
    width = max(cells(w) for w in words.values())
    return {k: w + " " * (width - cells(w) + 1) for k, w in words.items()}


def cells(text: str) -> int:
    """Columns a string takes in a terminal (wide East Asian characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def placeholders(template: str) -> set[str]:
    return {f.split(".")[0].split("[")[0]
            for _, f, _, _ in string.Formatter().parse(template) if f}


# -- choosing the language -----------------------------------------------------------------------
def choose(lang: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The language for the shell: ``lang`` (``--lang``) if given, else ``LAB_LANG``, else the
    locale (the first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set: ``ko…`` is Korean),
    else English."""
    env = os.environ if env is None else env
    for given, where in ((lang, "--lang"), (env.get("LAB_LANG"), "LAB_LANG")):
        if given:
            if given not in LANGS:
                raise LabError(f"{where} {given!r} is not a language of the labs",
                               fix=f"use one of: {', '.join(LANGS)} (e.g. LAB_LANG=ko make check)")
            return given
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        locale = env.get(var)
        if locale:
            return "ko" if locale.lower().startswith("ko") else DEFAULT
    return DEFAULT
