"""Text, JSON and JUnit writers of mptcpspec.conformance.report on reports of known content."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import pytest
from report_samples import FINDINGS, KEY_A, REPORT, TOKEN_A, UNUSABLE

from mptcpspec.conformance.report import (
    Summary,
    finding_comments,
    format_endpoint,
    format_file_text,
    format_frames,
    format_summary_text,
    reports_to_json,
    use_color,
)
from mptcpspec.conformance.report_junit import junit_document
from mptcpspec.conformance.results import FileReport


def test_format_frames_collapses_runs_and_limits() -> None:
    assert format_frames([35, 33, 34, 40, 40]) == "33-35,40"
    assert format_frames([]) == "-"
    assert format_frames(range(1, 40, 2), limit=3) == "1,3,5,+17 more"


def test_format_endpoint_brackets_ipv6() -> None:
    assert format_endpoint(("10.0.0.1", 80)) == "10.0.0.1:80"
    assert format_endpoint(("2001:db8::1", 443)) == "[2001:db8::1]:443"


def test_summary_counts_and_exit_status() -> None:
    summary = Summary.of([REPORT])
    assert (summary.files, summary.packets, summary.connections) == (1, 130, 2)
    assert (summary.violation, summary.undetermined, summary.note) == (2, 1, 1)
    assert summary.exit_status == 1
    assert Summary.of([UNUSABLE, REPORT]).exit_status == 2
    clean = Summary.of([FileReport(path="x.pcap", packets=3)])
    assert clean.exit_status == 0


def test_text_report_shows_connections_subflows_and_findings() -> None:
    text = format_file_text(REPORT)
    assert text.startswith("traces/path-down.pcap: 130 packets, 2 connections\n")
    assert "connection c1: MPTCP v1, 10.232.1.1:43512 -> 10.232.2.1:5201, state CLOSED" in text
    assert f"A 0x{KEY_A:016x} (token 0x{TOKEN_A:08x}); B unknown" in text
    assert "checksums off; fallback no; 412 checks evaluated" in text
    assert "A->B 56000 bytes, B->A 0 bytes; frames 1-120, 0.600 s" in text
    assert "    sf2  join, opened by A, backup, address ids 2/0, end fin\n" in text
    assert "      10.232.3.1:50210 -> 10.232.2.1:5201  frames 5-120, 70 packets, bytes 29400/0\n" in text
    assert "    sf1  initial, opened by A, address ids 0/0, end rst\n" in text
    assert "connection c2: MPTCP v0, [2001:db8::1]:40000 -> [2001:db8::2]:80" in text
    assert "fallback no DSS on the first data segment" in text
    assert "frame 33-35,40  violation  dss.checksum  (MUST, RFC 8684 §3.3.1)  c1/sf2" in text
    assert "DSS checksum 0x1c2d, expected 0x9a0b" in text
    assert "data-ack.beyond-sent  (MUST, RFC 8684 §3.3.2)  c1\n" in text
    assert "add-addr.echo-match  (SHOULD, RFC 8684 §3.4.1)  capture" in text
    assert "frame 130  truncated: last record cut after 20 of 66 bytes" in text
    assert text.endswith("file summary: 2 violations, 1 undetermined, 1 note\n")
    assert "\x1b[" not in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_text_report_of_unusable_input_and_colour() -> None:
    text = format_file_text(UNUSABLE, color=True)
    assert "error: not a capture file (unknown magic 0x6e6f7465)" in text
    assert "\x1b[1;31m" in text
    assert "\x1b[1;31mviolation\x1b[0m" in format_file_text(REPORT, color=True)
    line = format_summary_text(Summary.of([REPORT, UNUSABLE]))
    assert (
        line
        == "summary: 2 files, 1 unusable, 130 packets, 2 connections: 2 violations, 1 undetermined, 1 note\n"
    )


def test_use_color_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert use_color(Tty()) is True
    assert use_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(Tty()) is False


def test_json_document_shape() -> None:
    document = json.loads(reports_to_json([REPORT, UNUSABLE]))
    assert set(document) == {"files", "summary"}
    first, second = document["files"]
    assert set(first) == {"path", "packets", "connections", "findings", "notes", "error"}
    assert (first["path"], first["packets"], first["error"]) == ("traces/path-down.pcap", 130, None)
    assert first["findings"][0] == {
        "rule": "dss.checksum",
        "verdict": "violation",
        "level": "MUST",
        "frames": [33, 34, 35, 40],
        "connection": "c1",
        "subflow": "sf2",
        "message": "DSS checksum 0x1c2d, expected 0x9a0b",
        "rfc": "RFC 8684 §3.3.1",
        "section": "3.3.1",
    }
    c1 = first["connections"][0]
    assert c1["keys"] == {"a": f"0x{KEY_A:016x}", "b": None}
    assert c1["tokens"] == {"a": f"0x{TOKEN_A:08x}", "b": None}
    assert c1["data_bytes"] == {"a_to_b": 56000, "b_to_a": 0}
    assert c1["subflows"][1]["address_ids"] == {"initiator": 2, "responder": 0}
    assert c1["subflows"][1]["backup"] is True
    assert c1["subflows"][0]["end"] == "rst"
    assert "series" not in c1
    assert first["notes"] == [
        {"frame": 130, "kind": "truncated", "message": "last record cut after 20 of 66 bytes"}
    ]
    assert second["error"].startswith("not a capture file")
    assert document["summary"] == {
        "files": 2, "unusable": 1, "packets": 130, "connections": 2,
        "violation": 2, "undetermined": 1, "note": 1, "exit_status": 2,
    }  # fmt: skip


def test_json_is_deterministic_and_timing_is_opt_in() -> None:
    assert reports_to_json([REPORT]) == reports_to_json([REPORT])
    assert "seconds" not in json.loads(reports_to_json([REPORT]))["files"][0]
    assert json.loads(reports_to_json([REPORT], timing=True))["files"][0]["seconds"] == 0.25


def test_junit_one_suite_per_file_failures_for_violations() -> None:
    root = ET.fromstring(junit_document([REPORT, UNUSABLE]))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["traces/path-down.pcap", "notes.txt"]
    cases = {(c.get("classname"), c.get("name")): c for c in suites[0].findall("testcase")}
    assert set(cases) == {
        ("traces/path-down.pcap.c1", "dss.checksum"),
        ("traces/path-down.pcap.c1", "data-ack.beyond-sent"),
        ("traces/path-down.pcap.c2", "no findings"),
        ("traces/path-down.pcap.capture", "add-addr.echo-match"),
    }
    failure = cases["traces/path-down.pcap.c1", "dss.checksum"].find("failure")
    assert failure is not None
    assert failure.get("message") == "DSS checksum 0x1c2d, expected 0x9a0b"
    assert "frames 50 (violation): DSS checksum 0x0000, expected 0x4411" in (failure.text or "")
    assert cases["traces/path-down.pcap.c1", "data-ack.beyond-sent"].find("skipped") is not None
    passed = cases["traces/path-down.pcap.c2", "no findings"]
    assert [child.tag for child in passed] == ["system-out"]
    assert (suites[0].get("tests"), suites[0].get("failures"), suites[0].get("skipped")) == ("4", "1", "1")
    error = suites[1].find("testcase/error")
    assert error is not None and error.get("message", "").startswith("not a capture file")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "1")


def test_finding_comments_one_per_finding_on_each_frame() -> None:
    comments = finding_comments(FINDINGS)
    assert comments[33] == ["mptcpspec: dss.checksum violation: DSS checksum 0x1c2d, expected 0x9a0b"]
    assert comments[81] == [f"mptcpspec: add-addr.echo-match note: {FINDINGS[3].message}"]
    assert sorted(comments) == [33, 34, 35, 40, 50, 70, 80, 81]
