"""FileReports for the report-writer tests: a two-subflow v1 connection with findings of every verdict,
a clean IPv6 connection, and an unusable input.  Values are those of a real Linux path-failure
transfer (keys, tokens and DSNs computed with mptcpspec.spec.crypto where the keys are known)."""

from __future__ import annotations

from pathlib import Path

from mptcpspec.conformance.results import ConnectionSummary, FileReport, Note, SeriesPoint, SubflowSummary
from mptcpspec.spec.rules import Finding, Level, Rule, Verdict

CHECKSUM = Rule("dss.checksum", 8684, "3.3.1", Level.MUST, "the DSS checksum covers the data it maps")
BEYOND = Rule("data-ack.beyond-sent", 8684, "3.3.2", Level.MUST, "a DATA_ACK acknowledges only data sent")
ECHO = Rule("add-addr.echo-match", 8684, "3.4.1", Level.SHOULD, "an ADD_ADDR echo repeats the address")

KEY_A = 0x3B9C4E1FA2D07C55
TOKEN_A = 0x8E0B3A41


START = 1764070000.0


def _series() -> tuple[SeriesPoint, ...]:
    """sf1 carries the first 20 segments, sf2 the rest; segment 15 is re-sent on sf2 at 0.45 s."""
    points: list[SeriesPoint] = []
    for i in range(40):
        subflow = "sf1" if i < 20 else "sf2"
        points.append(SeriesPoint(10 + 2 * i, START + 0.01 * i, "A>B", subflow, "data", 1400 * i, 1400))
        ack_time = START + 0.01 * i + 0.005
        points.append(SeriesPoint(11 + 2 * i, ack_time, "B>A", subflow, "data_ack", 1400 * i, 0))
    points += [SeriesPoint(95, START + 0.45, "A>B", "sf2", "reinjection", 1400 * 15, 1400)]
    return tuple(sorted(points, key=lambda p: p.frame))


SUBFLOWS = (
    SubflowSummary(
        "sf1",
        ("10.232.1.1", 43512),
        ("10.232.2.1", 5201),
        "A",
        "initial",
        (0, 0),
        False,
        1,
        60,
        "rst",
        52,
        (28000, 0),
    ),
    SubflowSummary(
        "sf2",
        ("10.232.3.1", 50210),
        ("10.232.2.1", 5201),
        "A",
        "join",
        (2, 0),
        True,
        5,
        120,
        "fin",
        70,
        (29400, 0),
    ),
)

CONNECTION = ConnectionSummary(
    id="c1",
    version=1,
    client=("10.232.1.1", 43512),
    server=("10.232.2.1", 5201),
    keys=(KEY_A, None),
    tokens=(TOKEN_A, None),
    checksums=False,
    fallback=None,
    state="CLOSED",
    subflows=SUBFLOWS,
    data_bytes=(56000, 0),
    first_frame=1,
    last_frame=120,
    start_time=START,
    end_time=START + 0.6,
    checks=412,
    series=_series(),
)

CLEAN = ConnectionSummary(
    id="c2",
    version=0,
    client=("2001:db8::1", 40000),
    server=("2001:db8::2", 80),
    keys=(None, None),
    tokens=(None, None),
    checksums=None,
    fallback="no DSS on the first data segment",
    state="ESTABLISHED",
    subflows=(),
    data_bytes=(0, 0),
    first_frame=121,
    last_frame=130,
    start_time=1764070001.0,
    end_time=1764070001.5,
    checks=3,
)

FINDINGS = (
    Finding(
        CHECKSUM, Verdict.VIOLATION, (33, 34, 35, 40), "DSS checksum 0x1c2d, expected 0x9a0b", "c1", "sf2"
    ),
    Finding(CHECKSUM, Verdict.VIOLATION, (50,), "DSS checksum 0x0000, expected 0x4411", "c1", "sf2"),
    Finding(BEYOND, Verdict.UNDETERMINED, (70,), "DATA_ACK 90000 above 56000 sent; capture lost data", "c1"),
    Finding(
        ECHO, Verdict.NOTE, (80, 81), "echo of 10.232.3.1 id 2 arrived with port 0 (deviates from a SHOULD)"
    ),
)

REPORT = FileReport(
    path="traces/path-down.pcap",
    packets=130,
    connections=(CONNECTION, CLEAN),
    findings=FINDINGS,
    notes=(Note(130, "truncated", "last record cut after 20 of 66 bytes"),),
    seconds=0.25,
)

UNUSABLE = FileReport(path="notes.txt", packets=0, error="not a capture file (unknown magic 0x6e6f7465)")


def image_colors(path: Path) -> set[object]:
    """The RGB colours painted in an image file (to check what a plot or a screenshot shows)."""
    from PIL import Image

    with Image.open(path) as image:
        return {color for _, color in image.convert("RGB").getcolors(maxcolors=1 << 24) or ()}
