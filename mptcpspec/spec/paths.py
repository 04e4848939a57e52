"""Path state: address IDs, ADD_ADDR and echo, REMOVE_ADDR, MP_PRIO, MP_TCPRST (RFC 8684 §3.3.8, §3.4, §3.6).

``PathState`` keeps, per host, the addresses it announced (by address ID) and the IDs it removed, so
that echoes can be matched to what the peer announced and an ID is not silently given a new address.
The ``on_*`` procedures take the monitor's context like the handshake checks; the decisions are the pure
guards ``check_add_addr_hmac`` and ``check_echo_match``.
"""

from __future__ import annotations

from .connection import Connection
from .crypto import add_addr_hmac
from .options import AddAddr, AddAddrV0, MpPrio, MpTcpRst, RemoveAddr, TcpRstReason
from .rules import Level, Rule
from .segment import Segment
from .subflow import Subflow
from .verdicts import Judge

__all__ = [
    "ADD_ADDR_DUPACK_SIGNAL",
    "ADD_ADDR_ECHO_MATCH",
    "ADD_ADDR_HMAC",
    "ADD_ADDR_ID_REUSE",
    "ADD_ADDR_RESERVED_FLAGS",
    "PRIO_LAYOUT",
    "RULES",
    "TCPRST_ON_RST",
    "TCPRST_REASON",
    "TCPRST_RESERVED_FLAGS",
    "Announcement",
    "PathState",
    "check_add_addr_hmac",
    "check_echo_match",
]

ADD_ADDR_HMAC = Rule(
    "add-addr.hmac",
    8684,
    "3.4.1",
    Level.MUST,
    "A v1 ADD_ADDR that is not an echo carries the HMAC of the address under both keys.",
)
ADD_ADDR_ECHO_MATCH = Rule(
    "add-addr.echo-match",
    8684,
    "3.4.1",
    Level.MUST,
    "An ADD_ADDR echo repeats an address the peer announced under the same address ID.",
)
ADD_ADDR_ID_REUSE = Rule(
    "add-addr.id-reuse",
    8684,
    "3.4.1",
    Level.MUST,
    "An address ID keeps its address until it is removed; a new address needs REMOVE_ADDR first.",
)
ADD_ADDR_RESERVED_FLAGS = Rule(
    "add-addr.reserved-flags",
    8684,
    "3.4.1",
    Level.MUST,
    "The unassigned flag bits of ADD_ADDR are sent as zero.",
)
ADD_ADDR_DUPACK_SIGNAL = Rule(
    "add-addr.dupack-signal",
    8684,
    "3.4.1",
    Level.SHOULD,
    "A host sends no more than two duplicate ACKs in a row just to carry MPTCP signals.",
)
PRIO_LAYOUT = Rule(
    "prio.layout",
    8684,
    "3.3.8",
    Level.MUST,
    "A v1 MP_PRIO has no address ID (length 3); the address-ID form belongs to v0.",
)
TCPRST_REASON = Rule(
    "tcprst.reason",
    8684,
    "3.6",
    Level.SHOULD,
    "MP_TCPRST carries one of the registered reason codes (0 to 6).",
)
TCPRST_RESERVED_FLAGS = Rule(
    "tcprst.reserved-flags",
    8684,
    "3.6",
    Level.MUST,
    "The U, V and W flags of MP_TCPRST are sent as zero.",
)
TCPRST_ON_RST = Rule(
    "tcprst.on-rst",
    8684,
    "3.6",
    Level.SHOULD,
    "MP_TCPRST is carried by a segment with the RST flag.",
)

RULES = (
    ADD_ADDR_HMAC,
    ADD_ADDR_ECHO_MATCH,
    ADD_ADDR_ID_REUSE,
    ADD_ADDR_RESERVED_FLAGS,
    ADD_ADDR_DUPACK_SIGNAL,
    PRIO_LAYOUT,
    TCPRST_REASON,
    TCPRST_RESERVED_FLAGS,
    TCPRST_ON_RST,
)

HOSTS = ("A", "B")
Announcement = tuple[str, int | None, int]
"""(address, port or None, frame) of one ADD_ADDR."""


def check_add_addr_hmac(key_sender: int, key_receiver: int, opt: AddAddr) -> bool:
    """``add-addr.hmac``: the truncated HMAC of ID, address and port under both keys (RFC 8684 §3.4.1)."""
    return opt.truncated_hmac == add_addr_hmac(
        key_sender, key_receiver, opt.address_id, opt.address, opt.port
    )


def check_echo_match(announced: Announcement, echo: AddAddr) -> bool:
    """``add-addr.echo-match``: an echo names the address the peer gave that ID (RFC 8684 §3.4.1)."""
    return announced[0] == echo.address


class PathState:
    """Addresses announced and removed by each host (index 0 is A, 1 is B)."""

    __slots__ = ("announced", "dupacks", "removed")

    def __init__(self) -> None:
        self.announced: tuple[dict[int, Announcement], dict[int, Announcement]] = ({}, {})
        self.removed: tuple[set[int], set[int]] = (set(), set())
        self.dupacks: dict[tuple[str, int], tuple[int, int, int]] = {}

    def on_add_addr(
        self,
        judge: Judge,
        conn: Connection,
        seg: Segment,
        sub: Subflow,
        h: int,
        opt: AddAddr | AddAddrV0,
        *,
        lossy: bool = False,
    ) -> None:
        """An ADD_ADDR sent by host ``h``; ``lossy``: the capture missed some of ``h``'s segments."""
        self._signal_dupack(judge, seg, sub, h)
        if isinstance(opt, AddAddrV0):
            if conn.version == 1:
                judge.checks += 1
                judge.breach(
                    ADD_ADDR_HMAC,
                    (seg.frame,),
                    f"v1 ADD_ADDR for ID {opt.address_id} has E=0 but no HMAC (flag nibble "
                    f"{opt.ip_version:#x}, expected an HMAC or E=1)",
                    sub.name,
                )
                return
            self._announce(judge, seg, sub, h, opt.address_id, opt.address, opt.port, lossy)
            return
        judge.checks += 1
        if opt.reserved:
            judge.breach(
                ADD_ADDR_RESERVED_FLAGS,
                (seg.frame,),
                f"ADD_ADDR reserved flag bits {opt.reserved:#x} (expected 0)",
                sub.name,
            )
        if opt.echo:
            self._echo(judge, seg, sub, h, opt)
            return
        self._hmac(judge, conn, seg, sub, h, opt)
        self._announce(judge, seg, sub, h, opt.address_id, opt.address, opt.port, lossy)

    def on_remove_addr(self, seg: Segment, h: int, opt: RemoveAddr) -> None:
        """A REMOVE_ADDR sent by host ``h``: its IDs are free for new addresses (RFC 8684 §3.4.2)."""
        for address_id in opt.address_ids:
            self.announced[h].pop(address_id, None)
            self.removed[h].add(address_id)

    def on_prio(
        self, judge: Judge, conn: Connection, seg: Segment, sub: Subflow, h: int, opt: MpPrio
    ) -> None:
        """An MP_PRIO sent by host ``h``: the subflow's backup flag as its receiver asks (RFC 8684 §3.3.8)."""
        self._signal_dupack(judge, seg, sub, h)
        sub.backup = opt.backup
        if conn.version == 1:
            judge.checks += 1
            if opt.address_id is not None:
                judge.breach(
                    PRIO_LAYOUT,
                    (seg.frame,),
                    f"v1 MP_PRIO carries address ID {opt.address_id} (length 4, expected 3)",
                    sub.name,
                )

    @staticmethod
    def on_tcprst(judge: Judge, seg: Segment, sub: Subflow, opt: MpTcpRst) -> None:
        """An MP_TCPRST: reason, flags, and a RST to carry it (RFC 8684 §3.6)."""
        judge.checks += 3
        if opt.reason not in TcpRstReason._value2member_map_:
            judge.breach(
                TCPRST_REASON,
                (seg.frame,),
                f"MP_TCPRST reason {opt.reason:#04x} is not registered (expected 0x00 to 0x06)",
                sub.name,
            )
        if opt.flags & 0xE:
            judge.breach(
                TCPRST_RESERVED_FLAGS,
                (seg.frame,),
                f"MP_TCPRST flags {opt.flags:#x} set U/V/W (expected 0)",
                sub.name,
            )
        if not seg.rst:
            judge.breach(TCPRST_ON_RST, (seg.frame,), "MP_TCPRST on a segment without RST", sub.name)

    def _announce(
        self,
        judge: Judge,
        seg: Segment,
        sub: Subflow,
        h: int,
        address_id: int,
        address: str,
        port: int | None,
        lossy: bool,
    ) -> None:
        judge.checks += 1
        before = self.announced[h].get(address_id)
        if before is not None and before[0] != address:
            message = (
                f"{HOSTS[h]} announces {address} under address ID {address_id}, which still names "
                f"{before[0]} (frame {before[2]}); expected a REMOVE_ADDR first"
            )
            if lossy:  # the REMOVE_ADDR may be among the segments the capture missed
                judge.undetermined(ADD_ADDR_ID_REUSE, (seg.frame, before[2]), message, sub.name)
            else:
                judge.breach(ADD_ADDR_ID_REUSE, (seg.frame, before[2]), message, sub.name)
        self.announced[h][address_id] = (address, port, seg.frame)
        self.removed[h].discard(address_id)

    def _echo(self, judge: Judge, seg: Segment, sub: Subflow, h: int, opt: AddAddr) -> None:
        announced = self.announced[1 - h].get(opt.address_id)
        if announced is None:
            judge.undetermined(
                ADD_ADDR_ECHO_MATCH,
                (seg.frame,),
                f"echo of address ID {opt.address_id} ({opt.address}): the ADD_ADDR it answers "
                "is not in the capture",
                sub.name,
            )
            return
        if not check_echo_match(announced, opt):
            judge.breach(
                ADD_ADDR_ECHO_MATCH,
                (seg.frame, announced[2]),
                f"echo of address ID {opt.address_id} names {opt.address} (announced {announced[0]} "
                f"at frame {announced[2]})",
                sub.name,
            )
        elif announced[1] != opt.port:
            judge.undetermined(
                ADD_ADDR_ECHO_MATCH,
                (seg.frame, announced[2]),
                f"echo of address ID {opt.address_id} has port {opt.port} but the announcement "
                f"seen had {announced[1]} (a refresh may be missing from the capture)",
                sub.name,
            )

    @staticmethod
    def _hmac(judge: Judge, conn: Connection, seg: Segment, sub: Subflow, h: int, opt: AddAddr) -> None:
        key_s, key_r = conn.keys[h], conn.keys[1 - h]
        if key_s is None or key_r is None:
            judge.undetermined(
                ADD_ADDR_HMAC,
                (seg.frame,),
                "ADD_ADDR HMAC not checked: the keys are not in the capture",
                sub.name,
            )
            return
        if not check_add_addr_hmac(key_s, key_r, opt):
            expected = add_addr_hmac(key_s, key_r, opt.address_id, opt.address, opt.port)
            judge.breach(
                ADD_ADDR_HMAC,
                (seg.frame,),
                f"ADD_ADDR HMAC {opt.truncated_hmac or 0:#018x} for {opt.address} ID {opt.address_id} "
                f"(expected {expected:#018x})",
                sub.name,
            )

    def _signal_dupack(self, judge: Judge, seg: Segment, sub: Subflow, h: int) -> None:
        """Count pure duplicate ACKs sent only to carry a signal (RFC 8684 §3.4.1)."""
        if seg.payload_len or seg.flags & 0x07:
            return
        key = (sub.name, h)
        last = self.dupacks.get(key)
        count = last[2] + 1 if last is not None and last[:2] == (seg.seq, seg.ack) else 1
        self.dupacks[key] = (seg.seq, seg.ack, count)
        judge.checks += 1
        if count == 3:
            judge.breach(
                ADD_ADDR_DUPACK_SIGNAL,
                (seg.frame,),
                f"{HOSTS[h]} sends a third duplicate ACK (seq {seg.seq}, ack {seg.ack}) to carry a signal",
                sub.name,
            )
