"""The reader's native fast path (``capture/_speedups.c``) gives exactly what the Python decoder gives.

Every test reads the same bytes twice, once with the fast path and once with ``MPTCPSPEC_NO_SPEEDUPS``
set, and compares segments field by field, capture notes, packet and non-TCP counts: on the corpus, on
the public captures when present, on every link type and header shape the writer makes, and on
captures mutated at random bytes (cut headers, lying lengths, other protocols).  They skip only on a
machine with no C compiler; with one, a missing fast path is a failure.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import shutil
import struct
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crafted import (
    T0,
    as_records,
    conversation,
    pcapng_block,
    pcapng_idb,
    pcapng_shb,
    tsresol_option,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from public_traces import PUBLIC

from mptcpspec.capture import CaptureError, open_capture
from mptcpspec.capture.decode import NO_SPEEDUPS, speedups_available
from mptcpspec.capture.writer import LINKTYPES, frame_packet, ip_packet, write_pcap, write_pcapng
from mptcpspec.spec.segment import Segment

_COMPILER = shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0])
pytestmark = pytest.mark.skipif(
    _COMPILER is None, reason="no C compiler on this machine, so the install built no native fast path"
)

TRACES = Path(__file__).resolve().parents[2] / "traces"
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_Fields = tuple[object, ...]


def _fields(segment: Segment) -> _Fields:
    """Every field; option errors by class and text (they are exceptions, equal only to themselves)."""
    errors = tuple((type(e).__name__, str(e)) for e in segment.option_errors)
    return (
        segment.frame, segment.time, segment.ip_version, segment.src, segment.dst, segment.sport,
        segment.dport, segment.seq, segment.ack, segment.flags, segment.window, segment.payload_len,
        segment.payload, segment.tcp_options, segment.mptcp, errors,
    )  # fmt: skip


def _read(
    data: bytes, *, mptcp_only: bool
) -> tuple[list[_Fields], list[tuple[int, str, str]], int, int] | None:
    try:
        reader = open_capture(io.BytesIO(data))
    except CaptureError:
        return None
    segments = [_fields(s) for s in reader.segments(mptcp_only=mptcp_only)]
    notes = [(n.frame, str(n.kind), n.message) for n in reader.notes]
    return segments, notes, reader.packets, reader.non_tcp


def test_the_fast_path_is_built() -> None:
    built = importlib.util.find_spec("mptcpspec.capture._speedups") is not None
    assert built, f"{_COMPILER} is here but the native fast path was not built: reinstall"


def _both(data: bytes, monkeypatch: pytest.MonkeyPatch, *, mptcp_only: bool) -> Iterator[object]:
    with monkeypatch.context() as patch:
        patch.delenv(NO_SPEEDUPS, raising=False)
        assert speedups_available()
        fast = _read(data, mptcp_only=mptcp_only)
    with monkeypatch.context() as patch:
        patch.setenv(NO_SPEEDUPS, "1")
        assert not speedups_available()
        pure = _read(data, mptcp_only=mptcp_only)
    yield fast
    yield pure


def assert_same(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    for mptcp_only in (False, True):
        fast, pure = _both(data, monkeypatch, mptcp_only=mptcp_only)
        assert fast == pure


def _captures() -> list[Path]:
    found = sorted(p for p in TRACES.iterdir() if p.suffix in (".pcap", ".pcapng"))
    if PUBLIC.is_dir():
        found += sorted(p for p in PUBLIC.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return found


@pytest.mark.parametrize("path", _captures(), ids=lambda p: p.name)
def test_real_captures_decode_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    fast, _pure = _both(data, monkeypatch, mptcp_only=False)
    assert fast is not None and fast[0], "a capture with TCP segments"
    assert_same(data, monkeypatch)


def _written(link: str, version: int, vlans: int = 0, **options: Any) -> bytes:
    out = io.BytesIO()
    write_pcap(out, conversation(version), link, vlans=tuple(range(1, vlans + 1)), **options)
    return out.getvalue()


@pytest.mark.parametrize("link", sorted(LINKTYPES))
@pytest.mark.parametrize("version", [4, 6])
def test_every_link_type_decodes_the_same(link: str, version: int, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _written(link, version)
    fast, _pure = _both(data, monkeypatch, mptcp_only=False)
    assert fast is not None and len(fast[0]) == len(conversation(version))
    assert_same(data, monkeypatch)


def test_vlan_tags_decode_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(_written("ethernet", 4, vlans=2), monkeypatch)


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("nanosecond", [False, True])
@pytest.mark.parametrize("snaplen", [None, 54, 60, 80])
def test_timestamps_byte_orders_and_snaplens_decode_the_same(
    byteorder: str, nanosecond: bool, snaplen: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for version in (4, 6):
        data = _written("ethernet", version, byteorder=byteorder, nanosecond=nanosecond, snaplen=snaplen)
        assert_same(data, monkeypatch)


def _dss_fields() -> list[bytes]:
    """DSS options (RFC 8684 §3.3) with every flag byte, both reserved nibbles, and every length that
    fits in a TCP header, whole or not: the native DSS parser against ``parse_dss``."""
    found = []
    for flags in range(256):
        for low in (0, 5):
            for length in range(2, 29):
                body = bytes(range(1, 256))[: max(length - 4, 0)]
                option = bytes((30, length, 0x20 | low, flags)) + body
                found.append(option[: max(length, 2)])
    return found


def test_every_dss_layout_decodes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    template = conversation(4)[3]
    segments = []
    for i, option in enumerate(_dss_fields()):
        extra = b"\x01\x01\x08\x0a" + i.to_bytes(4, "big") + b"\x00\x00\x00\x01"  # NOP NOP timestamps
        field = (option + extra)[:40] if i % 2 else (extra + option)[:40]
        segments.append(dataclasses.replace(template, frame=i + 1, tcp_options=field, mptcp=()))
    out = io.BytesIO()
    write_pcap(out, segments, "sll2")
    fast, _pure = _both(out.getvalue(), monkeypatch, mptcp_only=False)
    assert fast is not None and len(fast[0]) == len(segments)
    assert_same(out.getvalue(), monkeypatch)


def _written_ng(link: str, version: int) -> bytes:
    out = io.BytesIO()
    frames = [frame_packet(ip_packet(s), link) for s in conversation(version)]
    write_pcapng(out, as_records(frames, LINKTYPES[link]))
    return out.getvalue()


@pytest.mark.parametrize("link", sorted(LINKTYPES))
@pytest.mark.parametrize("version", [4, 6])
def test_every_link_type_in_pcapng_decodes_the_same(
    link: str, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _written_ng(link, version)
    fast, _pure = _both(data, monkeypatch, mptcp_only=False)
    assert fast is not None and len(fast[0]) == len(conversation(version))
    assert_same(data, monkeypatch)


def _epb(order: str, interface: int, ticks: int, packet: bytes) -> bytes:
    head = struct.pack(order + "IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, len(packet), len(packet))
    return pcapng_block(6, head + packet, order)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("tsresol", [None, 3, 9, 0x80 | 20])
@pytest.mark.parametrize("tsoffset", [0, -5, 3600])
def test_pcapng_sections_resolutions_and_offsets_decode_the_same(
    order: str, tsresol: int | None, tsoffset: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two interfaces (one with the resolution under test), simple and obsolete packet blocks between
    enhanced ones, a second section: the fast path hands every block it does not take to Python."""
    packets = [ip_packet(s) for s in conversation(4)]
    options = b"" if tsresol is None else tsresol_option(tsresol, order)
    options += struct.pack(order + "HHq", 14, 8, tsoffset) if tsoffset else b""
    ticks = int(T0 * (2**20 if tsresol == 0x80 | 20 else 10 ** (tsresol or 6)))
    section = pcapng_shb(order) + pcapng_idb(101, order=order) + pcapng_idb(101, options, order)
    for i, packet in enumerate(packets):
        if i == 3:
            section += pcapng_block(3, struct.pack(order + "I", len(packet)) + packet, order)  # simple
        elif i == 5:
            obsolete = struct.pack(
                order + "HHIIII", 1, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(packet), len(packet)
            )
            section += pcapng_block(2, obsolete + packet, order)
        else:
            section += _epb(order, i % 2, ticks + i, packet)
    data = section + section
    fast, _pure = _both(data, monkeypatch, mptcp_only=False)
    assert fast is not None and len(fast[0]) == 2 * len(packets)
    assert_same(data, monkeypatch)


@FUZZ
@given(
    pcapng=st.booleans(),
    link=st.sampled_from(sorted(LINKTYPES)),
    version=st.sampled_from([4, 6]),
    edits=st.lists(st.tuples(st.integers(0, 2500), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.integers(0, 64),
)
def test_mutated_captures_decode_the_same(
    pcapng: bool, link: str, version: int, edits: list[tuple[int, int]], cut: int
) -> None:
    """Random bytes overwritten anywhere (record and block lengths included), and the file cut short:
    both paths agree on every segment and every note, pcap and pcapng."""
    data = bytearray(_written_ng(link, version) if pcapng else _written(link, version))
    for at, value in edits:
        if at < len(data):
            data[at] = value
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same(bytes(data[: len(data) - cut]), monkeypatch)
