"""The ``Segment``: one TCP segment as seen on the wire, the unit every part of mptcpspec works on.

Built by ``mptcpspec.capture`` from pcaps, by the reference endpoint from what it sends and receives,
and by the active suite from what it injects.  Immutable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import OptionError
from .options import MptcpOption

__all__ = ["ACK", "CWR", "ECE", "FIN", "PSH", "RST", "SYN", "URG", "Segment", "flags_text"]

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80

_FLAG_LETTERS = (
    (SYN, "S"),
    (FIN, "F"),
    (RST, "R"),
    (PSH, "P"),
    (ACK, "."),
    (URG, "U"),
    (ECE, "E"),
    (CWR, "W"),
)


def flags_text(flags: int) -> str:
    """tcpdump-style flag letters: ``S`` SYN, ``F`` FIN, ``R`` RST, ``P`` PSH, ``.`` ACK, ..."""
    return "".join(letter for bit, letter in _FLAG_LETTERS if flags & bit) or "none"


@dataclass(frozen=True, slots=True, init=False)
class Segment:
    """One TCP segment.

    ``payload_len`` is the TCP payload length the IP header announces; ``payload`` holds the bytes the
    capture kept, which may be fewer (snaplen).  ``mptcp`` holds the parsed MPTCP options (kind 30) in
    the order they appear; ``option_errors`` the options that did not parse, each a typed
    ``OptionError``.  ``frame`` is the 1-based packet number in the capture (0 when not from a capture),
    ``time`` seconds since the epoch.
    """

    frame: int
    time: float
    ip_version: int
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    payload_len: int
    payload: bytes = b""
    tcp_options: bytes = b""
    mptcp: tuple[MptcpOption, ...] = ()
    option_errors: tuple[OptionError, ...] = ()

    # The capture reader builds one Segment per packet, so construction is a hot path.  The frozen
    # dataclass __init__ goes through object.__setattr__ per field; writing the slots through their
    # member descriptors instead (bound below, after the class exists) halves the cost.  Behaviour is
    # that of the generated __init__: same parameters, same defaults, instances stay frozen.
    def __init__(
        self,
        frame: int,
        time: float,
        ip_version: int,
        src: str,
        dst: str,
        sport: int,
        dport: int,
        seq: int,
        ack: int,
        flags: int,
        window: int,
        payload_len: int,
        payload: bytes = b"",
        tcp_options: bytes = b"",
        mptcp: tuple[MptcpOption, ...] = (),
        option_errors: tuple[OptionError, ...] = (),
    ) -> None:
        _set_frame(self, frame)
        _set_time(self, time)
        _set_ip_version(self, ip_version)
        _set_src(self, src)
        _set_dst(self, dst)
        _set_sport(self, sport)
        _set_dport(self, dport)
        _set_seq(self, seq)
        _set_ack(self, ack)
        _set_flags(self, flags)
        _set_window(self, window)
        _set_payload_len(self, payload_len)
        _set_payload(self, payload)
        _set_tcp_options(self, tcp_options)
        _set_mptcp(self, mptcp)
        _set_option_errors(self, option_errors)

    @property
    def syn(self) -> bool:
        return bool(self.flags & SYN)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & RST)

    @property
    def has_ack(self) -> bool:
        return bool(self.flags & ACK)

    @property
    def payload_complete(self) -> bool:
        """True when the capture kept every payload byte (needed for DSS checksums, data checks)."""
        return len(self.payload) >= self.payload_len

    @property
    def flow(self) -> tuple[str, int, str, int]:
        """The 4-tuple as sent: (src, sport, dst, dport)."""
        return (self.src, self.sport, self.dst, self.dport)

    @property
    def seq_space(self) -> int:
        """Sequence space the segment occupies: payload plus one for SYN and one for FIN."""
        return self.payload_len + (1 if self.flags & SYN else 0) + (1 if self.flags & FIN else 0)


_Setter = Callable[[Segment, Any], None]


def _setter(name: str) -> _Setter:
    """The slot writer of field ``name`` (its member descriptor's ``__set__``)."""
    setter: _Setter = vars(Segment)[name].__set__
    return setter


_set_frame = _setter("frame")
_set_time = _setter("time")
_set_ip_version = _setter("ip_version")
_set_src = _setter("src")
_set_dst = _setter("dst")
_set_sport = _setter("sport")
_set_dport = _setter("dport")
_set_seq = _setter("seq")
_set_ack = _setter("ack")
_set_flags = _setter("flags")
_set_window = _setter("window")
_set_payload_len = _setter("payload_len")
_set_payload = _setter("payload")
_set_tcp_options = _setter("tcp_options")
_set_mptcp = _setter("mptcp")
_set_option_errors = _setter("option_errors")
