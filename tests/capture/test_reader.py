"""The capture reader on crafted captures: every container format, link type and header variant.

Fixtures are written by ``mptcpspec.capture.writer`` from the Segments in ``crafted.py`` (or from raw
frames wrapped as records), so each test states exactly what is in the file it reads.
"""

from __future__ import annotations

import gzip
import io
import struct
from dataclasses import replace
from pathlib import Path

import pytest
from crafted import (
    T0,
    as_records,
    conversation,
    expected,
    ipv4_with_options,
    observed,
    pcapng_block,
    pcapng_idb,
    pcapng_shb,
    tsresol_option,
    udp_packet,
)

from mptcpspec.capture import CaptureError, NoteKind, open_capture
from mptcpspec.capture.writer import LINKTYPES, frame_packet, ip_packet, write_pcap, write_pcapng
from mptcpspec.spec.options import MpCapable
from mptcpspec.spec.segment import ACK, SYN, Segment

CONVERSATION = conversation(4) + conversation(6)


def _kinds(path: Path | io.BytesIO) -> tuple[list[str], object]:
    reader = open_capture(path)
    segments = list(reader.segments())
    return [note.kind for note in reader.notes], segments


@pytest.mark.parametrize("linktype", sorted(LINKTYPES))
def test_every_link_type_reads_back_what_was_written(tmp_path: Path, linktype: str) -> None:
    path = tmp_path / f"{linktype}.pcap"
    write_pcap(path, CONVERSATION, linktype)
    reader = open_capture(path)
    assert observed(reader.segments()) == expected(CONVERSATION)
    assert (reader.format, reader.linktype, reader.packets, reader.notes) == (
        "pcap",
        LINKTYPES[linktype],
        16,
        [],
    )


@pytest.mark.parametrize("linktype", [12, 14, 101, 228, 229])
def test_raw_ip_link_types(tmp_path: Path, linktype: int) -> None:
    version = 6 if linktype == 229 else 4
    segments = conversation(version)
    write_pcapng(tmp_path / "raw.pcapng", as_records([ip_packet(s) for s in segments], linktype))
    assert observed(open_capture(tmp_path / "raw.pcapng").segments()) == expected(segments)


@pytest.mark.parametrize(("byteorder", "nanosecond"), [("<", False), (">", False), ("<", True), (">", True)])
def test_pcap_byte_orders_and_nanosecond_timestamps(tmp_path: Path, byteorder: str, nanosecond: bool) -> None:
    path = tmp_path / "c.pcap"
    segments = conversation(4)
    write_pcap(path, segments, "raw", byteorder=byteorder, nanosecond=nanosecond)
    reader = open_capture(path)
    assert observed(reader.segments()) == expected(segments)
    units = 10**9 if nanosecond else 10**6
    assert [r.ts_ns for r in reader.records()] == [round(s.time * units) * (10**9 // units) for s in segments]


def test_gzip_file_and_streams(tmp_path: Path) -> None:
    plain = tmp_path / "c.pcap"
    write_pcap(plain, CONVERSATION, "sll2")
    packed = tmp_path / "c.pcap.gz.renamed"  # detection is by magic, not by name
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    want = expected(CONVERSATION)
    assert observed(open_capture(packed).segments()) == want
    stream = io.BytesIO(b"junk" + gzip.compress(plain.read_bytes()))
    stream.seek(4)
    reader = open_capture(stream)
    assert observed(reader.segments()) == want
    assert observed(reader.segments()) == want  # seekable: every pass starts at the capture again


class _Pipe:
    """A stream that cannot seek, like stdin."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._data.read(min(size, 7) if size > 0 else size)  # short reads, as a pipe gives


def test_non_seekable_stream_reads_once(tmp_path: Path) -> None:
    write_pcap(tmp_path / "c.pcap", CONVERSATION, "null")
    reader = open_capture(_Pipe(gzip.compress((tmp_path / "c.pcap").read_bytes())))
    assert observed(reader.segments()) == expected(CONVERSATION)
    with pytest.raises(ValueError, match="cannot seek"):
        list(reader.segments())


def test_pcapng_several_interfaces_with_different_link_types(tmp_path: Path) -> None:
    v4, v6 = conversation(4), conversation(6)
    eth = as_records([frame_packet(ip_packet(s), "ethernet") for s in v4], 1, interface=0)
    raw = as_records([ip_packet(s) for s in v6], 101, interface=1)
    merged = [
        rec._replace(frame=i + 1)
        for i, rec in enumerate(r for pair in zip(eth, raw, strict=True) for r in pair)
    ]
    write_pcapng(tmp_path / "m.pcapng", merged)
    reader = open_capture(tmp_path / "m.pcapng")
    got = list(reader.segments())
    assert (reader.format, reader.linktype, reader.packets) == ("pcapng", 1, 16)
    assert [s.frame for s in got] == list(range(1, 17))
    interleaved = [s for pair in zip(v4, v6, strict=True) for s in pair]
    assert [(s.src, s.seq, s.mptcp) for s in got] == [(s.src, s.seq, s.mptcp) for s in interleaved]


@pytest.mark.parametrize(
    ("tsresol", "ticks_per_second"), [(None, 10**6), (3, 10**3), (9, 10**9), (0x80 | 20, 2**20)]
)
def test_pcapng_timestamp_resolution(tmp_path: Path, tsresol: int | None, ticks_per_second: int) -> None:
    packet = ip_packet(conversation(4)[0])
    ticks = int(T0 * ticks_per_second)
    epb = struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(packet), len(packet)) + packet
    options = b"" if tsresol is None else tsresol_option(tsresol)
    (tmp_path / "t.pcapng").write_bytes(pcapng_shb() + pcapng_idb(101, options) + pcapng_block(6, epb))
    (segment,) = open_capture(tmp_path / "t.pcapng").segments()
    assert segment.time == pytest.approx(T0, abs=1 / ticks_per_second + 1e-6)


def test_pcapng_big_endian_with_simple_and_obsolete_packet_blocks(tmp_path: Path) -> None:
    first, second, third = (ip_packet(s) for s in conversation(4)[:3])
    ts = int(T0 * 10**6)
    epb = struct.pack(">IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(first), len(first)) + first
    spb = struct.pack(">I", len(second)) + second
    opb = struct.pack(">HHIIII", 0, 0, ts >> 32, (ts + 5) & 0xFFFFFFFF, len(third), len(third)) + third
    nrb = pcapng_block(4, b"\x00\x00\x00\x00", ">")  # name resolution block: skipped
    data = (
        pcapng_shb(">")
        + pcapng_idb(101, order=">")
        + nrb
        + pcapng_block(6, epb, ">")
        + pcapng_block(3, spb, ">")
        + pcapng_block(2, opb, ">")
    )
    (tmp_path / "be.pcapng").write_bytes(data)
    reader = open_capture(tmp_path / "be.pcapng")
    got = list(reader.segments())
    assert [s.frame for s in got] == [1, 2, 3]
    assert [(s.seq, s.mptcp) for s in got] == [(s.seq, s.mptcp) for s in conversation(4)[:3]]
    assert [s.time for s in got] == pytest.approx([T0, T0, T0 + 5e-6])
    assert [n.kind for n in reader.notes] == [NoteKind.NO_TIMESTAMP]


def test_pcapng_new_section_resets_interfaces(tmp_path: Path) -> None:
    v4 = conversation(4)
    part1 = (
        pcapng_shb() + pcapng_idb(1) + pcapng_block(6, struct.pack("<IIIII", 0, 0, 1, 0, 0))
    )  # empty packet on ethernet
    part2 = pcapng_shb(">") + pcapng_idb(101, order=">")
    ts = int(T0 * 10**6)
    packet = ip_packet(v4[0])
    part2 += pcapng_block(
        6, struct.pack(">IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(packet), len(packet)) + packet, ">"
    )
    (tmp_path / "s.pcapng").write_bytes(part1 + part2)
    reader = open_capture(tmp_path / "s.pcapng")
    got = list(reader.segments())
    assert [(s.frame, s.seq) for s in got] == [(2, 1000)]
    assert (reader.packets, reader.non_tcp, reader.notes) == (2, 1, [])


@pytest.mark.parametrize("vlans", [(10,), (10, 20), (1, 2, 3)])
def test_ethernet_vlan_tags(tmp_path: Path, vlans: tuple[int, ...]) -> None:
    write_pcap(tmp_path / "v.pcap", CONVERSATION, "ethernet", vlans=vlans)
    assert observed(open_capture(tmp_path / "v.pcap").segments()) == expected(CONVERSATION)


def test_ipv4_options_are_skipped_by_ihl(tmp_path: Path) -> None:
    segments = conversation(4)
    packets = [ipv4_with_options(ip_packet(s), b"\x94\x04\x00\x00" + b"\x01\x01\x01\x00") for s in segments]
    write_pcapng(tmp_path / "o.pcapng", as_records(packets, 101))
    assert observed(open_capture(tmp_path / "o.pcapng").segments()) == expected(segments)


def _ipv6_with_extensions(packet: bytes, chain: list[tuple[int, bytes]]) -> bytes:
    """Insert extension headers (type, body after the next-header byte) between the IPv6 header and TCP."""
    payload, nexts = packet[40:], [t for t, _ in chain[1:]] + [6]
    extensions = b"".join(bytes([nxt]) + body for (_, body), nxt in zip(chain, nexts, strict=True))
    head = packet[:4] + struct.pack("!HB", len(payload) + len(extensions), chain[0][0]) + packet[7:40]
    return head + extensions + payload


HOP_BY_HOP = (0, b"\x00" + b"\x01\x04\x00\x00\x00\x00")  # length 0 (8 bytes), PadN
ROUTING = (43, b"\x00\x00\x00" + bytes(4))  # type 0, segments left 0
DESTINATION = (60, b"\x01" + b"\x01\x0c" + bytes(12))  # length 1 (16 bytes), PadN
AH = (51, b"\x02\x00\x00" + bytes(12))  # payload length 2: (2 + 2) * 4 = 16 bytes


def test_ipv6_extension_headers(tmp_path: Path) -> None:
    segments = conversation(6)
    packets = [_ipv6_with_extensions(ip_packet(s), [HOP_BY_HOP, ROUTING, DESTINATION, AH]) for s in segments]
    write_pcapng(tmp_path / "x.pcapng", as_records(packets, 101))
    reader = open_capture(tmp_path / "x.pcapng")
    assert observed(reader.segments()) == expected(segments)
    assert reader.notes == []


def test_ip_fragments(tmp_path: Path) -> None:
    v4, v6 = conversation(4)[3], conversation(6)[3]
    first4 = bytearray(ip_packet(v4))
    first4[6] |= 0x20  # more fragments, offset 0
    later4 = bytearray(ip_packet(v4))
    later4[6:8] = struct.pack("!H", 0x2000 | 3)  # more fragments, offset 3 * 8 = 24 bytes
    first6 = _ipv6_with_extensions(ip_packet(v6), [(44, b"\x00\x00\x01" + bytes(4))])  # M=1, offset 0
    later6 = _ipv6_with_extensions(ip_packet(v6), [(44, b"\x00\x00\x10" + bytes(4))])  # offset 16
    write_pcapng(tmp_path / "f.pcapng", as_records([bytes(first4), bytes(later4), first6, later6], 101))
    reader = open_capture(tmp_path / "f.pcapng")
    got = list(reader.segments())
    assert [(s.frame, s.ip_version, s.payload) for s in got] == [
        (1, 4, b"hello mptcp"),
        (3, 6, b"hello mptcp"),
    ]
    assert [(n.frame, n.kind) for n in reader.notes] == [(f, NoteKind.IP_FRAGMENT) for f in (1, 2, 3, 4)]
    assert "offset 24" in reader.notes[1].message and "offset 16" in reader.notes[3].message


def test_snaplen_cut_payload_keeps_ip_length(tmp_path: Path) -> None:
    write_pcap(tmp_path / "s.pcap", CONVERSATION, "ethernet", snaplen=14 + 20 + 20 + 20 + 4)
    reader = open_capture(tmp_path / "s.pcap")
    got = [s for s in reader.segments() if s.ip_version == 4]
    with_data = [(s.payload_len, len(s.payload), s.payload_complete) for s in got if s.payload_len]
    assert with_data == [(11, 4, False), (2, 2, True)]
    assert [s.mptcp for s in got] == [s.mptcp for s in conversation(4)]  # options were complete
    assert any(n.kind == NoteKind.HEADER_CUT for n in reader.notes)  # IPv6 headers are longer: cut


@pytest.mark.parametrize(("snaplen", "what"), [(14 + 10, "IPv4 header"), (14 + 20 + 10, "TCP header"),
                                               (14 + 20 + 22, "TCP options")])  # fmt: skip
def test_snaplen_cut_headers_are_noted_and_skipped(tmp_path: Path, snaplen: int, what: str) -> None:
    write_pcap(tmp_path / "h.pcap", conversation(4)[:1], "ethernet", snaplen=snaplen)
    reader = open_capture(tmp_path / "h.pcap")
    assert list(reader.segments()) == []
    assert [(n.frame, n.kind) for n in reader.notes] == [(1, NoteKind.HEADER_CUT)]
    assert what in reader.notes[0].message


def test_ip_length_zero_falls_back_to_captured_length(tmp_path: Path) -> None:
    v4, v6 = bytearray(ip_packet(conversation(4)[3])), bytearray(ip_packet(conversation(6)[3]))
    v4[2:4], v6[4:6] = b"\x00\x00", b"\x00\x00"
    write_pcapng(tmp_path / "z.pcapng", as_records([bytes(v4), bytes(v6)], 101))
    reader = open_capture(tmp_path / "z.pcapng")
    assert [(s.payload_len, s.payload) for s in reader.segments()] == [(11, b"hello mptcp")] * 2
    assert [n.kind for n in reader.notes] == [NoteKind.IP_LENGTH_ZERO] * 2


def test_bad_ip_and_tcp_headers_are_noted(tmp_path: Path) -> None:
    good = ip_packet(conversation(4)[3])
    short_ihl = bytes([0x44]) + good[1:]
    total_below_ihl = good[:2] + b"\x00\x10" + good[4:]
    tcp_offset_low = good[:32] + bytes([0x40]) + good[33:]
    tcp_offset_high = good[:32] + bytes([0xF0]) + good[33:]  # 60 bytes of header, more than the packet
    packets = [short_ihl, total_below_ihl, tcp_offset_low, tcp_offset_high, good]
    write_pcapng(tmp_path / "b.pcapng", as_records(packets, 101))
    reader = open_capture(tmp_path / "b.pcapng")
    assert [s.frame for s in reader.segments()] == [5]
    kinds = [NoteKind.BAD_IP_HEADER] * 2 + [NoteKind.BAD_TCP_HEADER] * 2
    assert [(n.frame, n.kind) for n in reader.notes] == list(zip((1, 2, 3, 4), kinds, strict=True))


def test_non_tcp_is_counted_silently(tmp_path: Path) -> None:
    arp = bytes(12) + b"\x08\x06" + bytes(28)
    frames = [
        arp,
        frame_packet(udp_packet(), "ethernet"),
        frame_packet(ip_packet(conversation(4)[0]), "ethernet"),
    ]
    write_pcapng(tmp_path / "n.pcapng", as_records(frames, 1))
    reader = open_capture(tmp_path / "n.pcapng")
    assert [s.frame for s in reader.segments()] == [3]
    assert (reader.packets, reader.non_tcp, reader.notes) == (3, 2, [])


def test_unknown_link_type_noted_once_per_interface(tmp_path: Path) -> None:
    packet = ip_packet(conversation(4)[0])
    records = as_records([packet] * 3, 147, interface=0) + as_records([packet] * 2, 101, interface=1)
    records += as_records([packet], 148, interface=2)
    write_pcapng(tmp_path / "u.pcapng", [r._replace(frame=i + 1) for i, r in enumerate(records)])
    reader = open_capture(tmp_path / "u.pcapng")
    assert [s.frame for s in reader.segments()] == [4, 5]
    assert [(n.frame, n.kind) for n in reader.notes] == [
        (1, NoteKind.UNKNOWN_LINKTYPE),
        (6, NoteKind.UNKNOWN_LINKTYPE),
    ]
    assert reader.packets == 6


def test_mptcp_only_keeps_mptcp_flows_from_their_first_option(tmp_path: Path) -> None:
    segments = conversation(4)
    plain_first = replace(segments[6], time=T0 - 1, mptcp=())  # same flow, before its first MPTCP option
    write_pcap(tmp_path / "m.pcap", [plain_first, *segments], "raw")
    frames = [s.frame for s in open_capture(tmp_path / "m.pcap").segments(mptcp_only=True)]
    # frame 8 (plain ACK after the DATA_FIN) is kept, frame 9 (the plain flow to port 80) is not
    assert frames == [2, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize(
    "content", [b"", b"\xd4\xc3", b"hello, this is text\n", b"\x1f\x8b\x08\x00garbage", bytes(64)]
)
def test_not_a_capture_raises_capture_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "x").write_bytes(content)
    with pytest.raises(CaptureError) as error:
        open_capture(tmp_path / "x")
    assert "\n" not in str(error.value)


def test_missing_file_or_directory_raises_capture_error(tmp_path: Path) -> None:
    for path in (tmp_path / "absent.pcap", tmp_path):
        with pytest.raises(CaptureError, match="cannot open"):
            open_capture(path)


def test_pcap_garbage_record_length_stops_with_note(tmp_path: Path) -> None:
    write_pcap(tmp_path / "g.pcap", conversation(4), "raw")
    data = bytearray((tmp_path / "g.pcap").read_bytes())
    second = 24 + 16 + len(ip_packet(conversation(4)[0]))
    data[second + 8 : second + 12] = struct.pack("<I", 0x7FFFFFFF)
    (tmp_path / "g.pcap").write_bytes(bytes(data))
    reader = open_capture(tmp_path / "g.pcap")
    assert [s.frame for s in reader.segments()] == [1]
    assert [(n.frame, n.kind) for n in reader.notes] == [(2, NoteKind.GARBAGE_RECORD)]


def test_pcapng_corrupt_block_is_skipped_by_its_length(tmp_path: Path) -> None:
    write_pcapng(tmp_path / "c.pcapng", as_records([ip_packet(s) for s in conversation(4)], 101))
    data = bytearray((tmp_path / "c.pcapng").read_bytes())
    first_epb = data.index(struct.pack("<I", 6), 28 + 20)  # after the SHB (28 bytes) and the IDB
    length = struct.unpack_from("<I", data, first_epb + 4)[0]
    data[first_epb + length - 4 : first_epb + length] = b"\xff\xff\xff\xff"  # trailing length wrong
    (tmp_path / "c.pcapng").write_bytes(bytes(data))
    reader = open_capture(tmp_path / "c.pcapng")
    assert [s.frame for s in reader.segments()] == [1, 2, 3, 4, 5, 6, 7]
    assert [(n.frame, n.kind) for n in reader.notes] == [(1, NoteKind.GARBAGE_RECORD)]


def test_notes_per_kind_are_bounded(tmp_path: Path) -> None:
    later = bytearray(ip_packet(conversation(4)[3]))
    later[6:8] = struct.pack("!H", 8)
    write_pcapng(tmp_path / "many.pcapng", as_records([bytes(later)] * 1005, 101))
    reader = open_capture(tmp_path / "many.pcapng")
    assert list(reader.segments()) == []
    assert len(reader.notes) == 1001
    assert (reader.notes[-1].kind, reader.notes[-1].message) == (
        NoteKind.SUPPRESSED,
        "5 more ip-fragment notes",
    )


def test_records_are_the_stored_packets(tmp_path: Path) -> None:
    write_pcap(tmp_path / "r.pcap", conversation(4), "ethernet", snaplen=60)
    records = list(open_capture(tmp_path / "r.pcap").records())
    packets = [frame_packet(ip_packet(s), "ethernet") for s in conversation(4)]
    assert [(r.frame, r.interface, r.linktype) for r in records] == [(i, 0, 1) for i in range(1, 9)]
    assert [(r.data, r.orig_len) for r in records] == [(p[:60], len(p)) for p in packets]
    assert records[3].time == pytest.approx(conversation(4)[3].time, abs=1e-6)


def test_packets_counts_blocks_dropped_as_garbage(tmp_path: Path) -> None:
    packet = ip_packet(conversation(4)[0])
    write_pcapng(tmp_path / "p.pcapng", as_records([packet], 101))
    epb = struct.pack("<IIIII", 7, 0, 0, len(packet), len(packet)) + packet  # interface 7 does not exist
    with (tmp_path / "p.pcapng").open("ab") as out:
        out.write(pcapng_block(6, epb))
    reader = open_capture(tmp_path / "p.pcapng")
    assert [s.frame for s in reader.segments()] == [1]
    assert (reader.packets, [(n.frame, n.kind) for n in reader.notes]) == (2, [(2, NoteKind.GARBAGE_RECORD)])


def test_plain_syn_answered_with_mptcp_comes_out_before_its_answer(tmp_path: Path) -> None:
    """With mptcp_only, a SYN without MPTCP whose SYN/ACK carries MP_CAPABLE is still yielded (first)."""
    plain_syn = Segment(1, T0, 4, "10.0.0.1", "10.0.0.2", 40000, 80, 100, 0, SYN, 1000, 0)
    other_syn = replace(plain_syn, frame=2, sport=40001)  # never answered with MPTCP
    capable = (MpCapable(1, 0x01, sender_key=7),)
    synack = Segment(3, T0 + 0.001, 4, "10.0.0.2", "10.0.0.1", 80, 40000, 500, 101, SYN | ACK, 1000, 0,
                     mptcp=capable)  # fmt: skip
    path = tmp_path / "unsolicited.pcap"
    write_pcap(path, [plain_syn, other_syn, synack])
    frames = [s.frame for s in open_capture(path).segments(mptcp_only=True)]
    assert frames == [1, 3]
