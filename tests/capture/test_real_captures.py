"""The reader on captures made by real tools: public MPTCP captures from other stacks, tcpdump captures
of the kernel's MPTCP made here (``tcpdump -i any`` writes SLL2, ``-y LINUX_SLL`` SLL), and the same
converted by ``editcap`` to pcapng and to nanosecond pcap.  tshark is the reference for what is there.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest
from crafted import observed
from kernel_capture import kernel_capture, unavailable_reason
from public_traces import PUBLIC

from mptcpspec.capture import open_capture
from mptcpspec.spec.options import MpJoinSyn

FIXTURES = Path(__file__).parent / "fixtures"
KERNEL_FIXTURE = FIXTURES / "kernel-mptcp-sll2.pcap"

# `tshark -r F -Y tcp | wc -l` for each public capture, computed once (tshark 4.x) and pinned here.
PUBLIC_TCP_FRAMES = {
    "CiscoCXSecurity__mptcp-abuse__neohapsis_mptcp_challenge.pcapng": 2353,
    "DomenicoVerde__MPTCProxy__mptcp.pcap": 19,
    "MPTCP-Lab__mptcp-nids-evasion-tests__SQLi_scenario2_r2_eth1.pcapng": 2805,
    "MPTCP-Lab__mptcp-nids-evasion-tests__SQLi_scenario3_r3_eth1.pcapng": 2201,
    "bbaugnies__DPI-MPTCP__flood.pcap": 10000,
    "bbaugnies__DPI-MPTCP__longer.pcapng": 48,
    "bbaugnies__DPI-MPTCP__mod_tok.pcap": 4,
    "bbaugnies__DPI-MPTCP__mp_capable.pcapng": 63,
    "bbaugnies__DPI-MPTCP__mp_key_change.pcap": 3,
    "bbaugnies__DPI-MPTCP__mp_rejected.pcap": 3,
    "bbaugnies__DPI-MPTCP__mp_rejected2.pcap": 4,
    "bbaugnies__DPI-MPTCP__short.pcapng": 10,
    "bbaugnies__DPI-MPTCP__wrongAdd_Addr.pcap": 5,
    "mozillazg__ptcpdump__mptcp.pcap": 14,
    "teto__pymptcpanalyzer__client_2.pcap": 2858,
    "teto__pymptcpanalyzer__client_2@2cf2eef.pcap": 1708,
    "teto__pymptcpanalyzer__iperf-mptcp-0-0.pcap": 2554,
    "teto__pymptcpanalyzer__server_2.pcap": 2892,
    "teto__pymptcpanalyzer__server_2@2cf2eef.pcap": 1714,
    "the-tcpdump-group__tcpdump__mptcp-aa-echo.pcap": 2,
    "the-tcpdump-group__tcpdump__mptcp-aa-v1.pcap": 22,
    "the-tcpdump-group__tcpdump__mptcp-dss-oobr.pcap": 1,
    "the-tcpdump-group__tcpdump__mptcp-fclose.pcap": 9,
    "the-tcpdump-group__tcpdump__mptcp-tcprst.pcap": 2,
    "the-tcpdump-group__tcpdump__mptcp-v0.pcap": 264,
    "the-tcpdump-group__tcpdump__mptcp-v1.pcap": 20,
}
TSHARK = shutil.which("tshark")
EDITCAP = shutil.which("editcap")
KERNEL = unavailable_reason()


def tshark_tcp(path: Path) -> list[tuple[int, int, int, int, int, int]]:
    """(frame, sport, dport, seq, ack, payload length) of every TCP frame, as tshark sees them."""
    out = subprocess.run(
        [TSHARK or "tshark", "-r", str(path), "-Y", "tcp", "-o", "tcp.relative_sequence_numbers:FALSE",
         "-T", "fields", "-e", "frame.number", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.seq",
         "-e", "tcp.ack", "-e", "tcp.len"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return [tuple(int(v or 0) for v in line.split("\t")) for line in out.splitlines()]  # type: ignore[misc]


def reader_tcp(path: Path) -> list[tuple[int, int, int, int, int, int]]:
    return [(s.frame, s.sport, s.dport, s.seq, s.ack, s.payload_len) for s in open_capture(path).segments()]


@pytest.mark.skipif(not PUBLIC.is_dir(), reason=f"public captures not present at {PUBLIC}")
@pytest.mark.parametrize("name", sorted(PUBLIC_TCP_FRAMES))
def test_public_capture_segment_count_matches_tshark(name: str) -> None:
    reader = open_capture(PUBLIC / name)
    segments = list(reader.segments())
    assert len(segments) == PUBLIC_TCP_FRAMES[name]
    assert reader.notes == []
    assert any(s.mptcp or s.option_errors for s in segments)


@pytest.mark.skipif(not PUBLIC.is_dir() or TSHARK is None, reason="public captures or tshark absent")
@pytest.mark.parametrize(
    "name",
    ["teto__pymptcpanalyzer__iperf-mptcp-0-0.pcap", "the-tcpdump-group__tcpdump__mptcp-v0.pcap",
     "MPTCP-Lab__mptcp-nids-evasion-tests__SQLi_scenario3_r3_eth1.pcapng"],
)  # fmt: skip
def test_public_capture_fields_match_tshark(name: str) -> None:
    assert reader_tcp(PUBLIC / name) == tshark_tcp(PUBLIC / name)


def test_kernel_fixture() -> None:
    """The committed tcpdump -i any capture: SLL2, ARP/UDP/ICMP around one MPTCP connection with a join."""
    reader = open_capture(KERNEL_FIXTURE)
    segments = list(reader.segments())
    assert (reader.linktype, reader.packets, len(segments), reader.notes) == (276, 61, 52, [])
    assert reader.non_tcp == 9
    assert sum(isinstance(o, MpJoinSyn) for s in segments for o in s.mptcp) == 1
    assert list(open_capture(KERNEL_FIXTURE).segments(mptcp_only=True)) == segments


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
def test_kernel_fixture_fields_match_tshark() -> None:
    assert reader_tcp(KERNEL_FIXTURE) == tshark_tcp(KERNEL_FIXTURE)


@pytest.mark.skipif(EDITCAP is None, reason="editcap is not installed")
@pytest.mark.parametrize("editcap_format", ["pcapng", "nsecpcap", "pcap"])
def test_editcap_conversions_read_the_same(tmp_path: Path, editcap_format: str) -> None:
    converted = tmp_path / f"converted.{editcap_format}"
    subprocess.run(
        [EDITCAP or "editcap", "-F", editcap_format, str(KERNEL_FIXTURE), str(converted)], check=True
    )
    packed = tmp_path / "converted.gz"
    packed.write_bytes(gzip.compress(converted.read_bytes()))
    want = observed(open_capture(KERNEL_FIXTURE).segments())
    assert observed(open_capture(converted).segments()) == want
    assert observed(open_capture(packed).segments()) == want


@pytest.mark.root
@pytest.mark.skipif(KERNEL is not None, reason=f"{KERNEL}")
@pytest.mark.parametrize(("tcpdump_args", "linktype"), [((), 276), (("-y", "LINUX_SLL"), 113)])
def test_tcpdump_capture_of_kernel_mptcp(
    tmp_path: Path, tcpdump_args: tuple[str, ...], linktype: int
) -> None:
    path = kernel_capture(tmp_path / "k.pcap", nbytes=50_000, tcpdump_args=tcpdump_args)
    reader = open_capture(path)
    segments = list(reader.segments())
    assert (reader.linktype, reader.notes) == (linktype, [])
    assert reader.non_tcp > 0  # the ARP, UDP and ICMP around the transfer
    assert {s.dport for s in segments if s.syn and not s.has_ack} == {5201}
    assert sum(isinstance(o, MpJoinSyn) for s in segments for o in s.mptcp) == 1
    assert sum(s.payload_len for s in segments if s.dport == 5201) == 50_000
    if TSHARK is not None:
        assert reader_tcp(path) == tshark_tcp(path)
