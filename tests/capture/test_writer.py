"""The writer: real packets (tshark agrees on checksums and options) and annotated pcapng copies."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from crafted import as_records, conversation, observed

from mptcpspec.capture import open_capture
from mptcpspec.capture.writer import frame_packet, ip_packet, write_annotated, write_pcap, write_pcapng
from mptcpspec.spec.options import serialize

TSHARK = shutil.which("tshark")
FIXTURE = Path(__file__).parent / "fixtures" / "kernel-mptcp-sll2.pcap"


def tshark(path: Path, *args: str) -> list[str]:
    out = subprocess.run(
        [TSHARK or "tshark", "-r", str(path), *args], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
@pytest.mark.parametrize("linktype", ["raw", "ethernet", "sll", "sll2", "null", "loop"])
def test_tshark_finds_valid_checksums_and_the_mptcp_options(tmp_path: Path, linktype: str) -> None:
    segments = conversation(4) + conversation(6)
    write_pcap(tmp_path / "w.pcap", segments, linktype, vlans=(3,) if linktype == "ethernet" else ())
    checks = ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"]
    good = "tcp.checksum.status == 1 && (ipv6 || ip.checksum.status == 1)"
    assert len(tshark(tmp_path / "w.pcap", *checks, "-Y", good)) == len(segments)
    subtype = "tcp.options.mptcp.subtype"
    subtypes = tshark(tmp_path / "w.pcap", "-Y", subtype, "-T", "fields", "-e", subtype)
    assert subtypes == ["0", "0", "0", "2", "2", "2"] * 2


def test_options_come_from_tcp_options_when_given(tmp_path: Path) -> None:
    syn = conversation(4)[0]
    raw = b"\x02\x04\x05\xb4\x01\x01" + serialize(syn.mptcp[0])  # MSS, NOP, NOP, MP_CAPABLE: 10 bytes
    write_pcap(tmp_path / "o.pcap", [replace(syn, tcp_options=raw)])
    (read,) = open_capture(tmp_path / "o.pcap").segments()
    assert (read.tcp_options, read.mptcp) == (raw + b"\x00\x00", syn.mptcp)  # zero-padded to 12


def test_too_many_option_bytes_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="40 at most"):
        ip_packet(replace(conversation(4)[0], tcp_options=b"\x01" * 41))


def test_unknown_framing_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown link type"):
        frame_packet(ip_packet(conversation(4)[0]), "token-ring")


def test_annotated_copy_keeps_every_frame_and_adds_comments(tmp_path: Path) -> None:
    out = tmp_path / "a.pcapng"
    assert write_annotated(FIXTURE, out, {8: ["MP_CAPABLE SYN/ACK"], 10: ["first", "second"]}) == 61
    source, copy = open_capture(FIXTURE), open_capture(out)
    assert [r[:4] + r[5:] for r in copy.records()] == [r[:4] + r[5:] for r in source.records()]
    assert observed(copy.segments()) == observed(source.segments())
    if TSHARK is not None:
        lines = tshark(
            out, "-Y", "frame.comment", "-T", "fields", "-e", "frame.number", "-e", "frame.comment"
        )
        assert lines == ["8\tMP_CAPABLE SYN/ACK", "10\tfirst,second"]


def test_annotated_copy_of_a_multi_interface_pcapng(tmp_path: Path) -> None:
    v4, v6 = conversation(4), conversation(6)
    records = as_records([frame_packet(ip_packet(s), "ethernet") for s in v4], 1, interface=0)
    records += as_records([ip_packet(s) for s in v6], 101, interface=1)
    records = [r._replace(frame=i + 1) for i, r in enumerate(records)]
    write_pcapng(tmp_path / "m.pcapng", records)
    write_annotated(tmp_path / "m.pcapng", tmp_path / "a.pcapng", {16: ["last"]})
    copy = list(open_capture(tmp_path / "a.pcapng").records())
    assert [(r.interface, r.linktype, r.ts_ns, r.data) for r in copy] == [
        (r.interface, r.linktype, r.ts_ns, r.data) for r in records
    ]
