"""Notebook widgets (ipywidgets): the check panel, live tables fed by watches, the chart of which
pod answered, the port explorer, hints revealed one at a time, and progress for long waits.

Every widget is displayed with a plain-text and an HTML version beside the live view, so a notebook
read without a kernel (GitHub, nbviewer, a headless run) still shows what the learner saw.
Labels follow the notebook's language (its folder: notebooks/en or notebooks/ko).
"""

from __future__ import annotations

import contextlib
import html
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .grading import BLOCKED, FAILED, Report
from .messages import field_labels, label
from .reports import counts, mark

_COLOURS = {"green": "#1a7f37", "red": "#cf222e", "yellow": "#9a6700", "blue": "#0969da"}
_BAR = "#0969da"

_TEXT = {
    "en": {"again": "Check again", "hint": "Show a hint", "hint_n": "Show hint {n} of {total}",
           "no_more": "No more hints", "stop": "Stop watching", "stopped": "stopped",
           "live": "live (watch)", "ready": "ready", "not_ready": "not ready",
           "terminating": "terminating", "none": "no endpoints: nothing to send traffic to",
           "answers": "{n} requests to {url}", "failed": "no answer", "batch": "batch",
           "deleted": "deleted {pod}", "nopods": "no pods", "service": "Service",
           "waiting": "waiting", "hints": "{n} hint(s): press the button to see one at a time",
           "npods": "{n} pod(s)", "per_batch": "pods that answered (name suffix × answers)"},
    "ko": {"again": "다시 채점", "hint": "힌트 보기", "hint_n": "힌트 {n}/{total} 보기",
           "no_more": "더 이상 힌트가 없습니다", "stop": "감시 중지", "stopped": "중지됨",
           "live": "실시간 (watch)", "ready": "준비됨", "not_ready": "준비 안 됨",
           "terminating": "종료 중", "none": "엔드포인트 없음: 트래픽을 보낼 파드가 없습니다",
           "answers": "{url} 로 보낸 요청 {n}개", "failed": "응답 없음", "batch": "묶음",
           "deleted": "{pod} 삭제", "nopods": "파드 없음", "service": "서비스",
           "waiting": "대기 중", "hints": "힌트 {n}개: 버튼을 누를 때마다 하나씩 보인다",
           "npods": "파드 {n}개", "per_batch": "응답한 파드 (이름 끝부분 × 응답 수)"},
}


def _t(key: str, **kw: Any) -> str:
    from .notebooks import here_lang

    return _TEXT[here_lang()][key].format(**kw)


def _show(widget: Any, text: str, html_text: str) -> None:
    """Display a live widget with text and HTML fallbacks for readers without a kernel."""
    from IPython.display import display

    bundle = dict(widget._repr_mimebundle_() or {})
    bundle["text/plain"] = text
    bundle["text/html"] = html_text
    display(bundle, raw=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, raw: bool = False) -> str:
    esc = (lambda s: s) if raw else html.escape
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(h)}</th>"
                   for h in header)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left;padding:2px 8px'>{esc(str(c))}"
                                    "</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cols = [header, *rows]
    widths = [max(len(str(r[i])) for r in cols) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip()
                     for r in cols)


# -- the check panel ---------------------------------------------------------------------------------
def report_html(reports: Sequence[Report], lang: str | None = None) -> str:
    """The panel in ``lang`` (default: the notebook's language)."""
    lang = lang or _lang()
    rows = []
    for rep in (r.in_lang(lang) for r in reports):
        rows.append(f"<tr><th colspan=3 style='text-align:left'>{html.escape(rep.title)} "
                    f"<small>({html.escape(_counts(rep, lang))})</small></th></tr>")
        first = rep.first_failure
        if first is not None:  # the first mistake leads; the objectives waiting on it follow
            rows.append(f"<tr class='lab-first'><td colspan=3 style='text-align:left'>"
                        f"<b>{html.escape(label('first', lang))}:</b> {html.escape(first.title)}"
                        f" &mdash; {html.escape(first.hint)}</td></tr>")
        for r in rep.results:
            word, colour = mark(r.status, lang)
            if r.status == FAILED:
                detail = "<br>".join(f"<b>{html.escape(label(k, lang))}</b> {html.escape(v)}"
                                     for k, v in (("expected", r.expected), ("found", r.found),
                                                  ("hint", r.hint)))
            else:
                detail = f"<span style='opacity:.7'>{html.escape(r.found)}</span>"
            rows.append(f"<tr class='lab-objective' data-status='{r.status}'>"
                        f"<td style='color:{_COLOURS[colour]};font-weight:bold'>{word}</td>"
                        f"<td style='text-align:left'>{html.escape(r.title)}</td>"
                        f"<td style='text-align:left'>{detail}</td></tr>")
    return "<table class='lab-checks'>" + "".join(rows) + "</table>"


def _counts(rep: Report, lang: str) -> str:
    return counts(rep, lang)


def report_text(reports: Sequence[Report], lang: str | None = None) -> str:
    """The panel as plain text: one line per objective, then expected/found/hint for failures."""
    lang = lang or _lang()
    f = field_labels(lang)
    lines = []
    for rep in (r.in_lang(lang) for r in reports):
        lines.append(f"{rep.title}: {_counts(rep, lang)}")
        if rep.first_failure is not None:
            lines.append(f"{label('first', lang)}: {rep.first_failure.title} - "
                         f"{rep.first_failure.hint}")
        for r in rep.results:
            lines.append(f"{mark(r.status, lang)[0]}  {r.title}")
            if r.status == FAILED:
                lines += [f"      {f['expected']}{r.expected}", f"      {f['found']}{r.found}",
                          f"      {f['hint']}{r.hint}"]
            elif r.status == BLOCKED:
                lines.append(f"      {r.found}")
    return "\n".join(lines)


def check_panel(reports: Sequence[Report], recheck: Callable[[], Sequence[Report]] | None = None,
                lang: str | None = None) -> None:
    """Display the results in ``lang`` (default: the notebook's language), with a "Check again"
    button when ``recheck`` is given."""
    import ipywidgets as w

    lang = lang or _lang()
    if recheck is None and reports:
        from . import session

        names = [r.lab for r in reports]
        recheck = lambda: session.check(*names)  # noqa: E731
    out = w.HTML(report_html(reports, lang))
    items: list[w.Widget] = [out]
    if recheck is not None:
        button = w.Button(description=_TEXT[lang]["again"], icon="refresh")

        def again(_: w.Button) -> None:
            button.disabled = True
            try:
                out.value = report_html(recheck(), lang)
            finally:
                button.disabled = False

        button.on_click(again)
        items.insert(0, button)
    _show(w.VBox(items), report_text(reports, lang), report_html(reports, lang))


# -- hints -----------------------------------------------------------------------------------------------
def hints(*, en: Sequence[str], ko: Sequence[str]) -> None:
    """Hints revealed one at a time by a button (the notebook's language picks the list)."""
    import ipywidgets as w

    from .notebooks import here_lang

    texts = list(ko if here_lang() == "ko" else en)
    shown_html = w.HTML("")
    button = w.Button(description=_t("hint_n", n=1, total=len(texts)), icon="lightbulb-o")
    count = [0]

    def reveal(_: w.Button) -> None:
        count[0] += 1
        shown_html.value = "".join(
            f"<p><b>{i}.</b> {html.escape(t)}</p>" for i, t in enumerate(texts[:count[0]], 1))
        if count[0] >= len(texts):
            button.disabled, button.description = True, _t("no_more")
        else:
            button.description = _t("hint_n", n=count[0] + 1, total=len(texts))

    button.on_click(reveal)
    _show(w.VBox([button, shown_html]), _t("hints", n=len(texts)),
          f"<p>{html.escape(_t('hints', n=len(texts)))}</p>")


# -- live tables from watches ------------------------------------------------------------------------------
_LIVE: dict[str, LiveTable] = {}


class LiveTable:
    """A table of the objects at a list URL, kept current by a watch in a background thread.

    The thread lists once, then watches from the list's resourceVersion (re-watching when the
    server closes the stream) until :meth:`stop` or ``max_seconds``. A new table with the same key
    stops the old one, so re-running a cell never leaves two watches behind.
    """

    def __init__(self, key: str, path: str, rows: Callable[[dict[str, dict[str, Any]]],
                 tuple[Sequence[str], list[list[str]], str]], *, query: dict[str, str] | None = None,
                 max_seconds: float = 900) -> None:
        from . import session

        self.key, self.path, self.query, self._rows = key, path, query or {}, rows
        self.kube = session.connect()
        self.objects: dict[str, dict[str, Any]] = {}
        self.changes: list[str] = []
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self.deadline = time.monotonic() + max_seconds
        self.error = ""
        old = _LIVE.pop(key, None)
        if old:
            old.stop()
        _LIVE[key] = self
        self._widget: Any = None
        self._status: Any = None
        listed = self.kube.request("GET", path, query=self.query or None)
        self.objects = {o["metadata"]["name"]: o for o in listed.get("items") or []}
        self.version = listed.get("metadata", {}).get("resourceVersion")
        self.thread = threading.Thread(target=self._run, name=f"watch {key}", daemon=True)

    # data -------------------------------------------------------------------------------------------------
    def table(self) -> tuple[Sequence[str], list[list[str]], str]:
        return self._rows(dict(self.objects))

    def text(self) -> str:
        header, rows, summary = self.table()
        return f"{summary}\n{_text_table(header, rows)}" if rows else summary

    def html(self) -> str:
        header, rows, summary = self.table()
        log = "".join(f"<div style='opacity:.75'>{html.escape(c)}</div>" for c in self.changes[-6:])
        return (f"<p><b>{html.escape(summary)}</b></p>" + (_table(header, rows) if rows else "")
                + log)

    def wait(self, condition: Callable[[dict[str, dict[str, Any]]], bool],
             timeout: float = 60) -> bool:
        """Block until ``condition(objects)`` holds (True) or the timeout passes (False)."""
        end = time.monotonic() + timeout
        with self._changed:
            while not condition(dict(self.objects)):
                left = end - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return False
                self._changed.wait(min(left, 1))
        return True

    # display and thread -------------------------------------------------------------------------------------
    def show(self) -> LiveTable:
        import ipywidgets as w

        self._widget = w.HTML(self.html())
        self._status = w.HTML(f"<small>● {_t('live')}</small>")
        stop = w.Button(description=_t("stop"), icon="stop", layout=w.Layout(width="auto"))
        stop.on_click(lambda _: self.stop())
        _show(w.VBox([w.HBox([stop, self._status]), self._widget]), self.text(), self.html())
        if not self.thread.is_alive() and not self._stop.is_set():
            self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._status is not None:
            self._status.value = f"<small>■ {_t('stopped')}</small>"
        if _LIVE.get(self.key) is self:
            _LIVE.pop(self.key, None)

    def _apply(self, event: dict[str, Any]) -> None:
        kind, obj = event["type"], event["object"]
        self.version = obj["metadata"].get("resourceVersion", self.version)
        if kind == "BOOKMARK":
            return
        name = obj["metadata"]["name"]
        with self._changed:
            if kind == "DELETED":
                self.objects.pop(name, None)
            else:
                self.objects[name] = obj
            self._changed.notify_all()
        stamp = time.strftime("%H:%M:%S")
        self.changes.append(f"{stamp} {kind.lower()} {name}")
        if self._widget is not None:
            self._widget.value = self.html()

    def _run(self) -> None:
        from .kube import StatusError

        while not self._stop.is_set() and time.monotonic() < self.deadline:
            try:
                for event in self.kube.watch(self.path, self.version, timeout=5, **self.query):
                    self._apply(event)
                    if self._stop.is_set():
                        break
            except StatusError as e:
                if e.code != 410:
                    self.error = str(e)
                    break
                listed = self.kube.request("GET", self.path, query=self.query or None)
                with self._changed:
                    self.objects = {o["metadata"]["name"]: o for o in listed.get("items") or []}
                self.version = listed.get("metadata", {}).get("resourceVersion")
            except Exception as e:  # the cluster went away: say so in the widget, end the thread
                self.error = str(e)
                break
        self.stop()


def stop_all() -> None:
    """Stop every live table (the cleanup cells call it)."""
    for table in list(_LIVE.values()):
        table.stop()


def _age(obj: dict[str, Any]) -> str:
    import datetime

    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return ""
    then = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
    secs = int((datetime.datetime.now(datetime.timezone.utc) - then).total_seconds())
    return f"{secs}s" if secs < 120 else f"{secs // 60}m"


def endpoints_table(namespace: str, service: str, *, show: bool = True) -> LiveTable:
    """The Service's endpoints (EndpointSlices), updated live as pods come and go."""

    def rows(slices: dict[str, dict[str, Any]]) -> tuple[Sequence[str], list[list[str]], str]:
        out = []
        for s in slices.values():
            ports = ",".join(str(p.get("port")) for p in s.get("ports") or [])
            for ep in s.get("endpoints") or []:
                cond = ep.get("conditions") or {}
                state = (_t("terminating") if cond.get("terminating") else
                         _t("ready") if cond.get("ready", True) else _t("not_ready"))
                for addr in ep.get("addresses") or []:
                    out.append([f"{addr}:{ports}", (ep.get("targetRef") or {}).get("name", ""),
                                ep.get("nodeName", ""), state])
        out.sort(key=lambda r: r[1])
        ready = sum(r[3] == _t("ready") for r in out)
        summary = (f"{_t('service')} {service}: {ready} {_t('ready')}" if out else
                   f"{_t('service')} {service}: {_t('none')}")
        return ["ENDPOINT", "POD", "NODE", "STATE"], out, summary

    table = LiveTable(f"endpoints {namespace}/{service}",
                      f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices", rows,
                      query={"labelSelector": f"kubernetes.io/service-name={service}"})
    return table.show() if show else table


def pods_table(namespace: str, selector: str = "", *, show: bool = True) -> LiveTable:
    """Pods (name, IP, node, phase) matching ``selector``, updated live."""
    from .waiting import pod_ready

    def rows(pods: dict[str, dict[str, Any]]) -> tuple[Sequence[str], list[list[str]], str]:
        out = []
        for name, p in sorted(pods.items()):
            st = p.get("status", {})
            phase = _t("terminating") if p["metadata"].get("deletionTimestamp") else \
                st.get("phase", "?")
            out.append([name, st.get("podIP") or "-", p.get("spec", {}).get("nodeName") or "-",
                        f"{phase}{' / ' + _t('ready') if pod_ready(p) else ''}", _age(p)])
        summary = _t("npods", n=len(out)) + (f" ({selector})" if selector else "")
        return ["NAME", "IP", "NODE", "STATUS", "AGE"], out, summary if out else _t("nopods")

    query = {"labelSelector": selector} if selector else {}
    table = LiveTable(f"pods {namespace}/{selector}", f"/api/v1/namespaces/{namespace}/pods",
                      rows, query=query)
    return table.show() if show else table


# -- which pod answered -------------------------------------------------------------------------------------
def answers(results: Sequence[Any]) -> Counter[str]:
    """How many answers each pod gave (failed requests counted under "no answer")."""
    return Counter((r.pod or "?") if r.ok and r.status else _t("failed") for r in results)


def answers_chart(results: Sequence[Any], *, title: str | None = None) -> None:
    """A bar per pod: which pod answered how many of the requests (load balancing made visible)."""
    import ipywidgets as w

    counts = answers(results)
    total = max(1, len(results))
    url = results[0].url if results else ""
    title = title or _t("answers", n=len(results), url=url)
    rows_html, rows_text = [], []
    width = max((len(p) for p in counts), default=0)
    for pod, n in sorted(counts.items()):
        colour = _COLOURS["red"] if pod == _t("failed") else _BAR
        pct = 100 * n / total
        rows_html.append(
            f"<tr><td style='text-align:left;padding-right:8px'><code>{html.escape(pod)}</code></td>"
            f"<td style='width:320px'><div style='background:{colour};height:14px;"
            f"width:{pct:.0f}%'></div></td><td style='padding-left:6px'>{n}</td></tr>")
        rows_text.append(f"{pod.ljust(width)}  {'#' * round(30 * n / total)} {n}")
    body = f"<p><b>{html.escape(title)}</b></p><table>{''.join(rows_html)}</table>"
    _show(w.HTML(body), f"{title}\n" + "\n".join(rows_text), body)


def host_chart(url: str, count: int = 10) -> None:
    """Requests from this machine (the "browser on the host"), when the cluster maps its NodePorts
    to 127.0.0.1 (kind and the embedded cluster do; a cluster of your own may not)."""
    from . import probing, session

    backend = session.cluster()
    if not backend.host_ports:
        name = backend.name
        print({"en": f"This cluster (LAB_CLUSTER={name}) does not map NodePorts to 127.0.0.1 "
                     "of this machine: use a node's address from inside the cluster (above).",
               "ko": f"이 클러스터(LAB_CLUSTER={name})는 NodePort를 이 컴퓨터의 127.0.0.1로 "
                     "연결하지 않는다. 위의 셀처럼 클러스터 내부에서 노드 주소로 접근한다."}[_lang()])
        return
    answers_chart(probing.http_from_host(url, count))


def _lang() -> str:
    from .notebooks import here_lang

    return here_lang()


# -- ports -------------------------------------------------------------------------------------------------
def port_rows(svc: dict[str, Any], pods: Sequence[dict[str, Any]] = ()) -> list[dict[str, str]]:
    """Each Service port: port, targetPort, nodePort, and the container port it reaches."""
    out = []
    for p in svc.get("spec", {}).get("ports") or []:
        target = p.get("targetPort", p.get("port"))
        reached = ""
        for pod in pods:
            for c in pod.get("spec", {}).get("containers") or []:
                for cp in c.get("ports") or []:
                    if target in (cp.get("name"), cp.get("containerPort")):
                        reached = f"{c.get('name')}:{cp.get('containerPort')}"
            if reached:
                break
        out.append({"name": p.get("name") or "-", "protocol": p.get("protocol", "TCP"),
                    "port": str(p.get("port")), "targetPort": str(target),
                    "nodePort": str(p.get("nodePort") or "-"), "container": reached or "-"})
    return out


def port_explorer(namespace: str, service: str | None = None) -> None:
    """port / targetPort / nodePort of the Services in a namespace, one picked by a dropdown."""
    import ipywidgets as w

    from . import session

    kube = session.connect()
    services = {s["metadata"]["name"]: s
                for s in kube.list(f"/api/v1/namespaces/{namespace}/services")}
    if not services:
        from .errors import LabError

        raise LabError(f"no Services in namespace {namespace} yet",
                       fix="apply the lab's Service first (the cell above)")

    def render(name: str) -> tuple[str, str]:
        svc = services[name]
        spec = svc.get("spec", {})
        selector = ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items())
        pods = kube.list(f"/api/v1/namespaces/{namespace}/pods",
                         labelSelector=selector) if selector else []
        rows = port_rows(svc, pods)
        kind = spec.get("type", "ClusterIP")
        ext = ", ".join(spec.get("externalIPs") or []) or spec.get("externalName") or "-"
        head = (f"{name}: type {kind}, clusterIP {spec.get('clusterIP') or '-'}, "
                f"external {ext}, selector {selector or '-'}")
        header = ["NAME", "PROTOCOL", "nodePort", "port", "targetPort", "container"]
        cells = [[r["name"], r["protocol"], r["nodePort"], r["port"], r["targetPort"],
                  r["container"]] for r in rows]
        paths = []
        for r in rows:
            hops = []
            if r["nodePort"] != "-":
                hops.append(f"&lt;node IP&gt;:<b>{r['nodePort']}</b>")
            for ip in spec.get("externalIPs") or []:
                hops.append(f"{html.escape(ip)}:<b>{r['port']}</b>")
            if spec.get("clusterIP") not in (None, "None"):
                hops.append(f"{spec.get('clusterIP')}:<b>{r['port']}</b>")
            paths.append(" or ".join(hops) + f" &rarr; pod :<b>{r['targetPort']}</b>"
                         + (f" ({html.escape(r['container'])})" if r["container"] != "-" else ""))
        body = (f"<p><b>{html.escape(head)}</b></p>" + _table(header, cells)
                + "".join(f"<p><code>{p}</code></p>" for p in paths))
        return f"{head}\n{_text_table(header, cells)}", body

    names = sorted(services)
    first = service if service is not None and service in services else names[0]
    text, body = render(first)
    view = w.HTML(body)
    pick = w.Dropdown(options=names, value=first, description=_t("service"))
    pick.observe(lambda ch: setattr(view, "value", render(ch["new"])[1]), names="value")
    _show(w.VBox([pick, view]), text, body)


# -- progress for long waits ----------------------------------------------------------------------------
class BarProgress:
    """A progress bar with the ``update(state)`` of :class:`labs.progress.Progress` (duck typed),
    so :func:`labs.waiting.wait_for` can drive it; ``total`` steps parsed from "3/3"-like states."""

    def __init__(self, title: str, total: int) -> None:
        import ipywidgets as w

        self.title, self.total, self.started = title, total, time.monotonic()
        self.bar = w.IntProgress(value=0, min=0, max=max(1, total), description=title[:24],
                                 layout=w.Layout(width="420px"))
        self.label = w.HTML(_t("waiting"))
        self.last = ""

    def show(self) -> BarProgress:
        import ipywidgets as w

        _show(w.HBox([self.bar, self.label]), self.title, f"<p>{html.escape(self.title)}</p>")
        return self

    def update(self, state: str) -> None:
        import re

        self.last = state
        m = re.search(r"(\d+)\s*/\s*(\d+)", state) or re.search(r"(\d+) ready", state)
        if m:
            self.bar.value = min(int(m.group(1)), self.bar.max)
        self.label.value = f"{html.escape(state)} <small>({time.monotonic() - self.started:.1f} s)"\
                           "</small>"

    def done(self, ok: bool) -> None:
        self.bar.bar_style = "success" if ok else "danger"
        if ok:
            self.bar.value = self.bar.max


@contextlib.contextmanager
def progress(title: str, total: int) -> Iterator[BarProgress]:
    bar = BarProgress(title, total).show()
    try:
        yield bar
    except BaseException:
        bar.done(False)
        raise
    bar.done(True)
    print(f"{title}: {bar.last} ({time.monotonic() - bar.started:.1f} s)")


def wait_rollout(namespace: str, deployment: str, timeout: float = 180) -> None:
    """Wait for a Deployment to be rolled out, with a bar of ready replicas."""
    from . import session, waiting

    kube = session.connect()
    d = kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}") or {}
    want = int(d.get("spec", {}).get("replicas", 1) or 1)
    with progress(f"deployment/{deployment}", want) as bar:
        waiting.wait_for(kube, f"/apis/apps/v1/namespaces/{namespace}/deployments",
                                waiting.rolled_out, what=f"deployment/{deployment} to roll out",
                                timeout=timeout, state=waiting.rollout_state, progress=bar,  # type: ignore[arg-type]
                                fieldSelector=f"metadata.name={deployment}")


def wait_endpoints(namespace: str, service: str, count: int, timeout: float = 60) -> None:
    """Wait until a Service has ``count`` ready endpoints, with a bar."""
    from . import session, waiting

    kube = session.connect()
    with progress(f"endpoints/{service}", count) as bar:
        waiting.wait_for(
            kube, f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
            lambda o: len(waiting.ready_endpoints(o)) >= count,
            what=f"{count} ready endpoint(s) of service/{service}", timeout=timeout,
            state=lambda o: f"{len(waiting.ready_endpoints(o))}/{count} ready", progress=bar,  # type: ignore[arg-type]
            labelSelector=f"kubernetes.io/service-name={service}")


# -- requests while a pod goes away -------------------------------------------------------------------------
def requests_while_deleting(lab: Any, url: str, *, batches: int = 6, per_batch: int = 5,
                            delete_after: int = 2, selector: str = "app.kubernetes.io/name=web-deploy"
                            ) -> None:
    """Send ``batches`` x ``per_batch`` requests from the client pod; delete one web pod after
    ``delete_after`` batches. Shows, per batch, which pods answered and how many failed."""
    import ipywidgets as w

    from . import session

    the_lab = session.lab(lab)
    ns, kube = the_lab.namespace, session.connect()
    rows: list[list[str]] = []
    before: set[str] = set()
    seen_new, deadline, b = False, 0.0, 0
    # keep going after the planned batches until the replacement pod has answered (30 s at most)
    while b < batches or (before and not seen_new and time.monotonic() < deadline):
        if b == delete_after:
            pods = sorted(p["metadata"]["name"] for p in kube.list(
                f"/api/v1/namespaces/{ns}/pods", labelSelector=selector)
                if not p["metadata"].get("deletionTimestamp"))
            if pods:
                before = set(pods)
                kube.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{pods[0]}")
                rows.append(["", _t("deleted", pod=pods[0])])
                deadline = time.monotonic() + 30
        counts = answers(session.probe(the_lab, url, per_batch))
        seen_new = seen_new or any(p not in before and p != _t("failed") for p in counts)
        b += 1
        rows.append([f"{_t('batch')} {b}",
                     ", ".join(f"{p.rsplit('-', 1)[-1]}×{n}" for p, n in sorted(counts.items()))])
    body = _table(["", _t("per_batch")], rows)
    _show(w.HTML(body), _text_table(["", _t("per_batch")], rows), body)


# -- the traffic path with this cluster's addresses --------------------------------------------------------
def path_diagram(namespace: str, service: str, *, client: str = "nginx01") -> None:
    """A Mermaid flowchart of the Service's traffic path with the live addresses and ports."""
    from IPython.display import Markdown, display

    from . import session

    kube = session.connect()
    svc = kube.get(f"/api/v1/namespaces/{namespace}/services/{service}")
    if svc is None:
        from .errors import LabError

        raise LabError(f"no Service {service} in {namespace} yet",
                       fix="apply the Service first (the cells above)")
    spec = svc.get("spec", {})
    port = (spec.get("ports") or [{}])[0]
    slices = kube.list(f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
                       labelSelector=f"kubernetes.io/service-name={service}")
    nodes = [(n["metadata"]["name"], a["address"]) for n in kube.list("/api/v1/nodes")
             for a in n.get("status", {}).get("addresses") or [] if a.get("type") == "InternalIP"]
    lines = ["flowchart LR"]
    kind = spec.get("type", "ClusterIP")
    svc_node = f'svc["{service}<br/>{kind} {spec.get("clusterIP") or ""}:{port.get("port", "")}"]'
    if kind == "ExternalName":
        lines.append(f'  c(["{client}"]) -- "DNS: {service}" --> dns["cluster DNS"]')
        lines.append(f'  dns -- "CNAME" --> ext["{spec.get("externalName")}"]')
    else:
        lines.append(f'  c(["{client} (in the cluster)"]) --> {svc_node}')
        if port.get("nodePort"):
            lines.append('  h(["client outside the cluster"])')
            for name, ip in nodes:
                lines.append(f'  h --> n_{name.replace("-", "_")}["{name}<br/>{ip}:{port["nodePort"]}"]')
                lines.append(f'  n_{name.replace("-", "_")} --> svc')
        for ip in spec.get("externalIPs") or []:
            lines.append(f'  h2(["client"]) --> x["externalIP {ip}:{port.get("port")}"] --> svc')
        i = 0
        for s in slices:
            for ep in s.get("endpoints") or []:
                pod = (ep.get("targetRef") or {}).get("name", "?")
                for addr in ep.get("addresses") or []:
                    i += 1
                    lines.append(f'  svc -- "targetPort {port.get("targetPort", "")}" --> '
                                 f'p{i}["{pod}<br/>{addr}:{(s.get("ports") or [{}])[0].get("port", "")}"]')
        if not i:
            lines.append('  svc -.->|no endpoints| none["(no pods)"]')
    text = "```mermaid\n" + "\n".join(lines) + "\n```"
    display(Markdown(text))
