"""The trace checker: capture -> segments -> connections -> monitors -> ``FileReport``.

Segments are grouped into connections by their 4-tuples: an MP_CAPABLE starts a connection, a SYN with
MP_JOIN joins the connection whose token it names (tokens are computed from the keys once they appear).
A join whose token matches no connection seen waits for its SYN/ACK, whose HMAC may still tie it to a
connection (then the token was wrong: ``join.token``); otherwise it becomes a partial connection whose
key-dependent checks are undetermined.  A flow first seen mid-connection (no handshake) is a partial
connection of its own.

Streaming: a connection whose subflows all ended is summarised and its state dropped a while later
(segments still in flight after the close go to it until then), so memory follows the live connections,
not the file.
"""

from __future__ import annotations

import gc
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from ..capture import CaptureError, open_capture
from ..spec.monitor import ConnectionMonitor, MonitorEvent, Observer
from ..spec.options import MpCapable, MpJoinSyn, MpJoinSynAck
from ..spec.rules import Finding
from ..spec.segment import ACK, FIN, RST, SYN, Segment
from ..spec.subflow import Subflow, check_join_synack_hmac
from .results import ConnectionSummary, FileReport, Note, SeriesPoint, SubflowSummary

__all__ = ["summarize", "validate_file", "validate_segments"]

Key = tuple[str, int, str, int]
_RETIRE_AFTER = 2000  # segments a closed connection still receives before it is summarised
_RETIRED_FLOWS = 4096  # flows of summarised connections whose stragglers are dropped silently
_HOSTS = "AB"
_FIN_RST = FIN | RST
_SYN_ACK = SYN | ACK
_YOUNG_THRESHOLD = 100_000  # allocations between collections of the youngest generation while reading


class _Live:
    """A connection being monitored, the flows that lead to it, and its sequence-graph points."""

    __slots__ = ("closed_at", "flows", "monitor", "series", "tokens_done", "tokens_registered")

    def __init__(self, monitor: ConnectionMonitor) -> None:
        self.monitor = monitor
        self.flows: list[Key] = []
        self.series: list[SeriesPoint] = []
        self.tokens_registered = [False, False]
        self.tokens_done = False
        self.closed_at = 0


class _Demux:
    """Routes each segment to its connection's monitor and collects summaries and findings."""

    def __init__(
        self,
        *,
        strict: bool,
        rules: Callable[[str], bool] | None,
        series: bool,
        complete: bool,
        retire_after: int = _RETIRE_AFTER,
        trace: Observer | None = None,
    ) -> None:
        self.strict, self.rules, self.series, self.complete = strict, rules, series, complete
        self.retire_after = retire_after
        self.trace = trace
        self.flows: dict[Key, tuple[_Live, bool]] = {}
        self.tokens: dict[int, tuple[_Live, int]] = {}
        self.unknown_tokens: dict[int, _Live] = {}
        self.live_ids: set[str] = set()
        self.pending: dict[Key, list[Segment]] = {}
        self.closing: OrderedDict[int, _Live] = OrderedDict()
        self.retired: OrderedDict[Key, None] = OrderedDict()
        self.plain_syns: OrderedDict[Key, Segment] = OrderedDict()  # a SYN/ACK with MP_CAPABLE may answer one
        self.summaries: list[ConnectionSummary] = []
        self.findings: list[Finding] = []
        self.count = 0
        self.seen = 0

    # --- routing -------------------------------------------------------------------------------

    def feed(self, seg: Segment) -> None:
        self.seen += 1
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        entry = self.flows.get(key)
        if entry is not None:
            live, from_initiator = entry
            if seg.flags & _SYN_ACK != SYN or not self._reused(live, seg, from_initiator):
                self._step(live, seg, from_initiator)
                return
            self._retire(live)
            del self.retired[key]
        while self.closing and self.seen - next(iter(self.closing.values())).closed_at > self.retire_after:
            self._retire(next(iter(self.closing.values())))
        if key in self.retired:
            if not seg.flags & SYN or seg.flags & ACK:
                return
            del self.retired[key]
        self._new_flow(key, seg)

    def _step(self, live: _Live, seg: Segment, from_initiator: bool) -> None:
        monitor = live.monitor
        found = monitor.step(seg, from_initiator)
        if found:
            self.findings.extend(found)
        if seg.mptcp and not live.tokens_done:
            self._register_tokens(live)
        if seg.flags & _FIN_RST and not live.closed_at and monitor.closed:
            live.closed_at = self.seen
            self.closing[id(live)] = live

    def _reused(self, live: _Live, seg: Segment, from_initiator: bool) -> bool:
        """A SYN with a new ISN on a flow that carried a connection: the port pair was reused."""
        h = 0 if from_initiator else 1
        for sub in live.monitor.subflows.values():
            if _flow_key(sub, h) == (seg.src, seg.sport, seg.dst, seg.dport):
                return sub.isn[h] != seg.seq
        return False

    def _new_flow(self, key: Key, seg: Segment) -> None:
        reverse = (seg.dst, seg.dport, seg.src, seg.sport)
        if reverse in self.pending:
            self._resolve_join(reverse, seg)
            return
        if key in self.pending:
            if seg.flags & SYN:
                self.pending[key].append(seg)
            else:
                self._resolve_join(key, seg)
            return
        if not seg.mptcp and not seg.option_errors:
            if seg.flags & SYN and not seg.flags & ACK:
                self.plain_syns[key] = seg
                if len(self.plain_syns) > _RETIRED_FLOWS:
                    self.plain_syns.popitem(last=False)
            return
        join = next((o for o in seg.mptcp if type(o) is MpJoinSyn), None)
        if isinstance(join, MpJoinSyn) and seg.flags & SYN and not seg.flags & ACK:
            owner = self.tokens.get(join.token)
            if owner is None:
                self.pending[key] = [seg]
                return
            live, owner_host = owner
            self._attach(live, key, owner_host == 1)
            self._step(live, seg, owner_host == 1)
            return
        capable = any(type(o) is MpCapable for o in seg.mptcp)
        if capable:
            from_initiator = not (seg.flags & SYN and seg.flags & ACK)
        else:
            from_initiator = seg.sport > seg.dport if not seg.flags & SYN else not seg.flags & ACK
        live = self._create()
        self._attach(live, key, from_initiator)
        syn = self.plain_syns.pop(reverse, None)
        if syn is not None and seg.flags & SYN:
            self._step(live, syn, True)
        self._step(live, seg, from_initiator)

    def _resolve_join(self, syn_key: Key, seg: Segment) -> None:
        """Tie a join with an unknown token to a connection by its SYN/ACK's HMAC, or start a partial one."""
        syns = self.pending.pop(syn_key)
        join = next(o for o in syns[0].mptcp if type(o) is MpJoinSyn)
        synack = next((o for o in seg.mptcp if type(o) is MpJoinSynAck), None)
        match: tuple[_Live, int] | None = None
        if isinstance(synack, MpJoinSynAck) and isinstance(join, MpJoinSyn):
            match = self._match_hmac(join, synack)
        if match is None:
            live, joiner_is_a = self._partial(join.token), True
        else:
            live, joiner_is_a = match[0], match[1] == 0
        self._attach(live, syn_key, joiner_is_a)
        for syn in syns:
            self._step(live, syn, joiner_is_a)
        self._step(live, seg, joiner_is_a == ((seg.src, seg.sport) == syn_key[:2]))

    def _match_hmac(self, join: MpJoinSyn, synack: MpJoinSynAck) -> tuple[_Live, int] | None:
        for live, _ in {id(v[0]): v for v in self.flows.values()}.values():
            conn = live.monitor.conn
            key_a, key_b = conn.keys
            if key_a is None or key_b is None or conn.version is None:
                continue
            for joiner, (k_join, k_resp) in ((0, (key_a, key_b)), (1, (key_b, key_a))):
                if check_join_synack_hmac(
                    k_resp, k_join, synack.nonce, join.nonce, synack.truncated_hmac, conn.version
                ):
                    return live, joiner
        return None

    # --- bookkeeping ---------------------------------------------------------------------------

    def _create(self) -> _Live:
        self.count += 1
        holder: list[_Live] = []
        trace, series = self.trace, self.series

        def observe(event: MonitorEvent) -> None:
            if series:
                _point(holder[0], event)
            if trace is not None:
                trace(event)

        monitor = ConnectionMonitor(
            f"c{self.count}",
            strict=self.strict,
            rules=self.rules,
            observer=observe if series or trace is not None else None,
            complete=self.complete,
        )
        live = _Live(monitor)
        holder.append(live)
        self.live_ids.add(monitor.id)
        return live

    def _partial(self, token: int) -> _Live:
        """The partial connection of the joins naming ``token``, a token no connection in the capture has."""
        live = self.unknown_tokens.get(token)
        if live is None or live.monitor.id not in self.live_ids:
            live = self.unknown_tokens[token] = self._create()
        return live

    def _attach(self, live: _Live, key: Key, from_initiator: bool) -> None:
        reverse = (key[2], key[3], key[0], key[1])
        self.flows[key] = (live, from_initiator)
        self.flows[reverse] = (live, not from_initiator)
        live.flows += [key, reverse]

    def _register_tokens(self, live: _Live) -> None:
        conn = live.monitor.conn
        for host in (0, 1):
            token = conn.token[host]
            if token is not None and not live.tokens_registered[host]:
                self.tokens[token] = (live, host)
                live.tokens_registered[host] = True
        live.tokens_done = all(live.tokens_registered)

    def _retire(self, live: _Live) -> None:
        self.closing.pop(id(live), None)
        monitor = live.monitor
        self.findings.extend(monitor.finish())
        self.summaries.append(summarize(monitor, tuple(live.series)))
        for key in live.flows:
            if self.flows.get(key, (None,))[0] is live:
                del self.flows[key]
                self.retired[key] = None
        while len(self.retired) > _RETIRED_FLOWS:
            self.retired.popitem(last=False)
        self.live_ids.discard(monitor.id)
        for token in [t for t, (owner, _) in self.tokens.items() if owner is live]:
            del self.tokens[token]
        for token in [t for t, owner in self.unknown_tokens.items() if owner is live]:
            del self.unknown_tokens[token]

    def finish(self) -> tuple[tuple[ConnectionSummary, ...], tuple[Finding, ...]]:
        for syn_key in list(self.pending):
            if syn_key in self.pending:
                syns = self.pending.pop(syn_key)
                join = next(o for o in syns[0].mptcp if type(o) is MpJoinSyn)
                live = self._partial(join.token if isinstance(join, MpJoinSyn) else 0)
                self._attach(live, syn_key, True)
                for syn in syns:
                    self._step(live, syn, True)
        for live in list({id(v[0]): v[0] for v in self.flows.values()}.values()):
            self._retire(live)
        summaries = tuple(sorted(self.summaries, key=lambda s: (s.first_frame, s.id)))
        findings = tuple(sorted(self.findings, key=lambda f: (f.frames[0] if f.frames else 0, f.rule.id)))
        return summaries, findings


def _flow_key(sub: Subflow, h: int) -> Key:
    a, ap, b, bp = sub.tuple
    return (a, ap, b, bp) if h == 0 else (b, bp, a, ap)


def _point(live: _Live, event: MonitorEvent) -> None:
    if event.kind in ("data", "reinjection", "data_ack") and event.dsn is not None:
        live.series.append(
            SeriesPoint(
                event.frame, event.time, event.direction, event.subflow, event.kind, event.dsn, event.length
            )
        )


def summarize(monitor: ConnectionMonitor, series: tuple[SeriesPoint, ...] = ()) -> ConnectionSummary:
    """The ``ConnectionSummary`` of what a monitor has seen so far."""
    conn = monitor.conn
    subflows = tuple(_subflow_summary(sub) for sub in monitor.subflows.values())
    first = next(iter(monitor.subflows.values()), None)
    client = (first.tuple[0], first.tuple[1]) if first else ("", 0)
    server = (first.tuple[2], first.tuple[3]) if first else ("", 0)
    return ConnectionSummary(
        id=monitor.id,
        version=conn.version,
        client=client,
        server=server,
        keys=(conn.keys[0], conn.keys[1]),
        tokens=(conn.token[0], conn.token[1]),
        checksums=conn.checksums,
        fallback=conn.fallback_reason,
        state=monitor.state,
        subflows=subflows,
        data_bytes=(monitor.data[0].data_bytes(), monitor.data[1].data_bytes()),
        first_frame=monitor.first_frame,
        last_frame=monitor.last_frame,
        start_time=monitor.start_time,
        end_time=monitor.end_time,
        checks=monitor.judge.checks,
        series=series,
    )


def _subflow_summary(sub: Subflow) -> SubflowSummary:
    a, ap, b, bp = sub.tuple
    o = sub.opener
    ends = ((a, ap), (b, bp))
    ids = (sub.address_ids[0], sub.address_ids[1])
    if sub.kind == "initial":
        ids = (0, 0)
    return SubflowSummary(
        id=sub.name,
        initiator=ends[o],
        responder=ends[1 - o],
        opened_by=_HOSTS[o] if sub.syn_seen or sub.isn[1 - o] is not None else "?",
        kind=sub.kind,
        address_ids=ids,
        backup=sub.backup,
        first_frame=sub.first_frame,
        last_frame=sub.last_frame,
        end=sub.end,
        packets=sub.packets,
        bytes_sent=(sub.bytes[o], sub.bytes[1 - o]),
    )


def _report(name: str, packets: int, demux: _Demux, notes: tuple[Note, ...], started: float) -> FileReport:
    connections, findings = demux.finish()
    return FileReport(name, packets, connections, findings, notes, None, time.perf_counter() - started)


@contextmanager
def _young_garbage() -> Iterator[None]:
    """Collect cyclic garbage less often while a capture streams through (restored afterwards).

    Every packet allocates a Segment, its fields and its options, nearly all freed by reference counting
    a moment later; with CPython's default threshold the collector still walks the young objects every
    700 allocations.  On a 335,719-packet capture that was about a sixth of ``mptcpspec validate``'s time.
    """
    before = gc.get_threshold()
    gc.set_threshold(_YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def validate_segments(
    segments: Iterable[Segment],
    *,
    name: str = "<segments>",
    strict: bool = False,
    rules: Callable[[str], bool] | None = None,
    series: bool = False,
    complete: bool = False,
    trace: Observer | None = None,
) -> FileReport:
    """Validate segments in capture order (e.g. a crafted conversation).

    ``complete=True`` says the segments are everything both hosts sent (no capture loss, every
    subflow), which makes checks that rest on a segment's absence conclusive.  ``trace`` receives every
    ``MonitorEvent`` of every connection (the CLI's ``--trace``).
    """
    started = time.perf_counter()
    demux = _Demux(strict=strict, rules=rules, series=series, complete=complete, trace=trace)
    count = 0
    for seg in segments:
        count += 1
        demux.feed(seg)
    return _report(name, count, demux, (), started)


def validate_file(
    path: str | os.PathLike[str],
    *,
    strict: bool = False,
    rules: Callable[[str], bool] | None = None,
    series: bool = False,
    trace: Observer | None = None,
) -> FileReport:
    """Validate one capture file; an unusable input gives a report with ``error`` set, never an exception.

    ``strict`` makes deviations from SHOULDs violations; ``rules`` selects the rule ids reported;
    ``series`` fills each connection's sequence-graph points; ``trace`` receives every ``MonitorEvent``.
    """
    started = time.perf_counter()
    name = os.fspath(path)
    try:
        reader = open_capture(path)
    except CaptureError as exc:
        return FileReport(name, 0, error=str(exc), seconds=time.perf_counter() - started)
    demux = _Demux(strict=strict, rules=rules, series=series, complete=False, trace=trace)
    segments: Iterator[Segment] = reader.segments(mptcp_only=True)
    with _young_garbage():
        for seg in segments:
            demux.feed(seg)
    notes = tuple(Note(n.frame, n.kind, n.message) for n in reader.notes)
    return _report(name, reader.packets, demux, notes, started)
