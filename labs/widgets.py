"""Notebook widgets (ipywidgets): the check panel.

The panel shows the same results as `make check`, as an HTML table with a button to check again.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from .grading import FAILED, Report
from .reports import MARKS

_COLOURS = {"green": "#1a7f37", "red": "#cf222e", "yellow": "#9a6700"}


def report_html(reports: Sequence[Report]) -> str:
    rows = []
    for rep in reports:
        c = rep.counts
        rows.append(f"<tr><th colspan=3 style='text-align:left'>{html.escape(rep.title)} "
                    f"<small>({c['passed']} passed, {c['failed']} failed)</small></th></tr>")
        for r in rep.results:
            mark, colour = MARKS[r.status]
            if r.status == FAILED:
                detail = (f"<b>expected</b> {html.escape(r.expected)}<br>"
                          f"<b>found</b> {html.escape(r.found)}<br>"
                          f"<b>hint</b> {html.escape(r.hint)}")
            else:
                detail = f"<span style='opacity:.7'>{html.escape(r.found)}</span>"
            rows.append(f"<tr><td style='color:{_COLOURS[colour]};font-weight:bold'>{mark}</td>"
                        f"<td style='text-align:left'>{html.escape(r.title)}</td>"
                        f"<td style='text-align:left'>{detail}</td></tr>")
    return "<table class='lab-checks'>" + "".join(rows) + "</table>"


def check_panel(reports: Sequence[Report], recheck: Callable[[], Sequence[Report]] | None = None
                ) -> None:
    """Display the results, with a "Check again" button when ``recheck`` is given."""
    import ipywidgets as w
    from IPython.display import display

    out = w.HTML(report_html(reports))
    items: list[w.Widget] = [out]
    if recheck is not None:
        button = w.Button(description="Check again", icon="refresh")

        def again(_: w.Button) -> None:
            button.disabled = True
            try:
                out.value = report_html(recheck())
            finally:
                button.disabled = False

        button.on_click(again)
        items.insert(0, button)
    display(w.VBox(items))
