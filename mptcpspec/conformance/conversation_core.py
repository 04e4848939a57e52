"""The core of the conversation builder: state, segment emission, injection and the opening handshakes.

``ConversationCore`` is the base of the public ``mptcpspec.conformance.conversation.Conversation``;
read that module's docstring first.  This module holds what every builder method shares: the keys and
sequence state of both endpoints, ``_emit`` (one segment onto the wire), DATA_ACK and DSS construction,
the injection API (``with_option`` and friends) and the MP_CAPABLE (RFC 8684 §3.1) and MP_JOIN
(RFC 8684 §3.2) handshakes.
"""

from __future__ import annotations

import copy
import dataclasses
import random
from dataclasses import dataclass
from typing import Any, Self

from ..spec import crypto
from ..spec.errors import LocalProtocolError
from ..spec.options import AddAddr, AddAddrV0, Dss, MpCapable, MptcpOption
from ..spec.segment import ACK, FIN, RST, SYN, Segment
from .conversation_wire import (
    Half,
    Reassembly,
    Side,
    Stream,
    Subflow,
    assemble_options,
    base_options,
    pattern,
    peer,
)

__all__ = ["Carried", "ConversationCore", "stream_payload"]

SERVER_PORT = 80
_LINUX_OPTION_RESERVE = 36  # timestamps (12) plus the room Linux keeps for a DSS (24)
_SYN_WINDOW = 64240
_WINDOW = 502
_HMAC_SHA = 0x01
_CHECKSUM_REQUIRED = 0x80


@dataclass(frozen=True, slots=True)
class Carried:
    """What one frame carries, for the builder's own bookkeeping (retransmission, reinjection).

    ``seq`` is the unbounded subflow sequence number, ``dsn`` the unbounded 64-bit DSN of the first
    payload byte (``None`` when no data-level mapping applies), ``data_length`` the data-level length the
    frame carries (payload plus one when it carries the DATA_FIN), ``intact`` False when its mapping's
    checksum is wrong or missing, so the receiver cannot accept the data at the data level.
    """

    side: Side
    subflow: int
    seq: int
    dsn: int | None = None
    data_length: int = 0
    intact: bool = True


class ConversationCore:
    """State and shared machinery of the builder; see ``Conversation`` for the public story."""

    def __init__(
        self,
        *,
        seed: int = 1,
        version: int = 1,
        checksum: bool = False,
        ipv6: bool = False,
        dsn64: bool = True,
        ack64: bool | None = None,
        mss: int | None = None,
        timestamps: bool = True,
        start_time: float = 1_700_000_000.0,
        step: float = 0.001,
    ) -> None:
        if version not in (0, 1):
            raise ValueError(f"version must be 0 or 1, not {version}")
        self._rng = random.Random(seed)
        self.version = version
        self.ip_version = 6 if ipv6 else 4
        self.dsn64 = dsn64
        self.ack64 = ack64
        self.mss = mss or (1440 if ipv6 else 1460)
        self.segment_size = self.mss - _LINUX_OPTION_RESERVE
        self.timestamps = timestamps
        self.start_time = start_time
        self.step = step
        self.keys: dict[Side, int] = {"A": self._rng.getrandbits(64), "B": self._rng.getrandbits(64)}
        self.checksum_requested: dict[Side, bool] = {"A": checksum, "B": checksum}
        self.checksum = checksum
        self.mptcp = True
        self._fully_established: dict[Side, bool] = {"A": False, "B": True}
        self._received_dsn64: dict[Side, bool] = {"A": False, "B": False}
        self._echo_key = self.keys["B"]
        self._segments: list[Segment] = []
        self._bases: list[bytes] = []
        self._carried: list[Carried] = []
        self._subflows: list[Subflow] = []
        self._streams: dict[Side, Stream] = {side: self._new_stream(side) for side in ("A", "B")}

    # -- identities ------------------------------------------------------------------------------------

    def token(self, side: Side) -> int:
        """The 32-bit token of ``side``'s key (RFC 8684 §3.2)."""
        return crypto.key_token(self.keys[side], self.version)

    def idsn(self, side: Side) -> int:
        """The 64-bit initial data sequence number of ``side`` (RFC 8684 §3.3.1)."""
        return crypto.key_idsn(self.keys[side], self.version)

    def data_nxt(self, side: Side) -> int:
        """The next new 64-bit DSN ``side`` would send."""
        return self._streams[side].nxt % 2**64

    def data_ack_value(self, side: Side) -> int:
        """The 64-bit DATA_ACK ``side`` would send now: the next DSN it expects from its peer."""
        return self._streams[peer(side)].received.nxt % 2**64

    def application_data(self, side: Side) -> bytes:
        """Every byte ``side``'s application has sent so far, in order: what a correct receiver at the
        peer delivers once it has everything (the DATA_FIN is not a byte)."""
        stream = self._streams[side]
        end = stream.nxt if stream.fin is None else stream.fin
        return pattern(side, 0, stream.offset(end))

    @property
    def subflow_count(self) -> int:
        """Number of subflows opened so far; subflow ``i`` is the i-th opened (0 is the initial one)."""
        return len(self._subflows)

    def isn(self, side: Side, subflow: int = 0) -> int:
        """The initial sequence number ``side`` chose on ``subflow`` (SSNs are relative to it)."""
        return self._subflows[subflow].half[side].isn

    def open_subflows(self) -> tuple[int, ...]:
        """Indices of the subflows not closed by a FIN exchange or a reset."""
        return tuple(sf.index for sf in self._live_subflows())

    def data_range(self, frame: int) -> tuple[int, int] | None:
        """(64-bit DSN, data-level length) of what ``frame`` carries at the data level (the length counts
        a DATA_FIN), or None when it carries nothing mapped."""
        self.segment(frame)
        carried = self._carried[frame - 1]
        if carried.dsn is None or not carried.data_length:
            return None
        return carried.dsn % 2**64, carried.data_length

    def subflow_addresses(self, index: int) -> tuple[tuple[str, int], tuple[str, int]]:
        """((A address, A port), (B address, B port)) of subflow ``index``."""
        sf = self._subflows[index]
        return (sf.address["A"], sf.port["A"]), (sf.address["B"], sf.port["B"])

    def address(self, side: Side, number: int) -> str:
        """``side``'s default address number ``number``: 10.0.1.1, 10.0.3.1, ... for A and 10.0.2.1,
        10.0.4.1, ... for B (fd00:1::1, fd00:3::1, ... with ``ipv6``); number 0 is used by subflow 0."""
        net = 2 * number + (1 if side == "A" else 2)
        return f"fd00:{net:x}::1" if self.ip_version == 6 else f"10.0.{net}.1"

    def _ephemeral_port(self) -> int:
        return self._rng.randrange(32768, 61000)

    def _new_stream(self, side: Side) -> Stream:
        idsn = crypto.key_idsn(self.keys[side], self.version)
        return Stream(idsn=idsn, nxt=idsn + 1, received=Reassembly(idsn + 1))

    # -- the segment list and injection ------------------------------------------------------------

    @property
    def segments(self) -> tuple[Segment, ...]:
        """Every segment built so far, in capture order; ``segments[i]`` is frame ``i + 1``."""
        return tuple(self._segments)

    def segment(self, frame: int) -> Segment:
        """The segment with 1-based frame number ``frame``."""
        if not 1 <= frame <= len(self._segments):
            raise IndexError(f"frame {frame} is not in 1..{len(self._segments)}")
        return self._segments[frame - 1]

    def side_of(self, frame: int) -> Side:
        """Which endpoint sent ``frame``."""
        self.segment(frame)
        return self._carried[frame - 1].side

    def subflow_of(self, frame: int) -> int:
        """The subflow index ``frame`` belongs to."""
        self.segment(frame)
        return self._carried[frame - 1].subflow

    def with_segment(self, frame: int, **changes: Any) -> Self:
        """A copy of this conversation where ``frame`` has the given ``Segment`` fields replaced.

        The frame number and every other frame stay as they are; the builder state is unchanged, so the
        copy can be extended like the original.
        """
        twin = copy.deepcopy(self)
        seg = twin.segment(frame)
        twin._segments[frame - 1] = dataclasses.replace(seg, **changes, frame=seg.frame)
        return twin

    def with_options(self, frame: int, options: tuple[MptcpOption, ...]) -> Self:
        """A copy where ``frame`` carries exactly ``options``, its ``tcp_options`` re-serialised.

        No 40-byte limit is enforced here, so an oversize option field can be injected on purpose.
        """
        raw = assemble_options(self._bases[frame - 1], options, check=False)
        return self.with_segment(frame, mptcp=options, tcp_options=raw)

    def with_option(self, frame: int, option: MptcpOption, *, index: int | None = None) -> Self:
        """A copy where one MPTCP option of ``frame`` is replaced by ``option``.

        Replaced is the option at ``index`` in ``segment(frame).mptcp`` or, without ``index``, the first
        option of the same class; when there is none, ``option`` is appended.
        """
        current = list(self.segment(frame).mptcp)
        if index is None:
            index = next((i for i, o in enumerate(current) if type(o) is type(option)), len(current))
        current[index : index + 1] = [option]
        return self.with_options(frame, tuple(current))

    def without_option(self, frame: int, kind: type[MptcpOption]) -> Self:
        """A copy where ``frame`` no longer carries options of class ``kind`` (e.g. ``Dss``)."""
        kept = tuple(o for o in self.segment(frame).mptcp if not isinstance(o, kind))
        return self.with_options(frame, kept)

    def write(self, path: str) -> None:
        """Write the conversation as a raw-IP pcap (``mptcpspec.capture.writer.write_pcap``)."""
        from ..capture.writer import write_pcap

        write_pcap(path, self._segments)

    # -- emitting segments ----------------------------------------------------------------------------

    def _subflow(self, index: int) -> Subflow:
        if not 0 <= index < len(self._subflows):
            raise LocalProtocolError(
                f"subflow {index} does not exist ({len(self._subflows)} opened)", section="3.2"
            )
        sf = self._subflows[index]
        if sf.closed:
            raise LocalProtocolError(f"subflow {index} is closed", section="3.3.3")
        return sf

    def _live_subflows(self) -> list[Subflow]:
        return [sf for sf in self._subflows if not sf.closed]

    def _emit(
        self,
        side: Side,
        sf: Subflow,
        flags: int,
        options: tuple[MptcpOption, ...] = (),
        payload: bytes = b"",
        *,
        seq: int | None = None,
        dsn: int | None = None,
        data_length: int = 0,
        intact: bool = True,
        lost: bool = False,
    ) -> int:
        """Append one segment sent by ``side`` on ``sf``; return its frame number.

        Without ``seq`` the segment takes the next sequence number (and advances it); with ``seq`` it
        re-sends old sequence space.  Unless ``lost``, the peer receives it at subflow level.
        """
        half, other = sf.half[side], sf.half[peer(side)]
        fresh = seq is None
        start = half.nxt if seq is None else seq
        frame = len(self._segments) + 1
        time = self.start_time + (frame - 1) * self.step
        tsval = half.ts_base + int((time - self.start_time) * 1000)
        tsecr = other.tsval if flags & ACK else 0
        base = base_options(
            syn=bool(flags & SYN), mss=self.mss, tsval=tsval, tsecr=tsecr, timestamps=self.timestamps
        )
        raw = assemble_options(base, options)
        half.tsval = tsval
        space = len(payload) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        if fresh:
            half.nxt += space
        if not lost and not flags & RST:
            half.received.add(start, start + space)
        self._segments.append(
            Segment(
                frame=frame,
                time=time,
                ip_version=sf.ip_version,
                src=sf.address[side],
                dst=sf.address[peer(side)],
                sport=sf.port[side],
                dport=sf.port[peer(side)],
                seq=start % 2**32,
                ack=other.received.nxt % 2**32 if flags & ACK else 0,
                flags=flags,
                window=_SYN_WINDOW if flags & SYN else _WINDOW,
                payload_len=len(payload),
                payload=payload,
                tcp_options=raw,
                mptcp=options,
            )
        )
        self._bases.append(base)
        self._carried.append(Carried(side, sf.index, start, dsn, data_length, intact))
        if dsn is not None and intact and not lost:
            self._streams[side].received.add(dsn, dsn + data_length)
        if side == "B" and any(_confirms_keys(o) for o in options):
            self._fully_established["A"] = True
        for option in options:  # a 64-bit DSN, even of a bare DATA_FIN, calls for 64-bit DATA_ACKs (§3.3.2)
            if isinstance(option, Dss) and option.has_mapping and option.data_level_length:
                self._received_dsn64[peer(side)] = option.dsn_wide
            elif isinstance(option, MpCapable) and option.data_length is not None:
                self._received_dsn64[peer(side)] = True
        return frame

    def _data_ack(self, side: Side, *, wide: bool | None = None, delta: int = 0) -> Dss:
        """A DSS carrying only ``side``'s DATA_ACK (RFC 8684 §3.3.2); ``delta`` shifts it (fault knob).

        Without ``wide`` or a constructor ``ack64`` the width is Linux's: 64 bits once ``side`` has
        received a 64-bit DSN, 32 bits before (RFC 8684 §3.3.2).  Linux keeps 32 bits when the only
        64-bit DSN it received is a bare DATA_FIN's; the builder does not, a 64-bit DSN is a 64-bit DSN.
        """
        if wide is None:
            wide = self._received_dsn64[side] if self.ack64 is None else self.ack64
        value = (self._streams[peer(side)].received.nxt + delta) % (2**64 if wide else 2**32)
        return Dss(data_ack=value, data_ack_wide=wide)

    def _ack_options(self, side: Side, extra: tuple[MptcpOption, ...] = ()) -> tuple[MptcpOption, ...]:
        """The MPTCP options of a segment without data carrying ``extra``, laid out as Linux does.

        A before the keys are confirmed repeats the third ACK's MP_CAPABLE; an ADD_ADDR goes alone;
        otherwise the DATA_ACK comes first, followed by ``extra`` when the option space allows.
        """
        if not self.mptcp:
            return extra
        if any(isinstance(o, AddAddr | AddAddrV0) for o in extra):
            return extra
        if side == "A" and not self._fully_established["A"]:
            return (self._mpc_ack(), *extra)
        return (self._data_ack(side), *extra)

    def _pure_ack(
        self, side: Side, sf: Subflow, extra: tuple[MptcpOption, ...] = (), flags: int = ACK
    ) -> int:
        return self._emit(side, sf, flags, self._ack_options(side, extra))

    def _mpc_flags(self, checksum: bool) -> int:
        return _HMAC_SHA | (_CHECKSUM_REQUIRED if checksum else 0)

    def _mpc_ack(self) -> MpCapable:
        """The third ACK's MP_CAPABLE: A's key then (A's idea of) B's key (RFC 8684 §3.1)."""
        return MpCapable(self.version, self._mpc_flags(self.checksum), self.keys["A"], self._echo_key)

    def _new_subflow(
        self, addresses: dict[Side, str], ports: dict[Side, int], ids: dict[Side, int]
    ) -> Subflow:
        halves: dict[Side, Half] = {}
        for side in ("A", "B"):
            isn = self._rng.getrandbits(32)
            halves[side] = Half(isn=isn, nxt=isn, received=Reassembly(isn), ts_base=self._rng.getrandbits(32))
        sf = Subflow(
            len(self._subflows),
            addresses,
            ports,
            ids,
            halves,
            {"A": False, "B": False},
            6 if ":" in addresses["A"] else 4,
        )
        self._subflows.append(sf)
        return sf


def _confirms_keys(option: MptcpOption) -> bool:
    """Whether B sending ``option`` shows A that its third ACK arrived: a DATA_ACK or an ADD_ADDR that
    is not an echo (RFC 8684 §3.1; Linux treats both as the end of the MP_CAPABLE exchange)."""
    return (isinstance(option, Dss) and option.data_ack is not None) or (
        isinstance(option, AddAddr) and not option.echo
    )


def stream_payload(side: Side, stream: Stream, dsn: int, size: int) -> bytes:
    """The deterministic bytes of ``side``'s data stream at ``dsn`` (see ``conversation_wire.pattern``)."""
    return pattern(side, stream.offset(dsn), size)
