"""Annotated pcapng (``validate --annotate``): every finding is a packet comment that Wireshark shows."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from report_samples import BEYOND, CHECKSUM

from mptcpspec.capture import open_capture
from mptcpspec.conformance.conversation import Conversation
from mptcpspec.conformance.report import annotate_capture
from mptcpspec.conformance.results import FileReport
from mptcpspec.spec.rules import Finding, Verdict

TSHARK = shutil.which("tshark")
FINDINGS = (
    Finding(CHECKSUM, Verdict.VIOLATION, (4,), "DSS checksum 0x1111, expected 0x2222", "c1", "sf1"),
    Finding(BEYOND, Verdict.UNDETERMINED, (4, 6), "DATA_ACK above data sent; capture lost data", "c1"),
)


def comments_seen_by_tshark(path: Path) -> list[tuple[int, str]]:
    """(frame, comment) pairs as tshark reads them with the display filter ``frame.comment``."""
    assert TSHARK is not None
    fields = ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-e", "frame.number"]
    command = [TSHARK, "-r", str(path), "-Y", "frame.comment", *fields, "-e", "frame.comment"]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
    pairs = []
    for line in output.splitlines():
        frame, comments = line.split("\t", 1)
        pairs += [(int(frame), comment) for comment in comments.split("|")]
    return pairs


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    """A real v1 connection with data both ways, written by the project's own writer."""
    conv = Conversation(seed=3)
    conv.connect()
    conv.send("A", 500)
    conv.send("B", 1200)
    path = tmp_path / "conversation.pcap"
    conv.write(str(path))
    return path


def test_annotated_copy_keeps_every_frame(capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "annotated.pcapng"
    assert annotate_capture(FileReport(path=str(capture), packets=0, findings=FINDINGS), out) == 2
    original = [(s.frame, s.seq, s.payload) for s in open_capture(capture).segments()]
    assert [(s.frame, s.seq, s.payload) for s in open_capture(out).segments()] == original


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
def test_tshark_shows_one_comment_per_finding(capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "annotated.pcapng"
    annotate_capture(FileReport(path=str(capture), packets=0, findings=FINDINGS), out)
    assert comments_seen_by_tshark(out) == [
        (4, "mptcpspec: dss.checksum violation: DSS checksum 0x1111, expected 0x2222"),
        (4, "mptcpspec: data-ack.beyond-sent undetermined: DATA_ACK above data sent; capture lost data"),
        (6, "mptcpspec: data-ack.beyond-sent undetermined: DATA_ACK above data sent; capture lost data"),
    ]
