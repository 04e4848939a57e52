"""The HTML report of ``mptcpspec validate --report DIR``: one self-contained page per capture.

A page holds the connection table, then per connection its subflows, its sequence graph (inline SVG
from ``plot``; without matplotlib the page says how to get graphs) and its findings, then the rules
behind the findings with their RFC citation.  CSS is inline and nothing is loaded from elsewhere, so
the file can be mailed or archived as it is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..spec.rules import Finding, Rule
from .plot import PLOT_HINT, PlotUnavailable, connection_svg
from .report import Summary, format_endpoint, format_frames
from .results import ConnectionSummary, FileReport, SubflowSummary

__all__ = ["html_report", "index_html", "report_file_name", "write_html_report"]

_MAX_ROWS = 500
_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; padding: 0 1.5em; max-width: 1200px;
  color: #222; }
h1 { font-size: 1.4em; word-break: break-all; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0 1em; } th, td { padding: .2em .6em; text-align: left;
  border-bottom: 1px solid #e3e3e3; vertical-align: top; } th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } code, .mono { font-family: monospace; }
.badge { border-radius: .3em; padding: 0 .4em; color: #fff; font-weight: 600; white-space: nowrap; }
.violation .badge, .badge.violation { background: #c62828; }
.undetermined .badge, .badge.undetermined { background: #e67e00; }
.note .badge, .badge.note { background: #757575; } .badge.ok { background: #2e7d32; }
.hint { color: #555; font-style: italic; } .error { color: #c62828; font-weight: 600; }
figure.sequence-graph { margin: 0; } figure.sequence-graph svg { max-width: 100%; height: auto; }
"""


def report_file_name(path: str) -> str:
    """The page name for a capture: its base name made safe, plus ``.html``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).name or "capture") + ".html"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    """A table; cells are HTML already (escape before)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>\n" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>\n'


def _badges(summary: Summary) -> str:
    shown = [f'<span class="badge {v.value}">{text}</span>' for v, n, text in summary.verdicts() if n]
    return " ".join(shown) or '<span class="badge ok">no findings</span>'


def _key(key: int | None, token: int | None) -> str:
    if key is None:
        return "unknown" if token is None else f"unknown (token <code>0x{token:08x}</code>)"
    token_text = "" if token is None else f" (token <code>0x{token:08x}</code>)"
    return f"<code>0x{key:016x}</code>{token_text}"


def _connection_row(conn: ConnectionSummary, findings: Sequence[Finding]) -> list[str]:
    mine = [f for f in findings if f.connection == conn.id]
    return [
        f'<a href="#conn-{_e(conn.id)}">{_e(conn.id)}</a>',
        "?" if conn.version is None else f"v{conn.version}",
        _e(f"{format_endpoint(conn.client)} → {format_endpoint(conn.server)}"),
        _e(conn.state),
        str(len(conn.subflows)),
        f"{conn.data_bytes[0]} / {conn.data_bytes[1]}",
        {None: "?", True: "on", False: "off"}[conn.checksums],
        _e(conn.fallback or "no"),
        _badges(Summary.of_findings(mine)),
    ]  # fmt: skip


def _subflow_row(subflow: SubflowSummary) -> list[str]:
    ids = " / ".join("?" if i is None else str(i) for i in subflow.address_ids)
    return [
        _e(subflow.id),
        _e(subflow.kind),
        _e(f"{format_endpoint(subflow.initiator)} → {format_endpoint(subflow.responder)}"),
        ids,
        _e(subflow.opened_by),
        "yes" if subflow.backup else "no",
        _e(subflow.end),
        f"{subflow.first_frame}–{subflow.last_frame}",
        str(subflow.packets),
        f"{subflow.bytes_sent[0]} / {subflow.bytes_sent[1]}",
    ]


def _subflows(subflows: Sequence[SubflowSummary]) -> str:
    if not subflows:
        return '<p class="hint">No subflow was seen.</p>'
    headers = ["id", "kind", "path", "address ids", "opened by", "backup", "end", "frames", "packets",
               "bytes (→ / ←)"]  # fmt: skip
    return _table(headers, [_subflow_row(s) for s in subflows], "subflows")


def _findings_table(findings: Sequence[Finding]) -> str:
    rows = "".join(
        f'<tr class="finding {f.verdict.value}"><td class="mono">{_e(format_frames(f.frames, limit=12))}</td>'
        f'<td><span class="badge">{f.verdict.value}</span></td>'
        f'<td><a href="#rule-{_e(f.rule.id)}"><code>{_e(f.rule.id)}</code></a></td>'
        f"<td>{_e(f.rule.citation)}</td><td>{_e(f.subflow)}</td><td>{_e(f.message)}</td></tr>\n"
        for f in findings[:_MAX_ROWS]
    )
    more = len(findings) - _MAX_ROWS
    extra = f'<p class="hint">{more} more findings: see the JSON output.</p>' if more > 0 else ""
    head = "".join(
        f"<th>{h}</th>" for h in ("frames", "verdict", "rule", "RFC", "subflow", "observed / expected")
    )
    return f'<table class="findings"><thead><tr>{head}</tr></thead><tbody>\n{rows}</tbody></table>{extra}\n'


def _graph(conn: ConnectionSummary, findings: Sequence[Finding], salt: str) -> str:
    if not conn.series:
        why = "no data was sent" if conn.data_bytes == (0, 0) else "sequence data not recorded (series=False)"
        return f'<p class="hint">No sequence graph: {why}.</p>'
    try:
        svg = connection_svg(conn, findings, salt=salt)
    except PlotUnavailable:
        return f'<p class="hint no-graph">No sequence graph: {_e(PLOT_HINT)}.</p>'
    caption = (
        "Data sequence number over time per direction: one colour per subflow, diamonds mark reinjected "
        "data, the grey steps are the DATA_ACKs, dotted lines the findings."
    )
    return f'<figure class="sequence-graph">{svg}<figcaption>{caption}</figcaption></figure>'


def _connection_section(conn: ConnectionSummary, findings: Sequence[Finding], salt: str) -> str:
    mine = [f for f in findings if f.connection == conn.id]
    version = "version unknown" if conn.version is None else f"MPTCP v{conn.version}"
    parts = [
        f'<section class="connection" id="conn-{_e(conn.id)}">',
        f"<h2>Connection {_e(conn.id)}: {version}, {_e(format_endpoint(conn.client))} → "
        f"{_e(format_endpoint(conn.server))}</h2>",
        f"<p>Keys: A {_key(conn.keys[0], conn.tokens[0])}, B {_key(conn.keys[1], conn.tokens[1])}. "
        f"Frames {conn.first_frame}–{conn.last_frame}, {conn.end_time - conn.start_time:.3f} s, "
        f"{conn.checks} checks evaluated, final state {_e(conn.state)}.</p>",
        "<h3>Subflows</h3>",
        _subflows(conn.subflows),
        "<h3>Sequence graph</h3>",
        _graph(conn, mine, salt),
        "<h3>Findings</h3>",
        _findings_table(mine) if mine else '<p><span class="badge ok">no findings</span></p>',
        "</section>",
    ]  # fmt: skip
    return "\n".join(parts)


def _rules_section(findings: Sequence[Finding]) -> str:
    rules: dict[str, Rule] = {f.rule.id: f.rule for f in findings}
    items = "".join(
        f'<dt id="rule-{_e(rule.id)}"><code>{_e(rule.id)}</code> ({rule.level.value}, {_e(rule.citation)})'
        f"</dt><dd>{_e(rule.summary)}</dd>\n"
        for rule in sorted(rules.values(), key=lambda r: r.id)
    )
    return (
        f'<section id="rules"><h2>Rules behind the findings</h2><dl>\n{items}</dl></section>' if rules else ""
    )


def html_report(report: FileReport) -> str:
    """The whole self-contained page for one capture."""
    title = f"mptcpspec: {report.path}"
    count = len(report.connections)
    body = [
        f"<h1>{_e(report.path)}</h1>",
        f"<p>{report.packets} packets, {count} MPTCP connection{_s(count)}. "
        f"{_badges(Summary.of([report]))}</p>",
    ]
    if report.error is not None:
        body.append(f'<p class="error">Unusable input: {_e(report.error)}</p>')
    if report.connections:
        headers = ["id", "version", "client → server", "state", "subflows", "data bytes (A→B / B→A)",
                   "checksums", "fallback", "findings"]  # fmt: skip
        rows = [_connection_row(c, report.findings) for c in report.connections]
        body.append(_table(headers, rows, "connections"))
    body += [_connection_section(c, report.findings, report.path) for c in report.connections]
    known = {c.id for c in report.connections}
    outside = [f for f in report.findings if f.connection not in known]
    if outside:
        body += [
            '<section id="other-findings"><h2>Findings outside connections</h2>',
            _findings_table(outside),
        ]
        body.append("</section>")
    if report.notes:
        rows = [[str(n.frame), _e(n.kind), _e(n.message)] for n in report.notes[:_MAX_ROWS]]
        body += ["<h2>Capture notes</h2>", _table(["frame", "kind", "message"], rows, "notes")]
    body.append(_rules_section(report.findings))
    return _page(title, "\n".join(body))


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def write_html_report(report: FileReport, directory: str | Path, name: str | None = None) -> Path:
    """Write ``html_report(report)`` into ``directory`` (created if needed) as ``name`` (default
    ``report_file_name(report.path)``) and return the file's path."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name or report_file_name(report.path))
    target.write_text(html_report(report), encoding="utf-8")
    return target


def _file_status(report: FileReport) -> str:
    if report.error is not None:
        return f'<span class="error">{_e(report.error)}</span>'
    return _badges(Summary.of([report]))


def index_html(entries: Sequence[tuple[FileReport, str]]) -> str:
    """A page linking the reports of several captures: (report, page name) pairs, with their counts."""
    rows = [
        [
            f'<a href="{_e(page)}">{_e(report.path)}</a>',
            str(report.packets),
            str(len(report.connections)),
            _file_status(report),
        ]
        for report, page in entries
    ]
    summary = Summary.of(report for report, _ in entries)
    body = f"<h1>mptcpspec validation of {summary.files} captures</h1><p>{_badges(summary)}</p>\n" + _table(
        ["capture", "packets", "connections", "findings"], rows, "files"
    )
    return _page("mptcpspec validation", body)
