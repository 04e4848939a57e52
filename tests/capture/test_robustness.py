"""Broken input never breaks the reader: a capture cut at any byte, garbage after a valid header, and
mutated real captures give segments and notes, never an exception other than ``CaptureError`` at open.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from crafted import as_records, conversation
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mptcpspec.capture import CaptureError, NoteKind, open_capture
from mptcpspec.capture.writer import ip_packet, write_pcap, write_pcapng
from mptcpspec.spec.segment import Segment

FIXTURE = Path(__file__).parent / "fixtures" / "kernel-mptcp-sll2.pcap"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _small_captures() -> dict[str, bytes]:
    segments = conversation(4) + conversation(6)
    pcap, pcapng = io.BytesIO(), io.BytesIO()
    write_pcap(pcap, segments, "sll2")
    write_pcapng(pcapng, as_records([ip_packet(s) for s in segments], 101))
    return {"pcap": pcap.getvalue(), "pcapng": pcapng.getvalue()}


SMALL = _small_captures()
HEADER = {"pcap": 24, "pcapng": 12}


def read_all(data: bytes) -> tuple[list[Segment], list[str]] | None:
    """Segments and note kinds of ``data``, or None when it is not a capture (``CaptureError``)."""
    try:
        reader = open_capture(io.BytesIO(data))
    except CaptureError as error:
        assert str(error) and "\n" not in str(error)
        return None
    segments = list(reader.segments())
    frames = [s.frame for s in segments]
    assert frames == sorted(set(frames)) and all(1 <= f <= reader.packets for f in frames)
    assert all(note.frame >= 1 and note.message for note in reader.notes)
    return segments, [note.kind for note in reader.notes]


def _record_ends(fmt: str, data: bytes) -> set[int]:
    """Offsets where a record (pcap) or block (pcapng) ends: the only clean places to cut."""
    ends, at = set(), HEADER[fmt] if fmt == "pcap" else 0
    ends.add(at)
    while at < len(data):
        at += (
            16 + struct.unpack_from("<I", data, at + 8)[0]
            if fmt == "pcap"
            else struct.unpack_from("<I", data, at + 4)[0]
        )
        ends.add(at)
    return ends


@pytest.mark.parametrize("fmt", sorted(SMALL))
def test_cut_at_every_byte_offset(fmt: str) -> None:
    data = SMALL[fmt]
    full = read_all(data)
    assert full is not None and full[1] == []
    ends = _record_ends(fmt, data)
    for cut in range(len(data)):
        result = read_all(data[:cut])
        if cut < HEADER[fmt]:
            assert result is None
            continue
        assert result is not None
        segments, kinds = result
        assert segments == full[0][: len(segments)]  # a prefix of the full read, nothing invented
        assert kinds == ([] if cut in ends else [NoteKind.TRUNCATED_RECORD])


@FUZZ
@given(st.sampled_from(sorted(SMALL)), st.binary(max_size=2000))
@example("pcap", b"\x00" * 16)
@example("pcapng", b"\x01\x00\x00\x00\x0c\x00\x00\x00\x0c\x00\x00\x00")
def test_random_bytes_after_a_valid_header(fmt: str, tail: bytes) -> None:
    assert read_all(SMALL[fmt][: HEADER[fmt] if fmt == "pcap" else 28] + tail) is not None


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real or crafted capture with a few bytes overwritten, a slice deleted, or bytes inserted."""
    source = draw(st.sampled_from(["fixture", *sorted(SMALL)]))
    data = bytearray(FIXTURE.read_bytes() if source == "fixture" else SMALL[source])
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["set", "delete", "insert"]))
        if action == "set":
            data[at] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        if not data:
            break
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_captures_never_raise(data: bytes) -> None:
    read_all(data)
