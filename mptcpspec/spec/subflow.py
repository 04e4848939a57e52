"""The subflow machine: TCP's states plus the MP_CAPABLE and MP_JOIN handshakes (RFC 8684 §3.1, §3.2).

``TRANSITIONS`` is the whole machine as one literal table ``(state, event) -> (next state, rule ids)``.
Events are what a wire observer sees on one subflow: a SYN, a SYN/ACK, an ACK from the subflow's
opener or from its responder, a FIN, a RST.  The opener/responder distinction is an input of the
event, never a branch in the table.  The rule ids name the checks the monitor runs on that transition;
a pair missing from the table is itself a finding (``subflow.state``).

``Subflow`` holds what the monitor knows about one subflow: ISNs, highest sequence numbers seen, loss
evidence, the join nonces and the last DSS mapping.  The join guards (``check_join_*``) are small pure
functions, reusable as Hypothesis preconditions and z3 constraints.
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass

from . import crypto
from .options import Dss, MpJoinSyn, MpJoinSynAck
from .rules import Level, Rule
from .segment import ACK, FIN, RST, SYN, Segment

__all__ = [
    "JOIN_ACK_HMAC",
    "JOIN_ACK_OPTION",
    "JOIN_BEFORE_DSS",
    "JOIN_C_FLAG",
    "JOIN_PRE_ESTABLISHED_DATA",
    "JOIN_RESERVED_FLAGS",
    "JOIN_SYNACK_HMAC",
    "JOIN_SYNACK_OPTION",
    "JOIN_TOKEN",
    "QUIET_STATES",
    "RULES",
    "SUBFLOW_STATE",
    "TRANSITIONS",
    "Mapping",
    "Subflow",
    "SubflowEvent",
    "SubflowState",
    "Transition",
    "check_join_ack_hmac",
    "check_join_synack_hmac",
    "check_join_token",
    "classify",
]

SUBFLOW_STATE = Rule(
    "subflow.state",
    8684,
    "3",
    Level.MUST,
    "A segment arrived that the subflow's TCP state does not expect (often a capture artefact).",
)
JOIN_TOKEN = Rule(
    "join.token",
    8684,
    "3.2",
    Level.MUST,
    "The token in a SYN with MP_JOIN is the token of the receiving host's key for the connection.",
)
JOIN_SYNACK_HMAC = Rule(
    "join.synack-hmac",
    8684,
    "3.2",
    Level.MUST,
    "The truncated HMAC in the SYN/ACK with MP_JOIN is computed from both keys and both nonces.",
)
JOIN_ACK_HMAC = Rule(
    "join.ack-hmac",
    8684,
    "3.2",
    Level.MUST,
    "The HMAC in the third ACK with MP_JOIN is computed from both keys and both nonces.",
)
JOIN_ACK_OPTION = Rule(
    "join.ack-option",
    8684,
    "3.2",
    Level.MUST,
    "The third ACK of a join carries MP_JOIN with the HMAC; without it the listener must reset.",
)
JOIN_SYNACK_OPTION = Rule(
    "join.synack-option",
    8684,
    "3.2",
    Level.MUST,
    "A joining host that gets a SYN/ACK without MP_JOIN resets the subflow instead of using it.",
)
JOIN_PRE_ESTABLISHED_DATA = Rule(
    "join.pre-established-data",
    8684,
    "3.2",
    Level.MUST,
    "The joining host sends no data before the listener has acknowledged its third ACK.",
)
JOIN_C_FLAG = Rule(
    "join.c-flag",
    8684,
    "3.1",
    Level.MUST,
    "No join is opened to the address and port of a host that set the C flag in its MP_CAPABLE.",
)
JOIN_BEFORE_DSS = Rule(
    "join.before-dss",
    8684,
    "3.1",
    Level.MUST,
    "A host opens additional subflows only after it has received a DSS option on the connection.",
)
JOIN_RESERVED_FLAGS = Rule(
    "join.reserved-flags",
    8684,
    "3.2",
    Level.MUST,
    "The reserved bits of MP_JOIN are sent as zero.",
)

RULES = (
    SUBFLOW_STATE,
    JOIN_TOKEN,
    JOIN_SYNACK_HMAC,
    JOIN_ACK_HMAC,
    JOIN_ACK_OPTION,
    JOIN_SYNACK_OPTION,
    JOIN_PRE_ESTABLISHED_DATA,
    JOIN_C_FLAG,
    JOIN_BEFORE_DSS,
    JOIN_RESERVED_FLAGS,
)


class SubflowState(enum.Enum):
    """Where a subflow is, as far as the wire shows it."""

    NEW = "new"
    SYN_SENT = "syn-sent"
    SYN_RECEIVED = "syn-received"
    PRE_ESTABLISHED = "pre-established"  # third ACK seen, waiting for the listener's ACK (RFC 8684 §3.2)
    ESTABLISHED = "established"
    CLOSING = "closing"  # a FIN was seen
    CLOSED = "closed"  # a RST was seen


class SubflowEvent(enum.Enum):
    """What one segment is to the subflow machine."""

    SYN = "syn"
    SYN_ACK = "syn-ack"
    ACK_OPENER = "ack-from-opener"
    ACK_RESPONDER = "ack-from-responder"
    FIN = "fin"
    RST = "rst"


@dataclass(frozen=True, slots=True)
class Transition:
    """The next state and the ids of the rules checked on the way."""

    next: SubflowState
    rules: tuple[str, ...] = ()


_S = SubflowState
_E = SubflowEvent
_SYN_CHECKS = ("join.token", "join.c-flag", "join.before-dss")
_SYNACK_CHECKS = ("handshake.version", "handshake.unsolicited", "join.synack-hmac")
_OPENER_ACK_CHECKS = (
    "handshake.version",
    "handshake.key-echo",
    "handshake.checksum-flag",
    "join.ack-option",
    "join.ack-hmac",
    "join.synack-option",
)
_FIN_CHECKS = ("close.last-subflow",)

TRANSITIONS: dict[tuple[SubflowState, SubflowEvent], Transition] = {
    (_S.NEW, _E.SYN): Transition(_S.SYN_SENT, _SYN_CHECKS),
    (_S.NEW, _E.SYN_ACK): Transition(_S.SYN_RECEIVED, _SYNACK_CHECKS),
    (_S.NEW, _E.ACK_OPENER): Transition(_S.ESTABLISHED),
    (_S.NEW, _E.ACK_RESPONDER): Transition(_S.ESTABLISHED),
    (_S.NEW, _E.FIN): Transition(_S.CLOSING),
    (_S.NEW, _E.RST): Transition(_S.CLOSED),
    (_S.SYN_SENT, _E.SYN): Transition(_S.SYN_SENT, _SYN_CHECKS),
    (_S.SYN_SENT, _E.SYN_ACK): Transition(_S.SYN_RECEIVED, _SYNACK_CHECKS),
    (_S.SYN_SENT, _E.ACK_OPENER): Transition(_S.PRE_ESTABLISHED),
    (_S.SYN_SENT, _E.RST): Transition(_S.CLOSED),
    (_S.SYN_RECEIVED, _E.SYN): Transition(_S.SYN_RECEIVED),
    (_S.SYN_RECEIVED, _E.SYN_ACK): Transition(_S.SYN_RECEIVED, _SYNACK_CHECKS),
    (_S.SYN_RECEIVED, _E.ACK_OPENER): Transition(_S.PRE_ESTABLISHED, _OPENER_ACK_CHECKS),
    (_S.SYN_RECEIVED, _E.ACK_RESPONDER): Transition(_S.ESTABLISHED),
    (_S.SYN_RECEIVED, _E.FIN): Transition(_S.CLOSING),
    (_S.SYN_RECEIVED, _E.RST): Transition(_S.CLOSED),
    (_S.PRE_ESTABLISHED, _E.SYN_ACK): Transition(_S.PRE_ESTABLISHED, _SYNACK_CHECKS),
    (_S.PRE_ESTABLISHED, _E.ACK_OPENER): Transition(_S.PRE_ESTABLISHED, ("join.pre-established-data",)),
    (_S.PRE_ESTABLISHED, _E.ACK_RESPONDER): Transition(_S.ESTABLISHED),
    (_S.PRE_ESTABLISHED, _E.FIN): Transition(_S.CLOSING, _FIN_CHECKS),
    (_S.PRE_ESTABLISHED, _E.RST): Transition(_S.CLOSED),
    (_S.ESTABLISHED, _E.SYN_ACK): Transition(_S.ESTABLISHED),
    (_S.ESTABLISHED, _E.ACK_OPENER): Transition(_S.ESTABLISHED),
    (_S.ESTABLISHED, _E.ACK_RESPONDER): Transition(_S.ESTABLISHED),
    (_S.ESTABLISHED, _E.FIN): Transition(_S.CLOSING, _FIN_CHECKS),
    (_S.ESTABLISHED, _E.RST): Transition(_S.CLOSED),
    (_S.CLOSING, _E.ACK_OPENER): Transition(_S.CLOSING),
    (_S.CLOSING, _E.ACK_RESPONDER): Transition(_S.CLOSING),
    (_S.CLOSING, _E.FIN): Transition(_S.CLOSING, _FIN_CHECKS),
    (_S.CLOSING, _E.RST): Transition(_S.CLOSED),
    (_S.CLOSED, _E.SYN): Transition(_S.CLOSED),
    (_S.CLOSED, _E.ACK_OPENER): Transition(_S.CLOSED),
    (_S.CLOSED, _E.ACK_RESPONDER): Transition(_S.CLOSED),
    (_S.CLOSED, _E.FIN): Transition(_S.CLOSED),
    (_S.CLOSED, _E.RST): Transition(_S.CLOSED),
}
"""The subflow machine.  Pairs not listed (a SYN on an established subflow, an ACK from the responder
before the SYN/ACK, ...) keep the state and give a ``subflow.state`` finding."""


QUIET_STATES = frozenset(
    state
    for state in SubflowState
    if all(
        TRANSITIONS.get((state, event)) == Transition(state)
        for event in (SubflowEvent.ACK_OPENER, SubflowEvent.ACK_RESPONDER)
    )
)
"""States where a plain ACK (no SYN, FIN or RST) changes nothing and checks nothing: the fast path."""


def classify(flags: int, from_opener: bool) -> SubflowEvent:
    """The subflow event a segment with TCP ``flags`` is, sent by the opener or by the responder."""
    if flags & RST:
        return SubflowEvent.RST
    if flags & SYN:
        return SubflowEvent.SYN_ACK if flags & ACK else SubflowEvent.SYN
    if flags & FIN:
        return SubflowEvent.FIN
    return SubflowEvent.ACK_OPENER if from_opener else SubflowEvent.ACK_RESPONDER


def check_join_token(token: int, receiver_key: int, version: int) -> bool:
    """``join.token``: the SYN's token is the token of the receiving host's key (RFC 8684 §3.2)."""
    return token == crypto.key_token(receiver_key, version)


def check_join_synack_hmac(
    key_responder: int, key_joiner: int, nonce_responder: int, nonce_joiner: int, truncated: int, version: int
) -> bool:
    """``join.synack-hmac``: the listener's 64-bit HMAC over its nonce then the joiner's (RFC 8684 §3.2)."""
    expected = crypto.join_synack_hmac(key_responder, key_joiner, nonce_responder, nonce_joiner, version)
    return truncated == expected


def check_join_ack_hmac(
    key_joiner: int, key_responder: int, nonce_joiner: int, nonce_responder: int, mac: bytes, version: int
) -> bool:
    """``join.ack-hmac``: the joiner's 160-bit HMAC over its nonce then the listener's (RFC 8684 §3.2)."""
    expected = crypto.join_ack_hmac(key_joiner, key_responder, nonce_joiner, nonce_responder, version)
    return hmac.compare_digest(mac[:20], expected[:20])


class Mapping:
    """One DSS mapping as announced: 64-bit ``dsn``, relative ``ssn``, data-level ``length``, DATA_FIN
    flag and checksum (RFC 8684 §3.3.1)."""

    __slots__ = ("checksum", "dsn", "fin", "length", "ssn")

    def __init__(self, dsn: int, ssn: int, length: int, fin: bool, checksum: int | None) -> None:
        self.dsn = dsn
        self.ssn = ssn
        self.length = length
        self.fin = fin
        self.checksum = checksum


class Subflow:
    """What the monitor knows about one subflow.

    Index 0 of the per-direction lists is the direction from the connection's initiator A to its
    listener B, index 1 the other.  ``opener`` is the direction index of the SYN's sender (0 when A
    opened the subflow).  Sequence numbers are absolute 32-bit values; ``isn`` is ``None`` until the
    SYN (or SYN/ACK) of that direction is seen.  ``lossy[d]`` is set once the capture shows that it
    missed segments of direction ``d`` (a sequence gap, or an acknowledgment of data never seen).
    """

    __slots__ = (
        "address_ids",
        "backup",
        "bytes",
        "csum",
        "end",
        "fins",
        "first_frame",
        "isn",
        "join_ack_frame",
        "join_syn",
        "join_synack",
        "kind",
        "last_dss",
        "last_frame",
        "lossy",
        "map_top",
        "mapping",
        "mapping_raw",
        "mappings",
        "mismatch",
        "name",
        "nonces",
        "opener",
        "packets",
        "quiet",
        "responder_acked",
        "snd_end",
        "state",
        "syn_seen",
        "synack_plain",
        "token_ok",
        "tuple",
    )

    def __init__(self, name: str, endpoints: tuple[str, int, str, int], opener: int, frame: int) -> None:
        self.name = name
        self.tuple = endpoints  # (A side address, port, B side address, port)
        self.opener = opener
        self.kind = "unknown"
        self.state = SubflowState.NEW
        self.quiet = False
        self.isn: list[int | None] = [None, None]
        self.snd_end: list[int | None] = [None, None]
        self.lossy = [False, False]
        self.bytes = [0, 0]
        self.fins = [False, False]
        self.syn_seen = False
        self.synack_plain = False
        self.join_syn: MpJoinSyn | None = None
        self.join_synack: MpJoinSynAck | None = None
        self.nonces: tuple[list[int], list[int]] = ([], [])  # every nonce of the SYNs, of the SYN/ACKs
        self.join_ack_frame = 0
        self.responder_acked = False
        self.token_ok: bool | None = None
        self.address_ids: list[int | None] = [None, None]
        self.backup = False
        self.end = "open"
        self.first_frame = frame
        self.last_frame = frame
        self.packets = 0
        self.mappings: tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]] = ([], [])
        self.map_top: list[int | None] = [None, None]
        # per direction: the mapping being checksummed, its bytes so far, each checksum value its
        # copies carried with the first frame carrying it
        self.csum: list[tuple[tuple[int, int, int], bytearray, dict[int, int]] | None] = [None, None]
        # per direction: data sent again with other bytes, under a checksummed mapping: (mapping, frame,
        # message), judged when that mapping's checksum is (a failing checksum explains the difference)
        self.mismatch: list[tuple[tuple[int, int, int], int, str] | None] = [None, None]
        self.mapping_raw: list[tuple[int, int | None, int, int | None, bool] | None] = [None, None]
        self.mapping: list[Mapping | None] = [None, None]
        # per direction: the DSS option last judged, whose mapping (if it has one) is ``mapping``; None
        # once ``mapping`` comes from elsewhere (MP_CAPABLE data)
        self.last_dss: list[Dss | None] = [None, None]

    def relative_seq(self, d: int, seq: int) -> int | None:
        """``seq`` of direction ``d`` relative to that direction's ISN, or None when the ISN is unknown."""
        isn = self.isn[d]
        return None if isn is None else (seq - isn) & 0xFFFFFFFF

    def track(self, seg: Segment, d: int) -> None:
        """Update sequence tracking with ``seg`` sent in direction ``d`` (loss evidence, bytes)."""
        flags, seq, length = seg.flags, seg.seq, seg.payload_len
        end = (seq + length + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)) & 0xFFFFFFFF
        snd_end = self.snd_end
        known = snd_end[d]
        if known is None or seq == known:  # the first segment, or the next in order: nothing missed
            snd_end[d] = end
        else:
            ahead = (seq - known) & 0xFFFFFFFF
            if 0 < ahead < 0x80000000:
                self.lossy[d] = True
            if 0 < ((end - known) & 0xFFFFFFFF) < 0x80000000:
                snd_end[d] = end
        if flags & ACK:
            other = 1 - d
            seen = snd_end[other]
            if seen is not None and 0 < ((seg.ack - seen) & 0xFFFFFFFF) < 0x80000000:
                self.lossy[other] = True
        if flags & FIN:
            self.fins[d] = True
        self.bytes[d] += length
        self.packets += 1
        self.last_frame = seg.frame
