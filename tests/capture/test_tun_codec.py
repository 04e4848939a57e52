"""Packets for TUN drivers (``mptcpspec.capture.tun``) and the reference endpoint's TCP options, checked
against dpkt's reading of them."""

from __future__ import annotations

import dpkt
from hypothesis import given
from hypothesis import strategies as st

from mptcpspec.capture.tun import packet_to_segment, segment_to_packet
from mptcpspec.reference.wire import peer_mss, peer_wscale, tcp_options
from mptcpspec.spec.options import Dss, MpCapable
from mptcpspec.spec.segment import ACK, PSH, SYN, Segment

OPTION_SETS = [
    (),
    (MpCapable(1, 0x01),),
    (Dss(data_ack=7, data_ack_wide=True, dsn=9, dsn_wide=True, ssn=1, data_level_length=3),),
]


ADDRESSES = [("10.1.2.3", "10.9.8.7"), ("fd00:1::3", "fd00:9::7")]


@given(
    st.sampled_from(OPTION_SETS),
    st.binary(max_size=1400),
    st.integers(0, 2**32 - 1),
    st.booleans(),
    st.sampled_from(ADDRESSES),
)
def test_encode_decode_round_trip_with_valid_checksums(
    options: tuple, payload: bytes, seq: int, syn: bool, addresses: tuple[str, str]
) -> None:
    version = 6 if ":" in addresses[0] else 4
    raw = tcp_options(1460 if syn else None, options, 7 if syn else None)
    flags = (SYN if syn else PSH) | ACK
    segment = Segment(
        0, 0.0, version, *addresses, 40000, 8080, seq, 12345, flags, 4000, len(payload), payload, raw, options
    )
    packet = segment_to_packet(segment)
    ip = dpkt.ip.IP(packet) if version == 4 else dpkt.ip6.IP6(packet)
    tcp = ip.data
    assert bytes(tcp.data) == payload and tcp.seq == seq and tcp.opts == raw
    sums = (ip.sum, tcp.sum) if version == 4 else (tcp.sum,)
    tcp.sum = 0
    if version == 4:
        ip.sum = 0
        repacked = dpkt.ip.IP(bytes(ip))  # dpkt fills in zero checksums
        assert (repacked.sum, repacked.data.sum) == sums
    else:
        assert dpkt.ip6.IP6(bytes(ip)).data.sum == sums[0]
    assert packet_to_segment(packet, 0, 0.0) == segment


def test_syn_options_carry_mss_and_window_scale() -> None:
    raw = tcp_options(1460, (MpCapable(1, 0x81),), 5)
    assert len(raw) % 4 == 0 and peer_mss(raw) == 1460 and peer_wscale(raw) == 5
    assert peer_wscale(tcp_options(1460, ())) is None


def test_non_tcp_packets_are_not_segments() -> None:
    udp = dpkt.ip.IP(src=b"\x0a\0\0\x01", dst=b"\x0a\0\0\x02", p=17, data=dpkt.udp.UDP(data=b"x"))
    assert packet_to_segment(bytes(udp), 0, 0.0) is None
    assert packet_to_segment(b"\x60" + bytes(39), 0, 0.0) is None  # IPv6, hop-by-hop header cut
