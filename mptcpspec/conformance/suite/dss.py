"""RFC 8684 §3.3: DSS mappings, DATA_ACK and DATA_FIN, as the tester sends them to the stack.

Families: every DSN/DATA_ACK width with and without checksums (``_FORMS``); mappings spanning several
segments, announced once or repeated (``_SPANS``); segments arriving out of order; DSNs that cross 2^32
(with a key whose IDSN sits just below it); a wrong checksum; data out of the receive window or outside
any mapping; DATA_ACKs of either width, stale or beyond what was sent; DATA_FIN on data, alone, with
the TCP FIN, and from the stack first.
"""

from __future__ import annotations

from collections.abc import Callable

from ...spec.crypto import key_idsn
from ...spec.options import Dss, MpFail
from ...spec.segment import ACK, FIN
from ..stacks.apps import stream
from ..stacks.base import StackConfig
from ..witnesses import model, solve
from .case import Case, CaseFailed, Role
from .matches import option, plain, reset
from .session import CHECKSUM_REQUIRED, HMAC_SHA256, Session, accept_session, dss_of, open_session
from .tester import Tester

__all__ = ["CASES", "WRAP_KEY"]

WRAP_KEY = 0x449658
"""A key whose IDSN + 1 has low 32 bits of 0xfffff0f2: the tester's first DSNs cross 2^32 after
3854 bytes (found by search; ``tests/conformance/test_suite.py`` checks it)."""

_UP = 5000
_MASK64 = (1 << 64) - 1


def _session(t: Tester, *, key: int | None = None) -> Session:
    return open_session(t, key=key, flags=HMAC_SHA256 | (CHECKSUM_REQUIRED if t.case.config.checksum else 0))


def _data_case(name: str, description: str, send: Callable[[Session], None], *, checksum: bool = False,
               key: int | None = None, up: int = _UP) -> Case:  # fmt: skip
    """A case that opens a connection, sends the stack's expected upload with ``send``, requires a
    DATA_ACK of all of it, and closes."""

    def body(t: Tester) -> str:
        session = _session(t, key=key)
        send(session)
        t.expect("DATA_ACK of everything sent", session.acks_all, 2.0)
        return session.close()

    return Case(name, "3.3.1", description, body, StackConfig(checksum=checksum), up=up)


def _forms_case(wide: bool, ack_wide: bool, checksum: bool) -> Case:
    name = f"dss.dsn{64 if wide else 32}-ack{64 if ack_wide else 32}" + ("-checksum" if checksum else "")
    description = f"mappings with {'64' if wide else '32'}-bit DSNs and {'64' if ack_wide else '32'}-bit " \
                  f"DATA_ACKs{' and checksums' if checksum else ''}"  # fmt: skip
    return _data_case(name, description, lambda s: s.upload(wide=wide, ack_wide=ack_wide), checksum=checksum)


def _spanning(session: Session, segments: int, *, repeat: bool, order: tuple[int, ...] = ()) -> None:
    """One mapping over ``segments`` segments (the whole upload), on the first segment only or
    repeated on each; sent in ``order`` (segment indexes) when given."""
    data = stream(8684, session.tester.case.up)
    size = -(-len(data) // segments)
    flow = session.flow
    dss = session.mapping(flow, data)
    first_seq = flow.snd_nxt
    for index in order or range(segments):
        part = data[index * size : (index + 1) * size]
        options = (dss,) if repeat or index == 0 else (session.ack_option(),)
        session.tester.send(flow, ACK, options, payload=part, seq=(first_seq + index * size) % (1 << 32))
    flow.snd_nxt = (first_seq + len(data)) % (1 << 32)
    session.advance(len(data))


def _spans_case(segments: int, repeat: bool, checksum: bool) -> Case:
    name = f"dss.mapping-spans-{segments}{'-repeated' if repeat else ''}{'-checksum' if checksum else ''}"
    text = f"one mapping over {segments} segments, {'repeated on each' if repeat else 'on the first only'}"
    return _data_case(name, text + (", checksummed" if checksum else ""),
                      lambda s: _spanning(s, segments, repeat=repeat), checksum=checksum)  # fmt: skip


def _out_of_order(session: Session) -> None:
    """Two segments with their own mappings, the second sent first (RFC 8684 §3.3: reassembly by DSN)."""
    data = stream(8684, session.tester.case.up)
    half = len(data) // 2
    flow, first_seq, first_dsn = session.flow, session.flow.snd_nxt, session.snd_dsn
    flow.snd_nxt = (first_seq + half) % (1 << 32)
    session.advance(half)
    session.send_data(flow, data[half:])
    end_seq, end_dsn = flow.snd_nxt, session.snd_dsn
    flow.snd_nxt, session.snd_dsn = first_seq, first_dsn
    session.send_data(flow, data[:half])
    flow.snd_nxt, session.snd_dsn = end_seq, end_dsn


def _bad_checksum(t: Tester) -> str:
    """A wrong checksum (after ``good`` correct mappings): MP_FAIL at the failed DSN, on an ACK or a RST
    (RFC 8684 §3.7), and no DATA_ACK of the failed data."""
    session = _session(t)
    good = 1 if t.case.name.endswith("after-good") else 0
    for _ in range(good):
        session.send_data(session.flow, stream(8684, 500))
    if good:
        t.expect("DATA_ACK of the good data", session.acks_all)
    payload = stream(8684, 1000)[500 * good :]
    dss = session.mapping(session.flow, payload)
    broken = Dss(
        dss.data_ack, True, dss.dsn, True, dss.ssn, dss.data_level_length, (dss.checksum or 0) ^ 0x5A5A
    )
    t.send(session.flow, ACK, (broken,), payload=payload)
    fail = t.expect("MP_FAIL", lambda s: option(s, MpFail) is not None, 2.0)
    value = option(fail, MpFail)
    if value is None or value.dsn != session.snd_dsn:
        raise CaseFailed(
            f"MP_FAIL names DSN {value and value.dsn:#x}, not {session.snd_dsn:#x}", (fail.frame,)
        )
    late = [s.frame for s in t.drain() if (ack := session.data_ack_of(s)) and ack > session.snd_dsn]
    if late:
        raise CaseFailed("the stack acknowledged data whose checksum failed", tuple(late))
    return f"wrong checksum answered with MP_FAIL at DSN {value.dsn:#x}" + (" (RST)" if fail.rst else "")


def _out_of_window(t: Tester) -> str:
    session = _session(t)
    far = (session.snd_dsn + (1 << 40)) & ((1 << 64) - 1)
    t.send(session.flow, ACK, (session.mapping(session.flow, b"x" * 100, dsn=far),), payload=b"x" * 100)
    t.expect_silence(
        "DATA_ACK beyond what was sent in window",
        lambda s: (ack := session.data_ack_of(s)) is not None and ack != session.snd_dsn,
        0.3,
    )
    session.upload()
    t.expect("DATA_ACK of the in-window data", session.acks_all)
    return "data 2^40 beyond the window dropped without a DATA_ACK, later data acknowledged"


def _outside_mapping(t: Tester) -> str:
    """A mapping shorter than its segment: the tail is outside any mapping (RFC 8684 §3.3.1)."""
    session = _session(t)
    payload = stream(8684, 1000)
    dss = session.mapping(session.flow, payload[:500])
    t.send(session.flow, ACK, (dss,), payload=payload)
    session.advance(500)
    answer, _ = t.expect_any({
        "RST": reset(session.flow),
        "DATA_ACK of the mapped part only": session.acks_all,
        "plain ACK (fallback)": plain(session.flow),
    })  # fmt: skip
    return f"unmapped tail: {answer}"


def _data_ack_variant(data_ack: Callable[[Session], Dss]) -> Callable[[Tester], str]:
    def body(t: Tester) -> str:
        session = _session(t)
        t.send(session.flow, ACK, (data_ack(session),))
        session.upload()
        return session.close()

    return body


def _beyond_sent(session: Session) -> Dss:
    """A DATA_ACK the ``data-ack.beyond-sent`` model breaks, given the stack's IDSN and what it sent."""
    idsn = key_idsn(session.remote_key)
    fixed = {"idsn": idsn, "sent": (session.rcv_dsn - idsn - 1) & _MASK64}
    return Dss(data_ack=solve(model("data-ack.beyond-sent"), False, fixed)["data_ack"], data_ack_wide=True)


def _before_idsn(session: Session) -> Dss:
    """A DATA_ACK the ``data-ack.before-idsn`` model breaks, given the stack's IDSN."""
    fixed = {"idsn": key_idsn(session.remote_key)}
    return Dss(data_ack=solve(model("data-ack.before-idsn"), False, fixed)["data_ack"], data_ack_wide=True)


def _fin_on_data(t: Tester) -> str:
    session = _session(t)
    data = stream(8684, t.case.up)
    session.send_data(session.flow, data, data_fin=True)
    t.expect("DATA_ACK of data and DATA_FIN", session.acks_all)
    session.download(t.case.down)
    return "DATA_FIN on the data segment acknowledged; " + _end(t, session)


def _fin_with_tcp_fin(t: Tester) -> str:
    session = _session(t)
    session.upload()
    t.send(session.flow, ACK | FIN, (session.mapping(session.flow, b"", data_fin=True),))
    session.advance(1)
    t.expect("DATA_ACK of the DATA_FIN", session.acks_all)
    session.download(t.case.down)
    return "DATA_FIN with the TCP FIN acknowledged; " + _end(t, session)


def _end(t: Tester, session: Session) -> str:
    outcome = t.app_outcome()
    if not outcome.ok:
        raise CaseFailed(f"the stack's application did not get the right data: {outcome.detail}")
    return "application data verified"


def _fin_retransmitted(t: Tester) -> str:
    """The stack's DATA_FIN is acknowledged at the subflow level only: it must come again (§3.3.3)."""
    session = _session(t)
    session.upload()
    session.send_data(session.flow, b"", data_fin=True)
    t.expect("DATA_ACK of our DATA_FIN", session.acks_all)
    fins: list[int] = []
    while len(fins) < 2:
        segment = t.expect("the stack's DATA_FIN, then the same again", session.flow.inbound, 3.0)
        session.take(session.flow, segment)
        dss = dss_of(segment)
        if dss is not None and dss.data_fin:
            fins.append(session.data_fin_dsn or 0)
        if segment.payload_len or (dss is not None and dss.data_fin):
            held = (session.rcv_dsn - int(session.data_fin_dsn is not None)) & _MASK64
            t.send(session.flow, ACK, (Dss(data_ack=held, data_ack_wide=True),))
    if fins[0] != fins[1]:
        raise CaseFailed(f"the DATA_FIN moved from DSN {fins[0]:#x} to {fins[1]:#x}")
    session.send_ack(session.flow)
    return f"unacknowledged DATA_FIN sent again at DSN {fins[0]:#x}; " + _end(t, session)


_SPANS = ((2, False, False), (3, False, False), (3, True, False), (3, False, True), (3, True, True))
"""(segments per mapping, mapping repeated on each segment, checksums)"""

CASES = (
    *(_forms_case(w, a, c) for c in (False, True) for w in (True, False) for a in (True, False)),
    *(_spans_case(n, r, c) for n, r, c in _SPANS),
    _data_case("dss.out-of-order-mappings", "the second of two mappings arrives first", _out_of_order),
    _data_case("dss.out-of-order-in-mapping", "the tail of a spanning mapping arrives before its head",
               lambda s: _spanning(s, 3, repeat=False, order=(2, 1, 0))),
    _data_case("dss.dsn32-wrap", "32-bit DSNs crossing 2^32: the stack infers the upper bits",
               lambda s: s.upload(wide=False), key=WRAP_KEY, up=8000),
    _data_case("dss.dsn64-wrap-low32", "64-bit DSNs whose low 32 bits wrap (carry into the upper half)",
               lambda s: s.upload(), key=WRAP_KEY, up=8000),
    *(Case(f"dss.bad-checksum{suffix}", "3.7", f"a wrong DSS checksum{text}: MP_FAIL, never a DATA_ACK",
           _bad_checksum, StackConfig(checksum=True))
      for suffix, text in (("", " on the first mapping"), ("-after-good", " after a good mapping"))),
    Case("dss.out-of-window", "3.3.1", "a DSN far outside the window is dropped, no DATA_ACK for it (§3.8)",
         _out_of_window),
    Case("dss.outside-mapping", "3.3.1", "payload beyond its mapping: reset, ignore the tail, or fall back",
         _outside_mapping),
    Case("data-ack.tester-32bit", "3.3.2", "the tester acknowledges with 32-bit DATA_ACKs",
         _data_ack_variant(lambda s: s.ack_option(False))),
    Case("data-ack.tester-beyond-sent", "3.3.2", "a DATA_ACK beyond what the stack sent (the solver's "
         "breaking witness) is not acted on", _data_ack_variant(_beyond_sent)),
    Case("data-ack.tester-stale", "3.3.2", "a DATA_ACK below the stack's IDSN (the solver's breaking "
         "witness) does not disturb it", _data_ack_variant(_before_idsn)),
    Case("data-fin.on-data", "3.3.3", "DATA_FIN on the last data segment", _fin_on_data),
    Case("data-fin.with-tcp-fin", "3.3.3", "a bare DATA_FIN together with the subflow FIN",
         _fin_with_tcp_fin),
    Case("data-fin.client-first", "3.3.3", "the stack (client) sends DATA_FIN first; both close",
         lambda t: accept_session(t).close(), role=Role.CLIENT),
    Case("data-fin.client-32bit-acks", "3.3.3", "the stack's DATA_FIN acknowledged with a 32-bit DATA_ACK",
         lambda t: _with_narrow_acks(accept_session(t)), role=Role.CLIENT),
    Case("data-fin.retransmitted", "3.3.3", "a DATA_FIN not acknowledged is sent again at the same DSN",
         _fin_retransmitted),
)  # fmt: skip


def _with_narrow_acks(session: Session) -> str:
    session.ack_wide = False
    return session.close()
