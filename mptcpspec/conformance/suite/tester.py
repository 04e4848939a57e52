"""The tester: crafts TCP segments towards a stack, records the conversation, matches the replies.

``Tester`` is the packetdrill-like driver of one case.  It keeps a ``Flow`` per subflow (its own
sequence numbers and the stack's), builds segments with the spec's option serializer, and numbers every
segment in and out as a frame of the case's conversation, which is what the monitor judges and what a
per-case capture holds.  ``expect_any`` waits for a segment matching one of several named alternatives
(the allowed answers); ``expect_silence`` checks that nothing of a kind arrives for a while.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ...spec.options import MptcpOption, describe, scan_tcp_options, serialize
from ...spec.segment import SYN, Segment, flags_text
from ..stacks.base import AppOutcome, AppRun, Stack
from .case import Case, CaseFailed, Role

__all__ = ["PORTS_PER_CASE", "Exchange", "Flow", "Match", "Tester", "segment_text"]

Match = Callable[[Segment], bool]
"""A predicate on a segment from the stack."""

_MSS = bytes.fromhex("020405b4")  # MSS 1460, on our SYNs
_WINDOW = 65535
_ISS_BASE = 0x10000000
PORTS_PER_CASE = 10
"""Each case uses ports ``port`` (the stack's server, or the tester's when the stack connects) to
``port + PORTS_PER_CASE - 1`` (the tester's subflows)."""


@dataclass(slots=True)
class Flow:
    """One subflow as the tester sees it: addresses, our next sequence number and the stack's, and
    the receive window we advertise."""

    local: str
    lport: int
    remote: str
    rport: int
    ip_version: int
    iss: int
    snd_nxt: int
    irs: int = 0
    rcv_nxt: int = 0
    fin_received: bool = False
    window: int = _WINDOW

    def inbound(self, segment: Segment) -> bool:
        """Whether ``segment`` was sent by the stack on this subflow."""
        return (segment.src, segment.sport, segment.dst, segment.dport) == (
            self.remote, self.rport, self.local, self.lport,
        )  # fmt: skip

    def ssn(self, seq: int) -> int:
        """The subflow-relative sequence number of our byte ``seq`` (RFC 8684 §3.3.1)."""
        return (seq - self.iss) % (1 << 32)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One frame of a conversation: the segment and whether the tester sent it."""

    segment: Segment
    from_tester: bool


def segment_text(segment: Segment) -> str:
    """A tcpdump-like one-liner: addresses, flags, seq/ack, length and MPTCP options."""
    options = "; ".join(describe(option) for option in segment.mptcp)
    errors = "; ".join(f"malformed: {error.message}" for error in segment.option_errors)
    extra = " ".join(part for part in (options, errors) if part)
    return (
        f"{segment.src}:{segment.sport} > {segment.dst}:{segment.dport} [{flags_text(segment.flags)}] "
        f"seq={segment.seq} ack={segment.ack} len={segment.payload_len}" + (f" {extra}" if extra else "")
    )


class Tester:
    """Drives one case against ``stack``: flows, sending, receiving, expectations, the stack's app."""

    __test__ = False  # not a pytest class

    def __init__(self, stack: Stack, case: Case, port: int) -> None:
        self.stack = stack
        self.case = case
        self.port = port
        self.conversation: list[Exchange] = []
        self.flows: list[Flow] = []
        self.app: AppRun | None = None
        self._next_lport = port + 1

    # --- flows and sending ----------------------------------------------------------------------

    def new_flow(self, *, alt: bool = False, remote_alt: bool = False, rport: int | None = None) -> Flow:
        """A fresh subflow from the tester (its main or alternative address) to the stack's port."""
        version = self.case.ip_version
        local = self.stack.tester_alt_addr(version) if alt else self.stack.tester_addr(version)
        remote = self.stack.stack_alt_addr(version) if remote_alt else self.stack.stack_addr(version)
        iss = _ISS_BASE + 0x01000000 * len(self.flows)
        flow = Flow(local, self._next_lport, remote, rport or self.port, version, iss, iss)
        self._next_lport += 1
        self.flows.append(flow)
        return flow

    def accept_flow(self, syn: Segment) -> Flow:
        """The subflow the stack opens with ``syn`` (tester on the listening side)."""
        iss = _ISS_BASE + 0x01000000 * len(self.flows)
        flow = Flow(syn.dst, syn.dport, syn.src, syn.sport, syn.ip_version, iss, iss, syn.seq, syn.seq + 1)
        self.flows.append(flow)
        return flow

    def send(
        self,
        flow: Flow,
        flags: int,
        options: Sequence[MptcpOption] = (),
        *,
        payload: bytes = b"",
        raw_options: bytes | None = None,
        seq: int | None = None,
        ack: int | None = None,
    ) -> Segment:
        """Send one segment on ``flow``; ``seq`` defaults to (and then advances) our next sequence
        number, ``ack`` to the stack's; ``raw_options`` replaces the serialized MPTCP options."""
        raw = raw_options if raw_options is not None else b"".join(serialize(o) for o in options)
        if flags & SYN:
            raw = _MSS + raw
        mptcp, errors = scan_tcp_options(raw + b"\x00" * (-len(raw) % 4))
        own_seq = seq is None
        segment = Segment(
            0, 0.0, flow.ip_version, flow.local, flow.remote, flow.lport, flow.rport,
            flow.snd_nxt if seq is None else seq, flow.rcv_nxt if ack is None else ack,
            flags, flow.window, len(payload), payload,
            raw + b"\x00" * (-len(raw) % 4), mptcp, errors,
        )  # fmt: skip
        if own_seq:
            flow.snd_nxt = (flow.snd_nxt + segment.seq_space) % (1 << 32)
        self.stack.inject(segment)
        return self._record(segment, True)

    def _record(self, segment: Segment, from_tester: bool) -> Segment:
        framed = replace(segment, frame=len(self.conversation) + 1, time=time.time())
        self.conversation.append(Exchange(framed, from_tester))
        return framed

    # --- receiving --------------------------------------------------------------------------------

    def receive(self, timeout: float) -> Segment | None:
        """The stack's next segment (recorded, and the flow's ``rcv_nxt`` advanced), or ``None``."""
        deadline = time.monotonic() + timeout
        while (segment := self.stack.receive(deadline - time.monotonic())) is not None:
            if self._ours(segment):
                break
        if segment is None:
            return None
        framed = self._record(segment, False)
        for flow in self.flows:
            if flow.inbound(framed) and framed.seq_space and framed.seq == flow.rcv_nxt:
                flow.rcv_nxt = (flow.rcv_nxt + framed.seq_space) % (1 << 32)
                flow.fin_received = flow.fin_received or framed.fin
        return framed

    def _ours(self, segment: Segment) -> bool:
        """Whether ``segment`` belongs to this case: its ports lie in the case's block (a straggler of
        an earlier case does not)."""
        return any(self.port <= port < self.port + PORTS_PER_CASE for port in (segment.sport, segment.dport))

    def expect_any(self, alternatives: Mapping[str, Match], timeout: float = 1.5) -> tuple[str, Segment]:
        """Wait for a segment matching one of the named ``alternatives``; the name and the segment.

        Segments that match none are recorded and skipped; ``CaseFailed`` lists them if time runs out.
        """
        deadline = time.monotonic() + timeout
        seen: list[Segment] = []
        while (segment := self.receive(deadline - time.monotonic())) is not None:
            for name, match in alternatives.items():
                if match(segment):
                    return name, segment
            seen.append(segment)
        wanted = " or ".join(alternatives)
        got = "; ".join(segment_text(s) for s in seen[-4:]) or "nothing"
        raise CaseFailed(f"expected {wanted} within {timeout}s; got {got}", tuple(s.frame for s in seen))

    def expect(self, what: str, match: Match, timeout: float = 1.5) -> Segment:
        """Wait for a segment matching ``match`` (described as ``what``)."""
        return self.expect_any({what: match}, timeout)[1]

    def expect_silence(self, what: str, match: Match, period: float = 0.4) -> list[Segment]:
        """Fail if a segment matching ``match`` arrives within ``period`` s; the others that came."""
        others: list[Segment] = []
        deadline = time.monotonic() + period
        while (segment := self.receive(deadline - time.monotonic())) is not None:
            if match(segment):
                raise CaseFailed(f"expected no {what}; got {segment_text(segment)}", (segment.frame,))
            others.append(segment)
        return others

    def drain(self, period: float = 0.15) -> list[Segment]:
        """Everything the stack sends until it is quiet for ``period`` seconds."""
        return self.expect_silence("segment", lambda segment: False, period)

    def from_stack(self) -> Iterable[Segment]:
        """The stack's segments so far, in order."""
        return (e.segment for e in self.conversation if not e.from_tester)

    # --- the stack's application ------------------------------------------------------------------

    def start_app(self) -> None:
        """Start the stack's server (it listens before this returns) or client, per the case."""
        case = self.case
        start = self.stack.listen if case.role is Role.SERVER else self.stack.connect
        self.app = start(self.port, up=case.up, down=case.down, ip_version=case.ip_version)

    def app_outcome(self, timeout: float = 3.0) -> AppOutcome:
        """Wait for the stack's application to end and return what it reported."""
        if self.app is None:
            raise CaseFailed("the case started no application")
        return self.app.outcome(timeout)

    def stop_app(self) -> None:
        if self.app is not None:
            self.app.stop()
