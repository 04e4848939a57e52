"""Data transfer and closing for the conversation builder (RFC 8684 §3.3).

``ConversationData`` adds to ``ConversationCore`` the methods that move data: DSS mappings, DATA_ACKs,
reinjection on another subflow, TCP-level retransmission, DATA_FIN, subflow FIN exchanges and the full
close of RFC 8684 §3.3.3 and Appendix D.  Public through ``Conversation``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass

from ..spec import crypto
from ..spec.options import Dss, MptcpOption
from ..spec.segment import ACK, FIN, PSH
from .conversation_core import Carried, ConversationCore, stream_payload
from .conversation_wire import Side, Subflow, chunks, peer

__all__ = ["ConversationData", "Plan"]


@dataclass(frozen=True, slots=True)
class Plan:
    """How one burst of data is cut into segments and mapped (see ``ConversationData.send``).

    ``ack_wide`` None means the builder's default DATA_ACK width.
    """

    segment_size: int
    span: bool = False
    repeat_dss: bool = True
    dsn32: bool = False
    ack_wide: bool | None = None
    wrong_checksum: bool = False
    omit_checksum: bool = False
    lose: frozenset[int] = frozenset()


class ConversationData(ConversationCore):
    """Data-level methods; see ``Conversation``."""

    def _default_plan(self) -> Plan:
        return Plan(self.segment_size, dsn32=not self.dsn64)

    def send(
        self,
        side: Side,
        size: int,
        *,
        subflow: int = 0,
        segment_size: int | None = None,
        span: bool = False,
        repeat_dss: bool = True,
        data_fin: bool = False,
        dsn32: bool | None = None,
        ack32: bool | None = None,
        wrong_checksum: bool = False,
        omit_checksum: bool = False,
        lose: Collection[int] = (),
        ack: bool = True,
    ) -> tuple[int, ...]:
        """``side`` sends ``size`` new bytes on ``subflow``; the peer ACKs them (unless ``ack=False``).

        Segments carry at most ``segment_size`` bytes (default: ``mss`` less 36, as Linux).  Each segment
        is its own DSS mapping, or with ``span`` one mapping covers the burst, repeated on every segment
        or (``repeat_dss=False``) only on the first (RFC 8684 §3.3.1).  ``data_fin`` sets the DATA_FIN
        on the last mapping (``size`` 0: a bare DATA_FIN).  ``dsn32``/``ack32`` force the widths (a
        32-bit DATA_ACK after a 64-bit DSN was received is a fault, RFC 8684 §3.3.2).
        Faults: ``wrong_checksum``, ``omit_checksum`` (with checksums on, the receiver then refuses the
        data at the data level), ``lose`` (indices of this burst's segments the peer never receives).
        A's first data on subflow 0 of a v1 connection, before B confirmed the keys, is mapped by
        MP_CAPABLE (length 22/24) in place of the DSS (RFC 8684 §3.1), as Linux does.
        """
        sf = self._subflow(subflow)
        plan = Plan(
            segment_size or self.segment_size,
            span=span,
            repeat_dss=repeat_dss,
            dsn32=not self.dsn64 if dsn32 is None else dsn32,
            ack_wide=None if ack32 is None else not ack32,
            wrong_checksum=wrong_checksum,
            omit_checksum=omit_checksum,
            lose=frozenset(lose),
        )
        stream = self._streams[side]
        data_fin = data_fin and self.mptcp
        mpc = self.mptcp and not self._fully_established[side] and not data_fin
        mpc = mpc and stream.nxt == stream.idsn + 1 and sf.ssn(side, sf.half[side].nxt) == 1
        dsn = stream.nxt
        stream.nxt += size + int(data_fin)
        if data_fin:
            stream.fin = dsn + size
        if size:
            frames = self._send_mapped(side, sf, dsn, size, data_fin, plan, mpc=mpc)
        else:
            frames = [self._bare_data_fin(side, sf, dsn)] if data_fin else []
        if ack:
            frames.append(self._pure_ack(peer(side), sf))
        return tuple(frames)

    def _send_mapped(
        self, side: Side, sf: Subflow, dsn: int, size: int, data_fin: bool, plan: Plan, *, mpc: bool = False
    ) -> list[int]:
        """Send ``size`` bytes of ``side``'s stream from ``dsn`` on ``sf``, mapped per ``plan``; with
        ``mpc`` the first mapping is the MP_CAPABLE form."""
        pieces = chunks(size, plan.segment_size)
        groups = [list(pieces)] if plan.span else [[piece] for piece in pieces]
        frames: list[int] = []
        for number, group in enumerate(groups):
            start, length = group[0][0], sum(n for _, n in group)
            fin_here = data_fin and number == len(groups) - 1
            payload = stream_payload(side, self._streams[side], dsn + start, length)
            ssn = sf.ssn(side, sf.half[side].nxt)
            checksum = self._checksum(dsn + start, ssn, length + fin_here, payload, plan)
            mapping: MptcpOption = (
                dataclasses.replace(self._mpc_ack(), data_length=length, checksum=checksum)
                if mpc and number == 0
                else self._mapping(side, dsn + start, ssn, length + fin_here, checksum, fin_here, plan)
            )
            for piece, (offset, n) in enumerate(group):
                last = piece == len(group) - 1
                option = (
                    mapping if piece == 0 or plan.repeat_dss else self._data_ack(side, wide=plan.ack_wide)
                )
                frames.append(
                    self._emit(
                        side,
                        sf,
                        ACK | (PSH if last else 0),
                        (option,) if self.mptcp else (),
                        payload[offset - start : offset - start + n],
                        dsn=dsn + offset if self.mptcp else None,
                        data_length=n + (fin_here and last),
                        intact=not (plan.wrong_checksum or (plan.omit_checksum and self.checksum)),
                        lost=len(frames) in plan.lose,
                    )
                )
        if not self.mptcp:
            self._streams[side].received.nxt = self._streams[side].nxt
        return frames

    def _checksum(self, dsn: int, ssn: int, length: int, payload: bytes, plan: Plan) -> int | None:
        """The DSS checksum of a mapping when checksums are on (RFC 8684 §3.3.1), with ``plan``'s faults."""
        if not self.checksum or plan.omit_checksum:
            return None
        checksum = crypto.dss_checksum(dsn % 2**64, ssn % 2**32, length, payload)
        return checksum ^ (0x0101 if plan.wrong_checksum else 0)

    def _mapping(
        self, side: Side, dsn: int, ssn: int, length: int, checksum: int | None, fin: bool, plan: Plan
    ) -> Dss:
        """The DSS mapping ``dsn``/``ssn``/``length`` with ``side``'s DATA_ACK (RFC 8684 §3.3.1)."""
        return dataclasses.replace(
            self._data_ack(side, wide=plan.ack_wide),
            dsn=dsn % (2**32 if plan.dsn32 else 2**64),
            dsn_wide=not plan.dsn32,
            ssn=ssn % 2**32,
            data_level_length=length,
            checksum=checksum,
            data_fin=fin,
        )

    def _bare_data_fin(self, side: Side, sf: Subflow, fin: int) -> int:
        """A DATA_FIN on a segment without data: SSN 0, data-level length 1 (RFC 8684 §3.3.3)."""
        plan = self._default_plan()
        option = self._mapping(side, fin, 0, 1, self._checksum(fin, 0, 1, b"", plan), True, plan)
        return self._emit(side, sf, ACK, (option,), dsn=fin, data_length=1)

    def data_fin(self, side: Side, *, subflow: int = 0, ack: bool = True) -> tuple[int, ...]:
        """``side`` sends a bare DATA_FIN on ``subflow``; the peer DATA_ACKs it unless ``ack=False``."""
        return self.send(side, 0, subflow=subflow, data_fin=True, ack=ack)

    def data_ack(
        self, side: Side, *, subflow: int = 0, delta: int = 0, wide: bool | None = None
    ) -> tuple[int, ...]:
        """``side`` sends a pure ACK carrying its DATA_ACK; ``delta`` shifts the value (e.g. beyond sent)."""
        sf = self._subflow(subflow)
        return (self._emit(side, sf, ACK, (self._data_ack(side, wide=wide, delta=delta),)),)

    def reinject(
        self, side: Side, dsn: int, length: int, *, subflow: int, ack: bool = True
    ) -> tuple[int, ...]:
        """``side`` re-sends data-level bytes ``[dsn, dsn + length)`` on ``subflow`` (RFC 8684 §3.3.6).

        The DSNs and payload are those of the first transmission; the SSNs are new.  A range that ends
        with the DATA_FIN carries it again.
        """
        sf = self._subflow(subflow)
        stream = self._streams[side]
        dsn = stream.idsn + 1 + (dsn - stream.idsn - 1) % 2**64
        fin = stream.fin is not None and dsn + length == stream.fin + 1
        frames = self._send_mapped(side, sf, dsn, length - fin, fin, self._default_plan())
        if ack:
            frames.append(self._pure_ack(peer(side), sf))
        return tuple(frames)

    def retransmit(self, frame: int, *, dsn_delta: int = 0, ack: bool = True) -> tuple[int, ...]:
        """TCP-level retransmission of ``frame``: same subflow sequence space, payload and mapping.

        DATA_ACKs are refreshed to the current value.  ``dsn_delta`` (fault knob) shifts the DSN of its
        mapping, so the retransmission disagrees with the original (RFC 8684 §3.3.1).
        """
        seg = self.segment(frame)
        carried = self._carried[frame - 1]
        sf = self._subflow(carried.subflow)
        options = tuple(self._refresh(carried, o, dsn_delta, seg.payload) for o in seg.mptcp)
        new = self._emit(
            carried.side,
            sf,
            seg.flags,
            options,
            seg.payload,
            seq=carried.seq,
            dsn=carried.dsn if dsn_delta == 0 else None,
            data_length=carried.data_length,
            intact=carried.intact,
        )
        return (new, self._pure_ack(peer(carried.side), sf)) if ack else (new,)

    def _refresh(self, carried: Carried, option: MptcpOption, dsn_delta: int, payload: bytes) -> MptcpOption:
        """``option`` as retransmitted: current DATA_ACK, DSN shifted by ``dsn_delta``.

        When the mapping covers exactly this segment its checksum follows the shifted DSN, so the DSN is
        the only fault.
        """
        if not isinstance(option, Dss):
            return option
        if option.data_ack is not None:
            fresh = self._data_ack(carried.side, wide=option.data_ack_wide)
            option = dataclasses.replace(option, data_ack=fresh.data_ack)
        length = option.data_level_length
        if not dsn_delta or option.dsn is None or length is None:
            return option
        dsn = (option.dsn + dsn_delta) % (2**64 if option.dsn_wide else 2**32)
        option = dataclasses.replace(option, dsn=dsn)
        if option.checksum is not None and length == carried.data_length and carried.dsn is not None:
            dsn64 = (carried.dsn + dsn_delta) % 2**64
            checksum = crypto.dss_checksum(dsn64, option.ssn or 0, length, payload)
            option = dataclasses.replace(option, checksum=checksum)
        return option

    def close_subflow(self, subflow: int, *, initiator: Side = "A") -> tuple[int, ...]:
        """FIN exchange on ``subflow``: initiator's FIN, peer's FIN, last ACK (RFC 8684 §3.3.3)."""
        return self._fin_exchange([self._subflow(subflow)], initiator)

    def _fin_exchange(self, subflows: list[Subflow], initiator: Side) -> tuple[int, ...]:
        """The initiator's FIN on each subflow, then the peer's FIN on each, then the initiator's ACKs."""
        responder = peer(initiator)
        frames = (
            *(self._pure_ack(initiator, sf, flags=FIN | ACK) for sf in subflows),
            *(self._pure_ack(responder, sf, flags=FIN | ACK) for sf in subflows),
            *(self._pure_ack(initiator, sf) for sf in subflows),
        )
        for sf in subflows:
            sf.closed = True
        return frames

    def close(self, initiator: Side = "A", *, subflow: int | None = None) -> tuple[int, ...]:
        """Full close as Linux does it (RFC 8684 §3.3.3, Appendix D).

        The initiator sends a bare DATA_FIN on every open subflow (or only on ``subflow``) and the peer
        DATA_ACKs it on each; the peer sends its DATA_FIN the same way; the initiator's FINs carry the
        DATA_ACK of it; then the peer's FINs and the initiator's last ACKs close every open subflow.
        """
        open_subflows = self._live_subflows()
        carriers = open_subflows if subflow is None else [self._subflow(subflow)]
        frames: list[int] = []
        for side in (initiator, peer(initiator)) if self.mptcp else ():
            stream = self._streams[side]
            stream.fin, stream.nxt = stream.nxt, stream.nxt + 1
            frames += [self._bare_data_fin(side, sf, stream.fin) for sf in carriers]
            if side == initiator:
                frames += [self._pure_ack(peer(side), sf) for sf in carriers]
        return (*frames, *self._fin_exchange(open_subflows, initiator))
