"""Soundness: what a real stack does, seen through an imperfect capture, is never a violation.

Each kernel capture of the corpus (and a few crafted conversations) is degraded the ways real captures
are: started mid-connection, one direction only, packets lost, payload cut by a small snaplen, TCP
checksums left unfinished by offload.  The degraded capture is written with the project's writer (or
cut with ``editcap -s``) and read back through the capture reader, and must give no violation.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import struct
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from mptcpspec.capture import open_capture
from mptcpspec.capture.writer import write_pcap
from mptcpspec.conformance.conversation import Conversation
from mptcpspec.conformance.replay import validate_file, validate_segments
from mptcpspec.spec.options import MpCapable, MpJoinSyn
from mptcpspec.spec.segment import Segment

TRACES = Path(__file__).resolve().parents[2] / "traces"
CORPUS = sorted(TRACES.glob("*.pcap*"))
Degrade = Callable[[Sequence[Segment]], list[Segment]]


def _crafted(tmp: Path) -> list[Path]:
    paths = []
    for version, checksum in ((1, True), (0, True), (1, False)):
        conv = Conversation(seed=version * 10 + checksum, version=version, checksum=checksum)
        conv.connect()
        conv.send("A", 20000)
        conv.join("A")
        conv.send("B", 30000, subflow=1, span=True)
        conv.reinject("B", conv.idsn("B") + 1, 5000, subflow=0)
        if version:
            conv.add_addr("B", 3, "10.0.3.3")
        conv.close()
        path = tmp / f"crafted-v{version}-{int(checksum)}.pcap"
        conv.write(str(path))
        paths.append(path)
    return paths


def _mid_connection(segments: Sequence[Segment]) -> list[Segment]:
    return list(segments[len(segments) // 3 :])


def _after_handshake(segments: Sequence[Segment]) -> list[Segment]:
    return list(segments[3:])


def _one_direction(segments: Sequence[Segment]) -> list[Segment]:
    first = segments[0]
    return [s for s in segments if (s.src, s.sport) == (first.src, first.sport) or s.src == first.src]


def _other_direction(segments: Sequence[Segment]) -> list[Segment]:
    first = segments[0]
    return [s for s in segments if s.src != first.src]


def _lossy(segments: Sequence[Segment]) -> list[Segment]:
    rng = random.Random(len(segments))
    return [s for s in segments if rng.random() >= 0.05]


DEGRADATIONS: dict[str, Degrade] = {
    "mid-connection": _mid_connection,
    "after-handshake": _after_handshake,
    "one-direction": _one_direction,
    "other-direction": _other_direction,
    "lose-5-percent": _lossy,
}


def _snaplen(segments: Sequence[Segment]) -> int | None:
    """A snaplen for rewriting ``segments`` as raw IP that keeps cut payloads cut (the writer would pad
    them with zeros) and cuts nothing else short of what the source kept."""
    cut = [
        (40 if s.ip_version == 6 else 20) + 20 + len(s.tcp_options) + len(s.payload)
        for s in segments
        if not s.payload_complete
    ]
    return min(cut) if cut else None


def _inputs(tmp_path: Path) -> list[Path]:
    return [*CORPUS, *_crafted(tmp_path)]


def _violations(path: Path) -> list[tuple[str, tuple[int, ...], str]]:
    report = validate_file(path)
    assert report.error is None
    return [(f.rule.id, f.frames, f.message) for f in report.findings if f.is_violation]


@pytest.mark.parametrize("name", sorted(DEGRADATIONS))
def test_degraded_captures_give_no_violation(name: str, tmp_path: Path) -> None:
    for source in _inputs(tmp_path):
        segments = list(open_capture(source).segments())
        degraded = DEGRADATIONS[name](segments)
        out = tmp_path / f"{source.stem}-{name}.pcap"
        write_pcap(out, degraded, snaplen=_snaplen(segments))
        assert _violations(out) == [], source.name


@pytest.mark.parametrize("snaplen", [64, 96])
def test_small_snaplen_gives_no_violation(snaplen: int, tmp_path: Path) -> None:
    editcap = shutil.which("editcap")
    for source in _inputs(tmp_path):
        out = tmp_path / f"{source.stem}-s{snaplen}.pcap"
        if editcap:
            subprocess.run([editcap, "-F", "pcap", "-s", str(snaplen), str(source), str(out)], check=True)
        else:
            write_pcap(out, open_capture(source).segments(), snaplen=snaplen)
        assert _violations(out) == [], source.name


def _spoil_tcp_checksums(path: Path) -> None:
    """Flip the TCP checksum of every packet of a raw-IP pcap, as checksum offload leaves outgoing ones."""
    data = bytearray(path.read_bytes())
    offset = 24
    while offset + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, offset + 8)[0]
        packet = offset + 16
        ihl = (data[packet] & 0x0F) * 4 if data[packet] >> 4 == 4 else 40
        if packet + ihl + 18 <= len(data):
            data[packet + ihl + 16] ^= 0xFF
        offset = packet + caplen
    path.write_bytes(bytes(data))


def test_unfinished_tcp_checksums_give_no_violation(tmp_path: Path) -> None:
    for source in _inputs(tmp_path):
        out = tmp_path / f"{source.stem}-badsum.pcap"
        segments = list(open_capture(source).segments())
        write_pcap(out, segments, snaplen=_snaplen(segments))
        _spoil_tcp_checksums(out)
        assert len(list(open_capture(out).segments())) > 0
        assert _violations(out) == [], source.name


@pytest.mark.skipif(not (TRACES / "gso-on.pcap").exists(), reason="no GSO capture in the corpus")
def test_gso_super_segments_are_judged_like_their_pieces() -> None:
    on, off = validate_file(TRACES / "gso-on.pcap"), validate_file(TRACES / "gso-off.pcap")
    assert on.violations == off.violations == 0
    assert on.connections[0].data_bytes == off.connections[0].data_bytes


def test_segments_coalesced_on_receive_are_judged_by_their_first_mapping_only() -> None:
    """GRO hands the capture one segment for two, with the first one's options: the bytes of the second
    belong to another mapping (here a DSN far away), so they must not be judged as the first's."""
    conv = Conversation(seed=21)
    conv.connect()
    conv.send("B", 100)
    conv.join("A")
    (first, _) = conv.send("A", 1000, subflow=1)
    conv.send("A", 1000, subflow=0)
    (second, _) = conv.send("A", 1000, subflow=1)
    one, two = conv.segment(first), conv.segment(second)
    merged = dataclasses.replace(one, payload=one.payload + two.payload, payload_len=one.payload_len * 2)
    segments = [merged if s.frame == first else s for s in conv.segments if s.frame != second]
    report = validate_segments(segments)
    assert report.violations == 0
    (conn,) = report.connections
    assert conn.data_bytes[0] == 2000  # the last 1000 bytes lost their mapping to GRO: not counted


def _with_inserted(conv: Conversation, after: int, seg: Segment) -> list[Segment]:
    """The conversation with ``seg`` inserted after frame ``after`` and frames renumbered."""
    segments = list(conv.segments)
    segments.insert(after, seg)
    return [dataclasses.replace(s, frame=i + 1) for i, s in enumerate(segments)]


def test_a_client_retrying_with_v0_may_get_the_answer_to_its_v1_syn() -> None:
    conv = Conversation(seed=31)
    conv.connect()
    conv.send("A", 500)
    conv.send("B", 500)
    retry = conv.with_option(1, MpCapable(0, 0x01, 0x0BAD_0BAD_0BAD_0BAD)).segment(1)
    report = validate_segments(_with_inserted(conv, 1, retry))
    assert report.violations == 0 and report.connections[0].version == 1


def test_a_join_syn_retransmitted_with_a_fresh_nonce_is_answered_either_way() -> None:
    conv = Conversation(seed=32)
    conv.connect()
    conv.send("B", 100)
    frames = conv.join("A")
    syn = conv.segment(frames[0])
    join = syn.mptcp[0]
    assert isinstance(join, MpJoinSyn)
    earlier = conv.with_option(frames[0], dataclasses.replace(join, nonce=join.nonce ^ 0xFFFF)).segment(
        frames[0]
    )
    report = validate_segments(_with_inserted(conv, frames[0] - 1, earlier))
    assert report.violations == 0 and len(report.connections[0].subflows) == 2
