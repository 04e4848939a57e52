"""RFC 8684 §3.7: fallback to regular TCP (no MP_CAPABLE, first data without DSS, options stripped
mid-connection, an infinite mapping).

After a fallback the subflow is plain TCP: the tester then moves the application's bytes with
``plain_exchange`` and requires the stack's application to have received them intact.
"""

from __future__ import annotations

from collections.abc import Callable

from ...spec.options import MpFail
from ...spec.segment import ACK, FIN, SYN, Segment
from ...spec.seqnum import infer_dsn64
from ..stacks.apps import stream
from ..stacks.base import StackConfig
from .case import Case, CaseFailed
from .matches import bare_synack, option, plain, reset
from .session import CHECKSUM_REQUIRED, HMAC_SHA256, Session, dss_of, open_session
from .tester import Flow, Tester

__all__ = ["CASES"]


def plain_exchange(t: Tester, flow: Flow, sent: int = 0) -> str:
    """Finish the upload (from byte ``sent``) as plain TCP with a FIN, read the answer to its FIN."""
    data = stream(8684, t.case.up)
    for start in range(sent, len(data), 1400):
        t.send(flow, ACK, payload=data[start : start + 1400])
    t.send(flow, ACK | FIN)
    received = bytearray()
    while not flow.fin_received:
        segment = t.expect("the answer as plain TCP", lambda s: flow.inbound(s) and not s.rst, 3.0)
        received += segment.payload
        if segment.seq_space:
            t.send(flow, ACK)
    if bytes(received) != stream(8685, t.case.down):
        raise CaseFailed(f"the stack answered {len(received)} bytes that are not its application's stream")
    outcome = t.app_outcome()
    if not outcome.ok:
        raise CaseFailed(f"the stack's application did not get the right data: {outcome.detail}")
    options = [s.frame for s in t.from_stack() if s.payload_len and _finite_mapping(s)]
    if options:
        raise CaseFailed("the stack kept sending DSS mappings after the fallback", tuple(options))
    return f"plain TCP: {t.case.up} bytes up and {t.case.down} down verified"


def _finite_mapping(segment: Segment) -> bool:
    dss = dss_of(segment)
    return dss is not None and dss.has_mapping and not dss.is_infinite_mapping


def _plain_syn(t: Tester) -> str:
    t.start_app()
    flow = t.new_flow()
    t.send(flow, SYN)
    reply = t.expect("SYN/ACK without MPTCP", bare_synack(flow))
    flow.irs, flow.rcv_nxt = reply.seq, (reply.seq + 1) % (1 << 32)
    t.send(flow, ACK)
    return plain_exchange(t, flow)


def _after(prepare: Callable[[Session], int]) -> Callable[[Tester], str]:
    """Open a connection, let ``prepare`` send the data that causes the fallback (it returns the bytes
    of the upload sent so far), then finish as plain TCP."""

    def body(t: Tester) -> str:
        session = open_session(t)
        sent = prepare(session)
        answer, _ = t.expect_any(
            {
                "plain ACK (fallback)": plain(session.flow),
                "RST": reset(session.flow),
                "DATA_ACK": lambda s: session.flow.inbound(s) and session.acks_all(s),
            }
        )
        if answer == "RST":
            return "the stack reset the subflow (its only one): allowed when it cannot fall back"
        return plain_exchange(t, session.flow, sent)

    return body


def _no_dss(session: Session) -> int:
    data = stream(8684, 1000)
    session.tester.send(session.flow, ACK, payload=data)
    return len(data)


def _infinite(session: Session) -> int:
    data = stream(8684, 1000)
    dss = session.mapping(session.flow, b"")
    infinite = type(dss)(dss.data_ack, True, dss.dsn, True, session.flow.ssn(session.flow.snd_nxt), 0)
    session.tester.send(session.flow, ACK, (infinite,), payload=data)
    return len(data)


def _stripped(session: Session) -> int:
    data = stream(8684, 2000)
    session.send_data(session.flow, data[:1000])
    session.tester.expect("DATA_ACK of the mapped data", session.acks_all)
    session.tester.send(session.flow, ACK, payload=data[1000:])
    return len(data)


def _mp_fail_reply(t: Tester) -> str:
    """We report a checksum failure (MP_FAIL) on the stack's data: it must answer MP_FAIL and revert to
    TCP, or reset the subflow with MP_FAIL (RFC 8684 §3.7)."""
    session = open_session(t, flags=HMAC_SHA256 | CHECKSUM_REQUIRED)
    session.upload()
    session.send_data(session.flow, b"", data_fin=True)
    t.expect("DATA_ACK of our data and DATA_FIN", session.acks_all)
    flow = session.flow
    data = t.expect(
        "the stack's data", lambda s: flow.inbound(s) and s.payload_len > 0 and _finite_mapping(s)
    )
    dss = dss_of(data)
    assert dss is not None and dss.dsn is not None
    dsn = dss.dsn if dss.dsn_wide else infer_dsn64(dss.dsn, session.rcv_dsn)
    t.send(flow, ACK, (MpFail(dsn),), ack=(data.seq + data.payload_len) % (1 << 32))
    reply = t.expect("MP_FAIL in answer", lambda s: flow.inbound(s) and option(s, MpFail) is not None)
    return f"MP_FAIL at DSN {dsn:#x} answered with MP_FAIL" + (" on a RST" if reply.rst else "")


CASES = (
    Case("fallback.plain-syn", "3.7", "a SYN without MP_CAPABLE: plain TCP throughout", _plain_syn),
    Case("fallback.first-data-without-dss", "3.7", "the first data carries no DSS: the stack falls back",
         _after(_no_dss)),
    Case("fallback.infinite-mapping", "3.7", "an infinite mapping on the first data: plain TCP after",
         _after(_infinite)),
    Case("fallback.options-stripped", "3.7", "DSS options vanish mid-connection (a middlebox strips them): "
         "fall back or reset the only subflow", _after(_stripped), up=2000),
    Case("fallback.mp-fail-reply", "3.7", "MP_FAIL from the tester is answered with MP_FAIL", _mp_fail_reply,
         StackConfig(checksum=True)),
)  # fmt: skip
