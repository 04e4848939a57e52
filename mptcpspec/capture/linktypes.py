"""Link layers: where the IP header starts in a packet of each supported LINKTYPE_.

Each decoder takes the captured bytes and returns the offset of the IP header, or -1 when the packet
carries something other than IPv4/IPv6 (ARP, LLDP, ...).  Slicing never raises on short data, so a cut
link header simply reads as "not IP".
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["LINKTYPE_NAMES", "LinkDecoder", "link_decoder"]

LinkDecoder = Callable[[bytes], int]

_IP_ETHERTYPES = frozenset({b"\x08\x00", b"\x86\xdd"})
_VLAN_ETHERTYPES = frozenset({b"\x81\x00", b"\x88\xa8", b"\x91\x00"})
_PPP_IP = frozenset({b"\x00\x21", b"\x00\x57"})
_AF_IP = frozenset(family.to_bytes(4, order) for family in (2, 10, 24, 28, 30) for order in ("little", "big"))
"""AF_INET (2) and every platform's AF_INET6 (Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30)."""


def _ethernet(data: bytes) -> int:
    """Ethernet II, skipping any number of 802.1Q / 802.1ad (QinQ) tags."""
    off = 12
    ethertype = data[12:14]
    while ethertype in _VLAN_ETHERTYPES:
        off += 4
        ethertype = data[off : off + 2]
    return off + 2 if ethertype in _IP_ETHERTYPES else -1


def _sll(data: bytes) -> int:
    """Linux cooked capture v1: 16-byte header, protocol at offset 14."""
    return 16 if data[14:16] in _IP_ETHERTYPES else -1


def _sll2(data: bytes) -> int:
    """Linux cooked capture v2 (``tcpdump -i any``): 20-byte header, protocol first."""
    return 20 if data[0:2] in _IP_ETHERTYPES else -1


def _null(data: bytes) -> int:
    """BSD loopback (NULL, host byte order) and OpenBSD LOOP (network order): a 4-byte address family."""
    return 4 if data[0:4] in _AF_IP else -1


def _raw(data: bytes) -> int:
    """No link header at all: the packet starts with the IP header."""
    return 0


def _ppp(data: bytes) -> int:
    """PPP, with or without the 0xff 0x03 address and control bytes."""
    if data[0:2] == b"\xff\x03":
        return 4 if data[2:4] in _PPP_IP else -1
    return 2 if data[0:2] in _PPP_IP else -1


_DECODERS: dict[int, LinkDecoder] = {
    0: _null,
    1: _ethernet,
    9: _ppp,
    12: _raw,
    14: _raw,
    50: _ppp,
    101: _raw,
    108: _null,
    113: _sll,
    228: _raw,
    229: _raw,
    276: _sll2,
}

LINKTYPE_NAMES = {
    0: "null",
    1: "ethernet",
    9: "ppp",
    12: "raw",
    14: "raw",
    50: "ppp-hdlc",
    101: "raw",
    108: "loop",
    113: "linux-sll",
    228: "ipv4",
    229: "ipv6",
    276: "linux-sll2",
}
"""Short names of the supported link types, keyed by LINKTYPE_ value."""


def link_decoder(linktype: int) -> LinkDecoder | None:
    """The decoder for ``linktype``, or None when the reader does not support it."""
    return _DECODERS.get(linktype)
