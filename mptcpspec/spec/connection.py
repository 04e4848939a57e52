"""The connection machine: negotiation, fallback, fast close and the data-level close.

Two literal tables.  ``TRANSITIONS`` is the connection's phase ``(phase, event) -> (next, rule ids)``:
MP_CAPABLE handshake (RFC 8684 §3.1), fallback to TCP (§3.7) and fast close (§3.5).  ``CLOSE_TRANSITIONS``
is RFC 8684 appendix D, the data-level close of one endpoint; the monitor runs one copy for A and one
for B, feeding each the DATA_FINs it sends and receives and the DATA_ACKs of its own DATA_FIN.

``Connection`` holds what the monitor knows of the connection: version, keys, tokens, IDSNs, checksum
negotiation, and which host is provably in fallback since which frame.  The guards
(``check_handshake_version`` ...) are small pure functions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import crypto
from .rules import Level, Rule

if TYPE_CHECKING:  # fallback.py imports this module
    from .fallback import Unconfirmed

__all__ = [
    "CLOSE_LAST_SUBFLOW",
    "CLOSE_TRANSITIONS",
    "FALLBACK_FAIL_REPLY",
    "FALLBACK_MPTCP_AFTER_FALLBACK",
    "FALLBACK_SINGLE_SUBFLOW",
    "FASTCLOSE_DATA_AFTER",
    "FASTCLOSE_KEY",
    "HANDSHAKE_CHECKSUM_FLAG",
    "HANDSHAKE_EXTENSIBILITY_FLAG",
    "HANDSHAKE_HMAC_FLAG",
    "HANDSHAKE_INITIAL_ONLY",
    "HANDSHAKE_KEY_ECHO",
    "HANDSHAKE_KEY_REPEAT",
    "HANDSHAKE_LAYOUT",
    "HANDSHAKE_UNSOLICITED",
    "HANDSHAKE_VERSION",
    "QUIET_PHASES",
    "RULES",
    "TRANSITIONS",
    "CloseEvent",
    "CloseState",
    "ConnEvent",
    "ConnPhase",
    "Connection",
    "PhaseTransition",
    "check_checksum_flag",
    "check_fastclose_key",
    "check_handshake_version",
    "check_key_echo",
]

HANDSHAKE_VERSION = Rule(
    "handshake.version",
    8684,
    "3.1",
    Level.MUST,
    "The listener answers with a version no higher than the SYN's, and the third ACK keeps that version.",
)
HANDSHAKE_KEY_ECHO = Rule(
    "handshake.key-echo",
    8684,
    "3.1",
    Level.MUST,
    "The third ACK's MP_CAPABLE carries the keys the two hosts announced in the SYN and SYN/ACK.",
)
HANDSHAKE_KEY_REPEAT = Rule(
    "handshake.key-repeat",
    8684,
    "3.1",
    Level.MUST,
    "An MP_CAPABLE repeated after the handshake carries the same keys as the third ACK.",
)
HANDSHAKE_CHECKSUM_FLAG = Rule(
    "handshake.checksum-flag",
    8684,
    "3.1",
    Level.MUST,
    "The third ACK's A flag says checksums are on exactly when the SYN or the SYN/ACK asked for them.",
)
HANDSHAKE_HMAC_FLAG = Rule(
    "handshake.hmac-flag",
    8684,
    "3.1",
    Level.MUST,
    "Every MP_CAPABLE names a crypto algorithm (flag H); one naming none is invalid.",
)
HANDSHAKE_EXTENSIBILITY_FLAG = Rule(
    "handshake.extensibility-flag",
    8684,
    "3.1",
    Level.MUST,
    "The B (extensibility) flag of MP_CAPABLE is sent as zero.",
)
HANDSHAKE_UNSOLICITED = Rule(
    "handshake.unsolicited",
    8684,
    "3.1",
    Level.MUST,
    "A SYN/ACK carries MP_CAPABLE only in answer to a SYN that carried it.",
)
HANDSHAKE_LAYOUT = Rule(
    "handshake.layout",
    8684,
    "3.1",
    Level.MUST,
    "Each step of the MP_CAPABLE handshake uses its own layout (v1: SYN without key, SYN/ACK with one).",
)
FALLBACK_MPTCP_AFTER_FALLBACK = Rule(
    "fallback.mptcp-after-fallback",
    8684,
    "3.7",
    Level.MUST,
    "A host that knows the connection fell back to TCP sends no more MPTCP options on it.",
)
FASTCLOSE_KEY = Rule(
    "fastclose.key",
    8684,
    "3.5",
    Level.MUST,
    "MP_FASTCLOSE carries the key of the host it is sent to.",
)
FASTCLOSE_DATA_AFTER = Rule(
    "fastclose.data-after",
    8684,
    "3.5",
    Level.MUST,
    "A host that sent MP_FASTCLOSE sends no new data on the connection afterwards.",
)
HANDSHAKE_INITIAL_ONLY = Rule(
    "handshake.initial-only",
    8684,
    "3.1",
    Level.MUST,
    "MP_CAPABLE is used on the first subflow only, never on a subflow opened with MP_JOIN.",
)
FALLBACK_SINGLE_SUBFLOW = Rule(
    "fallback.single-subflow",
    8684,
    "3.7",
    Level.MUST,
    "After sending an infinite mapping, a host sends data on that one subflow only.",
)
FALLBACK_FAIL_REPLY = Rule(
    "fallback.fail-reply",
    8684,
    "3.7",
    Level.MUST,
    "A host that receives MP_FAIL answers with an MP_FAIL of its own in the other direction.",
)
CLOSE_LAST_SUBFLOW = Rule(
    "close.last-subflow",
    8684,
    "3.3.3",
    Level.MUST,
    "A host closes its last subflow only after sending DATA_FIN or having all its data DATA_ACKed.",
)

RULES = (
    HANDSHAKE_VERSION,
    HANDSHAKE_KEY_ECHO,
    HANDSHAKE_KEY_REPEAT,
    HANDSHAKE_CHECKSUM_FLAG,
    HANDSHAKE_HMAC_FLAG,
    HANDSHAKE_EXTENSIBILITY_FLAG,
    HANDSHAKE_UNSOLICITED,
    HANDSHAKE_LAYOUT,
    HANDSHAKE_INITIAL_ONLY,
    FALLBACK_MPTCP_AFTER_FALLBACK,
    FALLBACK_SINGLE_SUBFLOW,
    FALLBACK_FAIL_REPLY,
    FASTCLOSE_KEY,
    FASTCLOSE_DATA_AFTER,
    CLOSE_LAST_SUBFLOW,
)


class ConnPhase(enum.Enum):
    """The connection's phase as the wire shows it."""

    NEW = "new"
    SYN_SENT = "syn-sent"  # SYN with MP_CAPABLE seen
    SYN_RECEIVED = "syn-received"  # SYN/ACK with MP_CAPABLE seen
    ESTABLISHED = "established"
    FALLBACK = "fallback"  # plain TCP (RFC 8684 §3.7)
    FASTCLOSED = "fastclosed"  # MP_FASTCLOSE seen (RFC 8684 §3.5)


class ConnEvent(enum.Enum):
    """What one segment is to the connection machine."""

    CAPABLE_SYN = "capable-syn"
    CAPABLE_SYN_ACK = "capable-syn-ack"
    PLAIN_SYN_ACK = "plain-syn-ack"  # SYN/ACK without MP_CAPABLE on the initial subflow
    CAPABLE_ACK = "capable-ack"  # non-SYN segment with MP_CAPABLE (third ACK or its repeats)
    PLAIN_ACK = "plain-ack"  # the initiator's third ACK without MP_CAPABLE
    MPTCP = "mptcp"  # any other segment carrying MPTCP options
    INFINITE_MAPPING = "infinite-mapping"
    DATA_ACKED_PLAIN = "data-acked-plain"  # a host's data was ACKed without a DATA_ACK, and it knows
    FASTCLOSE = "fastclose"


@dataclass(frozen=True, slots=True)
class PhaseTransition:
    """The next phase and the ids of the rules checked on the way."""

    next: ConnPhase
    rules: tuple[str, ...] = ()


_P = ConnPhase
_C = ConnEvent
_AFTER_FALLBACK = ("fallback.mptcp-after-fallback",)

TRANSITIONS: dict[tuple[ConnPhase, ConnEvent], PhaseTransition] = {
    (_P.NEW, _C.CAPABLE_SYN): PhaseTransition(_P.SYN_SENT),
    (_P.NEW, _C.CAPABLE_SYN_ACK): PhaseTransition(_P.SYN_RECEIVED),
    (_P.NEW, _C.PLAIN_SYN_ACK): PhaseTransition(_P.FALLBACK),
    (_P.NEW, _C.CAPABLE_ACK): PhaseTransition(_P.ESTABLISHED),
    (_P.NEW, _C.MPTCP): PhaseTransition(_P.ESTABLISHED),
    (_P.NEW, _C.INFINITE_MAPPING): PhaseTransition(_P.FALLBACK),
    (_P.NEW, _C.FASTCLOSE): PhaseTransition(_P.FASTCLOSED, ("fastclose.key",)),
    (_P.SYN_SENT, _C.CAPABLE_SYN): PhaseTransition(_P.SYN_SENT),
    (_P.SYN_SENT, _C.CAPABLE_SYN_ACK): PhaseTransition(_P.SYN_RECEIVED),
    (_P.SYN_SENT, _C.PLAIN_SYN_ACK): PhaseTransition(_P.FALLBACK),
    (_P.SYN_SENT, _C.CAPABLE_ACK): PhaseTransition(_P.ESTABLISHED),
    (_P.SYN_SENT, _C.MPTCP): PhaseTransition(_P.ESTABLISHED),
    (_P.SYN_SENT, _C.FASTCLOSE): PhaseTransition(_P.FASTCLOSED, ("fastclose.key",)),
    (_P.SYN_RECEIVED, _C.CAPABLE_SYN): PhaseTransition(_P.SYN_RECEIVED),
    (_P.SYN_RECEIVED, _C.CAPABLE_SYN_ACK): PhaseTransition(_P.SYN_RECEIVED),
    (_P.SYN_RECEIVED, _C.PLAIN_SYN_ACK): PhaseTransition(_P.SYN_RECEIVED),
    (_P.SYN_RECEIVED, _C.CAPABLE_ACK): PhaseTransition(_P.ESTABLISHED),
    (_P.SYN_RECEIVED, _C.PLAIN_ACK): PhaseTransition(_P.FALLBACK),
    (_P.SYN_RECEIVED, _C.MPTCP): PhaseTransition(_P.ESTABLISHED),
    (_P.SYN_RECEIVED, _C.INFINITE_MAPPING): PhaseTransition(_P.FALLBACK),
    (_P.SYN_RECEIVED, _C.FASTCLOSE): PhaseTransition(_P.FASTCLOSED, ("fastclose.key",)),
    (_P.ESTABLISHED, _C.CAPABLE_SYN_ACK): PhaseTransition(_P.ESTABLISHED),
    (_P.ESTABLISHED, _C.CAPABLE_ACK): PhaseTransition(_P.ESTABLISHED, ("handshake.key-repeat",)),
    (_P.ESTABLISHED, _C.MPTCP): PhaseTransition(_P.ESTABLISHED),
    (_P.ESTABLISHED, _C.INFINITE_MAPPING): PhaseTransition(_P.FALLBACK),
    (_P.ESTABLISHED, _C.DATA_ACKED_PLAIN): PhaseTransition(_P.FALLBACK),
    (_P.ESTABLISHED, _C.FASTCLOSE): PhaseTransition(_P.FASTCLOSED, ("fastclose.key",)),
    (_P.FALLBACK, _C.CAPABLE_SYN): PhaseTransition(_P.FALLBACK),
    (_P.FALLBACK, _C.CAPABLE_SYN_ACK): PhaseTransition(_P.FALLBACK, _AFTER_FALLBACK),
    (_P.FALLBACK, _C.PLAIN_SYN_ACK): PhaseTransition(_P.FALLBACK),
    (_P.FALLBACK, _C.CAPABLE_ACK): PhaseTransition(_P.FALLBACK, _AFTER_FALLBACK),
    (_P.FALLBACK, _C.PLAIN_ACK): PhaseTransition(_P.FALLBACK),
    (_P.FALLBACK, _C.MPTCP): PhaseTransition(_P.FALLBACK, _AFTER_FALLBACK),
    (_P.FALLBACK, _C.INFINITE_MAPPING): PhaseTransition(_P.FALLBACK),
    (_P.FALLBACK, _C.FASTCLOSE): PhaseTransition(_P.FALLBACK, _AFTER_FALLBACK),
    (_P.FASTCLOSED, _C.CAPABLE_ACK): PhaseTransition(_P.FASTCLOSED),
    (_P.FASTCLOSED, _C.MPTCP): PhaseTransition(_P.FASTCLOSED, ("fastclose.data-after",)),
    (_P.FASTCLOSED, _C.INFINITE_MAPPING): PhaseTransition(_P.FASTCLOSED, ("fastclose.data-after",)),
    (_P.FASTCLOSED, _C.FASTCLOSE): PhaseTransition(_P.FASTCLOSED, ("fastclose.key",)),
}
"""The connection machine.  Pairs not listed keep the phase and give a ``subflow.state`` finding."""


QUIET_PHASES = frozenset(
    phase for phase in ConnPhase if TRANSITIONS.get((phase, ConnEvent.MPTCP)) == PhaseTransition(phase)
)
"""Phases where a segment with ordinary MPTCP options changes nothing and checks nothing (fast path)."""


class CloseState(enum.Enum):
    """One endpoint's data-level state, RFC 8684 appendix D."""

    ESTABLISHED = "established"
    FIN_WAIT_1 = "fin-wait-1"
    FIN_WAIT_2 = "fin-wait-2"
    CLOSING = "closing"
    TIME_WAIT = "time-wait"
    CLOSE_WAIT = "close-wait"
    LAST_ACK = "last-ack"
    CLOSED = "closed"


class CloseEvent(enum.Enum):
    """Data-level close events of one endpoint."""

    SEND_DATA_FIN = "send-data-fin"
    RECV_DATA_FIN = "recv-data-fin"
    DATA_FIN_ACKED = "data-fin-acked"  # its own DATA_FIN was DATA_ACKed


_D = CloseState
_V = CloseEvent

CLOSE_TRANSITIONS: dict[tuple[CloseState, CloseEvent], CloseState] = {
    (_D.ESTABLISHED, _V.SEND_DATA_FIN): _D.FIN_WAIT_1,
    (_D.ESTABLISHED, _V.RECV_DATA_FIN): _D.CLOSE_WAIT,
    (_D.ESTABLISHED, _V.DATA_FIN_ACKED): _D.FIN_WAIT_2,  # its DATA_FIN was missed by the capture
    (_D.FIN_WAIT_1, _V.SEND_DATA_FIN): _D.FIN_WAIT_1,
    (_D.FIN_WAIT_1, _V.RECV_DATA_FIN): _D.CLOSING,
    (_D.FIN_WAIT_1, _V.DATA_FIN_ACKED): _D.FIN_WAIT_2,
    (_D.FIN_WAIT_2, _V.SEND_DATA_FIN): _D.FIN_WAIT_2,
    (_D.FIN_WAIT_2, _V.RECV_DATA_FIN): _D.TIME_WAIT,
    (_D.FIN_WAIT_2, _V.DATA_FIN_ACKED): _D.FIN_WAIT_2,
    (_D.CLOSING, _V.SEND_DATA_FIN): _D.CLOSING,
    (_D.CLOSING, _V.RECV_DATA_FIN): _D.CLOSING,
    (_D.CLOSING, _V.DATA_FIN_ACKED): _D.TIME_WAIT,
    (_D.TIME_WAIT, _V.SEND_DATA_FIN): _D.TIME_WAIT,
    (_D.TIME_WAIT, _V.RECV_DATA_FIN): _D.TIME_WAIT,
    (_D.TIME_WAIT, _V.DATA_FIN_ACKED): _D.TIME_WAIT,
    (_D.CLOSE_WAIT, _V.SEND_DATA_FIN): _D.LAST_ACK,
    (_D.CLOSE_WAIT, _V.RECV_DATA_FIN): _D.CLOSE_WAIT,
    (_D.CLOSE_WAIT, _V.DATA_FIN_ACKED): _D.CLOSED,
    (_D.LAST_ACK, _V.SEND_DATA_FIN): _D.LAST_ACK,
    (_D.LAST_ACK, _V.RECV_DATA_FIN): _D.LAST_ACK,
    (_D.LAST_ACK, _V.DATA_FIN_ACKED): _D.CLOSED,
    (_D.CLOSED, _V.SEND_DATA_FIN): _D.CLOSED,
    (_D.CLOSED, _V.RECV_DATA_FIN): _D.CLOSED,
    (_D.CLOSED, _V.DATA_FIN_ACKED): _D.CLOSED,
}
"""RFC 8684 appendix D, total: retransmitted DATA_FINs and repeated DATA_ACKs keep the state."""


def check_handshake_version(proposed: int, answered: int) -> bool:
    """``handshake.version``: the answer is no higher than the proposal (RFC 8684 §3.1)."""
    return answered <= proposed


def check_key_echo(echoed: int | None, announced: int) -> bool:
    """``handshake.key-echo``: a key echoed in the third ACK is the one announced (RFC 8684 §3.1)."""
    return echoed == announced


def check_checksum_flag(syn_a: bool, synack_a: bool, ack_a: bool) -> bool:
    """``handshake.checksum-flag``: the third ACK confirms checksums iff either side asked (RFC 8684 §3.1)."""
    return ack_a == (syn_a or synack_a)


def check_fastclose_key(carried: int, receiver_key: int) -> bool:
    """``fastclose.key``: MP_FASTCLOSE carries the receiver's key (RFC 8684 §3.5)."""
    return carried == receiver_key


class Connection:
    """What the monitor knows about the connection as a whole.

    Index 0 of the per-host lists is A (the initiator), 1 is B.  ``keys[i]`` is ``None`` until the
    capture shows it; ``idsn``/``token`` follow from the key and the version.  ``fallback_since[i]`` is
    the frame from which host ``i`` provably knew the connection fell back (0: not known).
    """

    __slots__ = (
        "announced",
        "c_flag_endpoint",
        "capable_flags",
        "checksums",
        "close",
        "data_ack_frame",
        "dss_sent",
        "fail_frame",
        "fallback_reason",
        "fallback_since",
        "fastclose_at",
        "fastclose_frame",
        "handshake_seen",
        "idsn",
        "infinite_subflow",
        "keys",
        "phase",
        "quiet",
        "syn_capable",
        "syn_key",
        "synack_isn",
        "synack_kinds",
        "third_ack_keys",
        "token",
        "unconfirmed",
        "version",
        "version_proposed",
    )

    def __init__(self) -> None:
        self.phase = ConnPhase.NEW
        self.quiet = False
        self.version: int | None = None
        self.version_proposed: int | None = None
        self.syn_capable = False
        self.handshake_seen = False
        self.infinite_subflow: list[str | None] = [None, None]
        self.keys: list[int | None] = [None, None]
        self.announced: tuple[set[int], set[int]] = (set(), set())  # keys in SYNs (v0), in SYN/ACKs
        self.syn_key: int | None = None  # the key of A's latest v0 SYN
        self.token: list[int | None] = [None, None]
        self.idsn: list[int | None] = [None, None]
        self.capable_flags: list[int | None] = [None, None]  # A's SYN flags, B's SYN/ACK flags
        self.checksums: bool | None = None
        self.fallback_reason: str | None = None
        self.fallback_since = [0, 0]
        self.fastclose_frame = [0, 0]
        # (subflow, sequence number after it, whether it was a RST) of that segment
        self.fastclose_at: list[tuple[str, int, bool] | None] = [None, None]
        self.fail_frame = [0, 0]  # first MP_FAIL each host sent on a segment without RST
        self.dss_sent = [0, 0]  # first frame each host sent a DSS
        self.data_ack_frame = [0, 0]  # first frame each host sent a DSS with a DATA_ACK
        self.unconfirmed: list[Unconfirmed | None] = [None, None]  # per data sender, RFC 8684 §3.7
        self.synack_isn: int | None = None
        self.synack_kinds: set[bool] = set()  # whether SYN/ACKs seen carried MP_CAPABLE
        self.third_ack_keys: tuple[int, int] | None = None
        self.c_flag_endpoint: list[tuple[str, int] | None] = [None, None]
        self.close = [CloseState.ESTABLISHED, CloseState.ESTABLISHED]

    def learn_key(self, host: int, key: int) -> bool:
        """Record host ``host``'s key (and its token and IDSN once the version is known); True if new."""
        if self.keys[host] is not None:
            return False
        self.keys[host] = key
        self.derive()
        return True

    def derive(self) -> None:
        """Compute tokens and IDSNs for the keys known, once per key (RFC 8684 §3.1)."""
        version = self.version
        if version not in (0, 1):
            return
        for host in (0, 1):
            key = self.keys[host]
            if key is not None and self.token[host] is None:
                self.token[host] = crypto.key_token(key, version)
                self.idsn[host] = crypto.key_idsn(key, version)
