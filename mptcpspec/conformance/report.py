"""Report writers for ``mptcpspec validate``: text, JSON and annotated pcapng (JUnit XML is in
``report_junit``, the HTML report in ``report_html``).

Every writer takes ``FileReport``s (``mptcpspec.conformance.results``) and formats them; nothing here
validates anything.  The text report is the default output; it is meant for 80-100 columns and uses
colour only when asked (``use_color`` decides for a stream).  The JSON document is deterministic:
the same reports give the same bytes (timings only with ``timing=True``).
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from ..capture.writer import write_annotated
from ..spec.rules import Finding, Verdict
from .results import ConnectionSummary, Endpoint, FileReport, SubflowSummary

__all__ = [
    "Summary",
    "annotate_capture",
    "file_to_dict",
    "finding_comments",
    "format_endpoint",
    "format_file_text",
    "format_frames",
    "format_summary_text",
    "reports_to_json",
    "use_color",
]

_COLORS = {Verdict.VIOLATION: "1;31", Verdict.UNDETERMINED: "33", Verdict.NOTE: "36"}
_WIDTH = 100


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts over a run of ``validate``: files, connections and findings per verdict."""

    files: int = 0
    unusable: int = 0
    packets: int = 0
    connections: int = 0
    violation: int = 0
    undetermined: int = 0
    note: int = 0

    @classmethod
    def of(cls, reports: Iterable[FileReport]) -> Summary:
        """The summary of ``reports``."""
        summary = cls()
        for report in reports:
            summary = summary.add(report)
        return summary

    @classmethod
    def of_findings(cls, findings: Iterable[Finding]) -> Summary:
        """Only the counts per verdict of ``findings``."""
        counts = {verdict: 0 for verdict in Verdict}
        for finding in findings:
            counts[finding.verdict] += 1
        return cls(
            violation=counts[Verdict.VIOLATION],
            undetermined=counts[Verdict.UNDETERMINED],
            note=counts[Verdict.NOTE],
        )

    def add(self, report: FileReport) -> Summary:
        """This summary with ``report`` counted too (for writers that stream file by file)."""
        counts = Summary.of_findings(report.findings)
        return replace(
            self,
            files=self.files + 1,
            unusable=self.unusable + (report.error is not None),
            packets=self.packets + report.packets,
            connections=self.connections + len(report.connections),
            violation=self.violation + counts.violation,
            undetermined=self.undetermined + counts.undetermined,
            note=self.note + counts.note,
        )

    def verdicts(self) -> list[tuple[Verdict, int, str]]:
        """(verdict, count, text) per verdict, text like ``2 violations``, ``1 undetermined``."""
        counts = ((Verdict.VIOLATION, self.violation), (Verdict.UNDETERMINED, self.undetermined),
                  (Verdict.NOTE, self.note))  # fmt: skip
        return [
            (v, n, f"{n} {v.value}" if n == 1 or v is Verdict.UNDETERMINED else f"{n} {v.value}s")
            for v, n in counts
        ]

    @property
    def exit_status(self) -> int:
        """``validate``'s exit status: 2 when an input was unusable, else 1 on any violation, else 0."""
        if self.unusable:
            return 2
        return 1 if self.violation else 0

    def to_dict(self) -> dict[str, int]:
        return {
            "files": self.files,
            "unusable": self.unusable,
            "packets": self.packets,
            "connections": self.connections,
            "violation": self.violation,
            "undetermined": self.undetermined,
            "note": self.note,
            "exit_status": self.exit_status,
        }


def use_color(stream: TextIO) -> bool:
    """Whether to colour output written to ``stream``: a terminal, and neither NO_COLOR nor TERM=dumb."""
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def format_endpoint(endpoint: Endpoint) -> str:
    """``10.0.0.1:80`` or ``[2001:db8::1]:80``."""
    address, port = endpoint
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def format_frames(frames: Sequence[int], limit: int = 8) -> str:
    """Frame numbers with runs collapsed (``3-5,9``), at most ``limit`` items then ``+N more``."""
    items: list[str] = []
    start = prev = None
    for frame in [*sorted(set(frames)), None]:
        if prev is not None and frame == prev + 1:
            prev = frame
            continue
        if start is not None and prev is not None:
            items.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = frame
    if not items:
        return "-"
    extra = f",+{len(items) - limit} more" if len(items) > limit else ""
    return ",".join(items[:limit]) + extra


def _hex(value: int | None, digits: int) -> str | None:
    return None if value is None else f"0x{value:0{digits}x}"


def _paint(text: str, verdict: Verdict, color: bool) -> str:
    return f"\x1b[{_COLORS[verdict]}m{text}\x1b[0m" if color else text


def _bold(text: str, color: bool) -> str:
    return f"\x1b[1m{text}\x1b[0m" if color else text


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --- text ------------------------------------------------------------------------------------------


def _key_text(key: int | None, token: int | None) -> str:
    if key is None:
        return "unknown" if token is None else f"unknown (token {_hex(token, 8)})"
    return f"{_hex(key, 16)} (token {_hex(token, 8)})"


def _subflow_lines(subflow: SubflowSummary) -> list[str]:
    """Two lines: what the subflow is and how it ended, then its path and its traffic."""
    ids = "/".join("?" if i is None else str(i) for i in subflow.address_ids)
    backup = ", backup" if subflow.backup else ""
    path = f"{format_endpoint(subflow.initiator)} -> {format_endpoint(subflow.responder)}"
    return [
        f"    {subflow.id}  {subflow.kind}, opened by {subflow.opened_by}{backup}, address ids {ids}, "
        f"end {subflow.end}",
        f"      {path}  frames {subflow.first_frame}-{subflow.last_frame}, "
        f"{_plural(subflow.packets, 'packet')}, bytes {subflow.bytes_sent[0]}/{subflow.bytes_sent[1]}",
    ]


def _connection_lines(conn: ConnectionSummary, color: bool) -> list[str]:
    version = "version unknown" if conn.version is None else f"MPTCP v{conn.version}"
    checksums = {None: "unknown", True: "on", False: "off"}[conn.checksums]
    head = f"connection {conn.id}: {version}, {format_endpoint(conn.client)} -> "
    lines = [
        _bold(head + f"{format_endpoint(conn.server)}, state {conn.state}", color),
        f"  keys      A {_key_text(conn.keys[0], conn.tokens[0])}; "
        f"B {_key_text(conn.keys[1], conn.tokens[1])}",
        f"  checksums {checksums}; fallback {conn.fallback or 'no'}; "
        f"{_plural(conn.checks, 'check')} evaluated",
        f"  data      A->B {conn.data_bytes[0]} bytes, B->A {conn.data_bytes[1]} bytes; "
        f"frames {conn.first_frame}-{conn.last_frame}, {conn.end_time - conn.start_time:.3f} s",
        f"  subflows  {len(conn.subflows)}",
    ]
    for subflow in conn.subflows:
        lines += _subflow_lines(subflow)
    return lines


def _where(finding: Finding) -> str:
    """``c1/sf2``, or the subflow alone when its name already starts with the connection's."""
    if finding.subflow.startswith(f"{finding.connection}/"):
        return finding.subflow
    return "/".join(part for part in (finding.connection, finding.subflow) if part) or "capture"


def _finding_lines(finding: Finding, color: bool) -> list[str]:
    where = _where(finding)
    verdict = _paint(finding.verdict.value, finding.verdict, color)
    head = (
        f"frame {format_frames(finding.frames)}  {verdict}  "
        f"{finding.rule.id}  ({finding.rule.level.value}, {finding.rule.citation})  {where}"
    )
    body = textwrap.wrap(finding.message, _WIDTH - 6, initial_indent="      ", subsequent_indent="      ")
    return ["  " + head, *body]


def format_file_text(report: FileReport, *, color: bool = False) -> str:
    """The text report of one file: header, connections, findings, capture notes, file summary."""
    counts = Summary.of([report])
    lines = [
        _bold(
            f"{report.path}: {_plural(report.packets, 'packet')}, "
            f"{_plural(len(report.connections), 'connection')}",
            color,
        )
    ]
    if report.error is not None:
        lines.append(_paint(f"  error: {report.error}", Verdict.VIOLATION, color))
    for conn in report.connections:
        lines += _connection_lines(conn, color)
    if report.findings:
        lines.append("findings")
        for finding in report.findings:
            lines += _finding_lines(finding, color)
    if report.notes:
        lines.append("capture notes")
        lines += [f"  frame {note.frame}  {note.kind}: {note.message}" for note in report.notes]
    lines.append(f"file summary: {_verdict_counts(counts, color)}")
    return "\n".join(lines) + "\n"


def _verdict_counts(summary: Summary, color: bool) -> str:
    return ", ".join(_paint(text, verdict, color and n > 0) for verdict, n, text in summary.verdicts())


def format_summary_text(summary: Summary, *, color: bool = False) -> str:
    """The closing line of a run: files, connections, findings per verdict, unusable inputs."""
    unusable = f", {summary.unusable} unusable" if summary.unusable else ""
    return (
        f"summary: {_plural(summary.files, 'file')}{unusable}, {_plural(summary.packets, 'packet')}, "
        f"{_plural(summary.connections, 'connection')}: {_verdict_counts(summary, color)}\n"
    )


# --- JSON ------------------------------------------------------------------------------------------


def _endpoint_dict(endpoint: Endpoint) -> dict[str, object]:
    return {"address": endpoint[0], "port": endpoint[1]}


def _subflow_dict(subflow: SubflowSummary) -> dict[str, object]:
    return {
        "id": subflow.id,
        "kind": subflow.kind,
        "opened_by": subflow.opened_by,
        "initiator": _endpoint_dict(subflow.initiator),
        "responder": _endpoint_dict(subflow.responder),
        "address_ids": {"initiator": subflow.address_ids[0], "responder": subflow.address_ids[1]},
        "backup": subflow.backup,
        "end": subflow.end,
        "first_frame": subflow.first_frame,
        "last_frame": subflow.last_frame,
        "packets": subflow.packets,
        "bytes": {
            "initiator_to_responder": subflow.bytes_sent[0],
            "responder_to_initiator": subflow.bytes_sent[1],
        },
    }


def _connection_dict(conn: ConnectionSummary) -> dict[str, object]:
    return {
        "id": conn.id,
        "version": conn.version,
        "client": _endpoint_dict(conn.client),
        "server": _endpoint_dict(conn.server),
        "keys": {"a": _hex(conn.keys[0], 16), "b": _hex(conn.keys[1], 16)},
        "tokens": {"a": _hex(conn.tokens[0], 8), "b": _hex(conn.tokens[1], 8)},
        "checksums": conn.checksums,
        "fallback": conn.fallback,
        "state": conn.state,
        "data_bytes": {"a_to_b": conn.data_bytes[0], "b_to_a": conn.data_bytes[1]},
        "first_frame": conn.first_frame,
        "last_frame": conn.last_frame,
        "start_time": conn.start_time,
        "end_time": conn.end_time,
        "checks": conn.checks,
        "subflows": [_subflow_dict(s) for s in conn.subflows],
    }


def _finding_dict(finding: Finding) -> dict[str, object]:
    return {
        "rule": finding.rule.id,
        "verdict": finding.verdict.value,
        "level": finding.rule.level.value,
        "frames": list(finding.frames),
        "connection": finding.connection,
        "subflow": finding.subflow,
        "message": finding.message,
        "rfc": finding.rule.citation,
        "section": finding.rule.section,
    }


def file_to_dict(report: FileReport, *, timing: bool = False) -> dict[str, object]:
    """One element of the JSON document's ``files`` list."""
    result: dict[str, object] = {
        "path": report.path,
        "packets": report.packets,
        "connections": [_connection_dict(c) for c in report.connections],
        "findings": [_finding_dict(f) for f in report.findings],
        "notes": [{"frame": n.frame, "kind": n.kind, "message": n.message} for n in report.notes],
        "error": report.error,
    }
    if timing:
        result["seconds"] = report.seconds
    return result


def reports_to_json(reports: Iterable[FileReport], *, timing: bool = False) -> str:
    """The one JSON document of ``validate --format json``: ``{"files": [...], "summary": {...}}``."""
    files = list(reports)
    document = {
        "files": [file_to_dict(r, timing=timing) for r in files],
        "summary": Summary.of(files).to_dict(),
    }
    return json.dumps(document, indent=2) + "\n"


# --- annotations -----------------------------------------------------------------------------------


def finding_comments(findings: Iterable[Finding]) -> Mapping[int, Sequence[str]]:
    """Packet comments for an annotated capture: ``mptcpspec: <rule> <verdict>: <message>`` on every
    frame of every finding, in finding order."""
    comments: dict[int, list[str]] = {}
    for finding in findings:
        text = f"mptcpspec: {finding.rule.id} {finding.verdict.value}: {finding.message}"
        for frame in dict.fromkeys(finding.frames):
            comments.setdefault(frame, []).append(text)
    return comments


def annotate_capture(report: FileReport, out: str | Path) -> int:
    """Copy ``report``'s capture to pcapng ``out`` with ``finding_comments`` on its frames, so that
    Wireshark shows them (``frame.comment``); returns how many frames got a comment."""
    comments = finding_comments(report.findings)
    write_annotated(report.path, out, comments)
    return len(comments)
