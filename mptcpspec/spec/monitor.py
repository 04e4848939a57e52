"""The monitor: one MPTCP connection, segment by segment, judged against the rule catalogue.

``ConnectionMonitor.step(segment, from_initiator)`` takes each segment of one connection in capture
order, with its direction (sent by A, the connection's initiator, or by B), runs the connection and
subflow machines and the data and path models, and returns the findings it made.  It knows nothing of
files or sockets: the trace checker feeds it from captures, the reference endpoint from what it sends
and receives, the active suite from its conversations.  ``complete=True`` tells it that it sees every
segment of the connection (no capture loss, every subflow), so that checks resting on the absence of a
segment become conclusive.

An observer, when given, receives a ``MonitorEvent`` for every state transition, mapped data and
DATA_ACK advance: the trace (``--trace``) and the sequence graphs are built from them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from . import dss
from .checksums import ChecksumFailure, answer_checksum_failure, unanswered_checksum
from .connection import (
    CLOSE_TRANSITIONS,
    QUIET_PHASES,
    CloseEvent,
    CloseState,
    Connection,
    ConnEvent,
    ConnPhase,
)
from .connection import TRANSITIONS as PHASE_TRANSITIONS
from .context import HOSTS, Check
from .errors import UnknownVersion
from .events import MonitorEvent, Observer
from .fallback import acked_without_data_ack, fallback_known
from .handlers import HANDLERS, RECORDERS, MonitorView, fail_reply, last_subflow, on_dss, payload_oddities
from .handshake import CAPABLE_CHECKS
from .join import JOIN_CHECKS
from .mapping import DataDirection
from .options import Dss, MpCapable, MpFastclose, MpJoinAck, MpJoinSyn, MpJoinSynAck, MptcpOption
from .paths import PathState
from .rules import Finding, Level, Rule
from .segment import ACK, FIN, RST, SYN, URG, Segment
from .subflow import QUIET_STATES, SUBFLOW_STATE, Subflow, SubflowEvent, SubflowState, classify
from .subflow import TRANSITIONS as SUBFLOW_TRANSITIONS
from .verdicts import Judge

__all__ = ["CHECKS", "OPTIONS_MALFORMED", "RULES", "ConnectionMonitor", "MonitorEvent", "Observer"]

OPTIONS_MALFORMED = Rule(
    "options.malformed",
    8684,
    "3",
    Level.MUST,
    "Every MPTCP option has a length and layout defined for its subtype.",
)
RULES = (OPTIONS_MALFORMED,)


class _Transition(Protocol):
    @property
    def rules(self) -> tuple[str, ...]: ...


_S = TypeVar("_S", bound=enum.Enum)
_E = TypeVar("_E", bound=enum.Enum)
_T = TypeVar("_T", bound=_Transition)


CHECKS: dict[str, Check | Callable[[MonitorView, Segment, Subflow, int], None]] = {
    **CAPABLE_CHECKS,
    **JOIN_CHECKS,
    "close.last-subflow": last_subflow,
}
"""Every check procedure the transition tables name, by rule id."""

_DIRECTIONS = ("A>B", "B>A")
_LATER_VERSION = 2  # what a SYN offering an unknown version offers at least
_SYN_FIN_RST_URG = SYN | FIN | RST | URG
Key = tuple[str, int, str, int]


class ConnectionMonitor:
    """The monitor of one connection.  ``conn_id`` names it in findings; ``rules`` filters rule ids."""

    __slots__ = (
        "checksum_failures",
        "complete",
        "conn",
        "data",
        "end_time",
        "first_frame",
        "id",
        "judge",
        "last_frame",
        "observer",
        "paths",
        "start_time",
        "subflows",
    )

    def __init__(
        self,
        conn_id: str,
        *,
        strict: bool = False,
        observer: Observer | None = None,
        rules: Callable[[str], bool] | None = None,
        complete: bool = False,
    ) -> None:
        self.id = conn_id
        self.judge = Judge(conn_id, strict=strict, selected=rules)
        self.conn = Connection()
        self.data = (DataDirection("A>B"), DataDirection("B>A"))
        self.paths = PathState()
        self.subflows: dict[Key, Subflow] = {}
        self.observer = observer
        self.complete = complete
        self.checksum_failures: list[ChecksumFailure] = []
        self.first_frame = 0
        self.last_frame = 0
        self.start_time = 0.0
        self.end_time = 0.0

    # --- the public API -------------------------------------------------------------------------

    def step(self, seg: Segment, from_initiator: bool) -> list[Finding]:
        """Judge one segment, sent by A (``from_initiator``) or by B; returns the findings it made."""
        if from_initiator:
            h, key = 0, (seg.src, seg.sport, seg.dst, seg.dport)
        else:
            h, key = 1, (seg.dst, seg.dport, seg.src, seg.sport)
        sub = self.subflows.get(key)
        if sub is None:
            sub = self._open(key, seg, h)
        self.last_frame = seg.frame
        self.end_time = seg.time
        sub.track(seg, h)
        options = seg.mptcp
        conn = self.conn
        opt = options[0] if len(options) == 1 else None
        if (
            type(opt) is Dss
            and opt.data_level_length != 0
            and opt.data_ack is not None
            and sub.quiet
            and conn.quiet
            and not seg.flags & _SYN_FIN_RST_URG
            and not seg.option_errors
        ):
            # The tables' quiet pairs ((established, mptcp) and (established, ack)) change nothing and
            # check nothing: only the DSS itself remains to be judged.
            on_dss(self, seg, sub, h, opt)
            if seg.payload_len and opt.dsn is None:
                dss.on_payload_without_mapping(self, seg, sub, h)
            return self.judge.take() if self.judge.pending else []
        if seg.option_errors:
            self._malformed(seg, sub, h)
        if conn.phase is ConnPhase.FALLBACK:
            self._fallback_knowledge(seg, h)
        elif conn.unconfirmed[h] is not None:
            known = fallback_known(self, seg, sub, h)
            if known is not None:
                self._phase(known, seg, sub, h)
        event = self._conn_event(seg, sub, h, options)
        if event is not None:
            self._phase(event, seg, sub, h)
        for opt in options:
            handler = HANDLERS.get(type(opt))
            if handler is not None:
                handler(self, seg, sub, h, opt)
        if seg.payload_len and (seg.flags & URG or conn.infinite_subflow[h] is not None):
            payload_oddities(self, seg, sub, h)
        if seg.payload_len and conn.phase is not ConnPhase.FALLBACK and not _maps(options):
            dss.on_payload_without_mapping(self, seg, sub, h)
        acked_without_data_ack(self, seg, sub, h, len(self.subflows))
        self._subflow_step(seg, sub, h)
        for opt in options:
            recorder = RECORDERS.get(type(opt))
            if recorder is not None:
                recorder(self, seg, sub, h, opt)
        return self.judge.take()

    def finish(self) -> list[Finding]:
        """End of the capture: unanswered checksum failures, pending findings, notes on findings left out."""
        for failure in self.checksum_failures:
            unanswered_checksum(self, failure)
        self.checksum_failures = []
        fail_reply(self)
        return self.judge.take() + self.judge.overflow()

    @property
    def closed(self) -> bool:
        """Every subflow ended (a FIN each way, or a RST) or the connection was fast-closed."""
        if self.conn.phase is ConnPhase.FASTCLOSED:
            return True
        return bool(self.subflows) and all(
            s.state is SubflowState.CLOSED or all(s.fins) for s in self.subflows.values()
        )

    @property
    def state(self) -> str:
        """The connection's state in words: its phase, or the data-level close of both hosts."""
        conn = self.conn
        if conn.phase is not ConnPhase.ESTABLISHED:
            return str(conn.phase.value)
        a, b = conn.close
        if a is CloseState.ESTABLISHED and b is CloseState.ESTABLISHED:
            return "established"
        return f"A {a.value}, B {b.value}"

    def lossy(self, h: int) -> bool:
        """Whether the capture missed segments sent by host ``h`` on any subflow."""
        return any(s.lossy[h] for s in self.subflows.values())

    # --- hooks for the procedures ---------------------------------------------------------------

    def close_event(self, host: int, event: CloseEvent, frame: int) -> None:
        """Feed RFC 8684 appendix D for one host."""
        before = self.conn.close[host]
        after = CLOSE_TRANSITIONS[(before, event)]
        if after is not before:
            self.conn.close[host] = after
            if self.observer is not None:
                self._emit_transition(
                    frame, "", host, f"close-{HOSTS[host]}", event.value, before.value, after.value
                )

    def data_event(self, seg: Segment, sub: Subflow, h: int, dsn: int, length: int, kind: str) -> None:
        """Report mapped data or a DATA_ACK advance to the observer, its DSN relative to the sender's IDSN
        (so the first byte is 1), or to the first DSN seen when the keys are not in the capture."""
        if self.observer is None:
            return
        flow = self.data[h if kind != "data_ack" else 1 - h]
        origin = flow.idsn if flow.idsn is not None else flow.base if flow.base is not None else dsn
        rel = ((dsn - origin + (1 << 63)) & ((1 << 64) - 1)) - (1 << 63)
        self.observer(
            MonitorEvent(kind, seg.frame, seg.time, self.id, sub.name, _DIRECTIONS[h], dsn=rel, length=length)
        )

    # --- internals ------------------------------------------------------------------------------

    def _open(self, key: Key, seg: Segment, h: int) -> Subflow:
        opener = h if seg.flags & SYN and not seg.flags & ACK else 1 - h if seg.flags & SYN else h
        sub = Subflow(f"{self.id}/{len(self.subflows)}", key, opener, seg.frame)
        if any(type(o) is MpCapable for o in seg.mptcp) and not any(
            s.kind == "initial" for s in self.subflows.values()
        ):
            sub.kind = "initial"
        elif any(type(o) in (MpJoinSyn, MpJoinSynAck, MpJoinAck) for o in seg.mptcp):
            sub.kind = "join"
        if not self.subflows:
            self.first_frame = seg.frame
            self.start_time = seg.time
        self.subflows[key] = sub
        return sub

    def _malformed(self, seg: Segment, sub: Subflow, h: int) -> None:
        for error in seg.option_errors:
            self.judge.checks += 1
            if isinstance(error, UnknownVersion) and seg.flags & SYN and not seg.flags & ACK:
                # A SYN may offer a later version; the listener answers with one it knows (RFC 8684 §3.1).
                self.conn.syn_capable = self.conn.handshake_seen = True
                self.conn.version_proposed = _LATER_VERSION
                if sub.kind == "unknown":
                    sub.kind = "initial"
                self.judge.note(
                    OPTIONS_MALFORMED,
                    (seg.frame,),
                    f"SYN proposes an MPTCP version this checker does not know: {error.message}",
                    sub.name,
                )
                continue
            self.judge.breach(
                OPTIONS_MALFORMED,
                (seg.frame,),
                f"{HOSTS[h]} sent a malformed MPTCP option: {error.message}",
                sub.name,
            )

    def _conn_event(
        self, seg: Segment, sub: Subflow, h: int, options: tuple[MptcpOption, ...]
    ) -> ConnEvent | None:
        flags = seg.flags
        if options:
            event = ConnEvent.MPTCP
            for opt in options:
                kind = type(opt)
                if kind is MpFastclose:
                    return ConnEvent.FASTCLOSE
                if kind is MpCapable and sub.kind != "join":
                    if flags & SYN:
                        event = ConnEvent.CAPABLE_SYN_ACK if flags & ACK else ConnEvent.CAPABLE_SYN
                    else:
                        event = ConnEvent.CAPABLE_ACK
                elif kind is Dss and opt.data_level_length == 0 and event is ConnEvent.MPTCP:  # type: ignore[union-attr]
                    event = ConnEvent.INFINITE_MAPPING
            return event
        if sub.kind != "initial" or flags & RST:
            return None
        if flags & SYN and flags & ACK:
            return ConnEvent.PLAIN_SYN_ACK if sub.syn_seen or self.conn.syn_capable else None
        if h == 0 and flags & ACK and not flags & SYN and self.conn.phase is ConnPhase.SYN_RECEIVED:
            return ConnEvent.PLAIN_ACK
        return None

    def _phase(self, event: ConnEvent, seg: Segment, sub: Subflow, h: int) -> None:
        conn = self.conn
        before = conn.phase
        transition = self._transition(PHASE_TRANSITIONS, "connection in phase", before, event, seg, sub, h)
        if transition is None:
            return
        if event is ConnEvent.PLAIN_SYN_ACK:
            conn.synack_kinds.add(False)
            if before is not ConnPhase.FALLBACK and not conn.fallback_since[1]:
                conn.fallback_since[1] = seg.frame
                conn.fallback_reason = "SYN/ACK without MP_CAPABLE"
        elif event is ConnEvent.CAPABLE_SYN_ACK:
            conn.synack_kinds.add(True)
        elif event is ConnEvent.PLAIN_ACK:
            conn.fallback_since[0] = seg.frame
            conn.fallback_reason = "third ACK without MP_CAPABLE"
        elif event is ConnEvent.INFINITE_MAPPING and transition.next is ConnPhase.FALLBACK:
            conn.fallback_reason = conn.fallback_reason or "infinite mapping"
            conn.infinite_subflow[h] = sub.name
        elif event is ConnEvent.FASTCLOSE and not conn.fastclose_frame[h]:
            conn.fastclose_frame[h] = seg.frame
            conn.fastclose_at[h] = (sub.name, (seg.seq + seg.payload_len) & 0xFFFFFFFF, bool(seg.flags & RST))
        if transition.next is not before:
            conn.phase = transition.next
            conn.quiet = transition.next in QUIET_PHASES
            if self.observer is not None:
                self._emit_transition(
                    seg.frame, sub.name, h, "connection", event.value, before.value, transition.next.value
                )

    def _transition(
        self,
        table: Mapping[tuple[_S, _E], _T],
        where: str,
        state: _S,
        event: _E,
        seg: Segment,
        sub: Subflow,
        h: int,
    ) -> _T | None:
        """The table's transition for (state, event) after running the checks it names; for a pair the
        table lacks, an undetermined ``subflow.state`` finding and None (DESIGN: never an exception)."""
        transition = table.get((state, event))
        if transition is None:
            self.judge.undetermined(
                SUBFLOW_STATE,
                (seg.frame,),
                f"{where} {state.value} does not expect a {event.value} segment from {HOSTS[h]}",
                sub.name,
            )
            return None
        for rule_id in transition.rules:
            CHECKS[rule_id](self, seg, sub, h)
        return transition

    def _fallback_knowledge(self, seg: Segment, h: int) -> None:
        """A provably knows of B's fallback once it acknowledges a SYN/ACK that had no MP_CAPABLE."""
        conn = self.conn
        if h != 0 or conn.fallback_since[0] or conn.synack_kinds != {False} or conn.synack_isn is None:
            return
        if seg.flags & ACK and not seg.flags & SYN and seg.ack == (conn.synack_isn + 1) & 0xFFFFFFFF:
            conn.fallback_since[0] = seg.frame

    def _subflow_step(self, seg: Segment, sub: Subflow, h: int) -> None:
        event = classify(seg.flags, h == sub.opener)
        before = sub.state
        transition = self._transition(SUBFLOW_TRANSITIONS, "subflow in state", before, event, seg, sub, h)
        if transition is None:
            return
        if event is SubflowEvent.SYN:
            sub.syn_seen = True
            sub.isn[h] = seg.seq
        elif event is SubflowEvent.SYN_ACK:
            sub.isn[h] = seg.seq
            if sub.kind == "initial":
                self.conn.synack_isn = seg.seq
            elif not any(type(o) is MpJoinSynAck for o in seg.mptcp):
                sub.synack_plain = True
        elif event is SubflowEvent.ACK_RESPONDER and before is SubflowState.PRE_ESTABLISHED:
            sub.responder_acked = True
        elif event is SubflowEvent.RST:
            if sub.end == "open":
                sub.end = "rst"
            if self.checksum_failures:
                answer_checksum_failure(self, seg, h, "a RST")
        elif event is SubflowEvent.FIN and sub.end == "open":
            sub.end = "fin"
        if transition.next is not before:
            sub.state = transition.next
            sub.quiet = transition.next in QUIET_STATES
            if self.observer is not None:
                self._emit_transition(
                    seg.frame, sub.name, h, "subflow", event.value, before.value, transition.next.value
                )

    def _emit_transition(
        self, frame: int, subflow: str, h: int, machine: str, event: str, before: str, after: str
    ) -> None:
        assert self.observer is not None
        self.observer(
            MonitorEvent(
                "transition",
                frame,
                self.end_time,
                self.id,
                subflow,
                _DIRECTIONS[h],
                machine=machine,
                event=event,
                before=before,
                after=after,
            )
        )


def _maps(options: tuple[MptcpOption, ...]) -> bool:
    """Whether the options carry a mapping for the segment's payload (a DSS mapping or MP_CAPABLE data)."""
    for option in options:
        if type(option) is Dss and option.dsn is not None:
            return True
        if type(option) is MpCapable and option.data_length is not None:
            return True
    return False
