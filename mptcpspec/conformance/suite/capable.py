"""RFC 8684 §3.1: MP_CAPABLE negotiation (versions, flags, checksums, keys, data on the third ACK).

The SYN variants the tester offers are one table (``_SYN_OFFERS``): the option bytes sent, and which
answers the stack may give (``MPTCP``: a SYN/ACK with MP_CAPABLE v1, ``TCP``: a SYN/ACK without it).
The stack-as-client variants are a second table (``_SYNACK_OFFERS``): the SYN/ACK the tester answers
with, and whether the stack must go on with MPTCP or fall back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...spec.options import MpCapable, serialize
from ...spec.segment import ACK, RST, SYN
from ..stacks.apps import stream
from ..stacks.base import StackConfig
from ..witnesses import model, solve
from .case import Case, CaseFailed, CaseUnsupported, Role
from .join import JOINING, STACK_UPLOAD, await_join
from .matches import bare_synack, option, plain, reset, synack
from .session import (
    CHECKSUM_REQUIRED,
    HMAC_SHA256,
    NO_MORE_SUBFLOWS,
    accept_session,
    dss_of,
    open_session,
    tester_key,
)
from .tester import Tester

__all__ = ["CASES"]

_MPTCP, _TCP = "SYN/ACK with MP_CAPABLE v1", "SYN/ACK without MPTCP (plain TCP)"


def _raw_capable(version: int, flags: int, key: int | None = None) -> bytes:
    """MP_CAPABLE bytes for any version nibble (the serializer knows only versions 0 and 1)."""
    body = bytes((version & 0xF, flags)) + (key.to_bytes(8, "big") if key is not None else b"")
    return bytes((30, 2 + len(body))) + body


@dataclass(frozen=True, slots=True)
class _SynOffer:
    name: str
    description: str
    options: bytes
    allowed: tuple[str, ...]


_KEY = 0x0123456789ABCDEF
_HIGHER_VERSION = solve(model("handshake.version"), False, {"v_syn": 1})["v_synack"]
_SYN_OFFERS = (
    _SynOffer("v0-offered", "a v0 SYN (key in the SYN); a v1-only stack answers plain TCP or v0",
              serialize(MpCapable(0, HMAC_SHA256, _KEY)), (_TCP,)),
    *(_SynOffer(f"version-{v}", f"an unknown version {v}: answer with a version no higher, or TCP",
                _raw_capable(v, HMAC_SHA256), (_MPTCP, _TCP)) for v in (2, 3, 8, 15)),
    _SynOffer("no-crypto-flag", "no crypto algorithm flag (D-H all 0): the option is invalid, ignore it",
              _raw_capable(1, 0), (_TCP,)),
    _SynOffer("unknown-crypto-flag", "only an unassigned algorithm flag (G): no common algorithm",
              _raw_capable(1, 0x02), (_TCP, _MPTCP)),
    _SynOffer("extensibility-flag", "flag B set: a stack that does not understand it ignores the option",
              _raw_capable(1, 0x40 | HMAC_SHA256), (_TCP,)),
    _SynOffer("syn-with-key", "a v1 SYN of the v0 length (with a key): not a v1 SYN layout",
              _raw_capable(1, HMAC_SHA256, _KEY), (_TCP, _MPTCP)),
    _SynOffer("truncated", "an MP_CAPABLE of length 3: malformed, to be ignored",
              bytes((30, 3, 0x01)), (_TCP,)),
)  # fmt: skip


def _syn_offer_case(offer: _SynOffer) -> Case:
    def body(t: Tester) -> str:
        t.start_app()
        flow = t.new_flow()
        t.send(flow, SYN, raw_options=offer.options)
        alternatives = {
            _MPTCP: lambda s: synack(flow)(s) and _is_v1(option(s, MpCapable)),
            _TCP: bare_synack(flow),
        }
        answer, _ = t.expect_any({k: v for k, v in alternatives.items() if k in offer.allowed})
        t.send(flow, RST)  # the case is over
        return f"answered with a {answer}"

    return Case(f"mp-capable.{offer.name}", "3.1", offer.description, body)


def _is_v1(capable: MpCapable | None) -> bool:
    return (
        capable is not None and capable.version == 1 and capable.hmac_sha and capable.sender_key is not None
    )


def _v1_synack(t: Tester) -> str:
    session = open_session(t)
    synack_segment = next(s for s in t.from_stack() if s.syn)
    capable = option(synack_segment, MpCapable)
    if not _is_v1(capable) or capable is None or capable.flags & 0x5E:
        raise CaseFailed(f"SYN/ACK MP_CAPABLE is not v1 with only H (and A/C) set: {capable}",
                         (synack_segment.frame,))  # fmt: skip
    session.upload()
    return session.close()


def _checksums(t: Tester, *, tester_flag: bool) -> str:
    """Either side requires checksums: the SYN/ACK says so if the stack does, both use them after."""
    session = open_session(t, flags=HMAC_SHA256 | (CHECKSUM_REQUIRED if tester_flag else 0))
    synack_segment = next(s for s in t.from_stack() if s.syn)
    capable = option(synack_segment, MpCapable)
    if t.case.config.checksum and (capable is None or not capable.checksum_required):
        raise CaseFailed(
            "the stack requires checksums but its SYN/ACK has no A flag", (synack_segment.frame,)
        )
    if not session.checksum:
        raise CaseFailed("checksums were not negotiated although a side required them")
    session.upload()
    summary = session.close()
    unchecked = [s.frame for s in t.from_stack() if (d := dss_of(s)) and d.has_mapping and d.checksum is None]
    if unchecked:
        raise CaseFailed("the stack sent mappings without a DSS checksum", tuple(unchecked))
    return summary + ", every mapping checksummed"


def _data_on_third_ack(t: Tester) -> str:
    session = open_session(t, flags=HMAC_SHA256 | (CHECKSUM_REQUIRED if "checksum" in t.case.name else 0),
                           third_ack=False)  # fmt: skip
    payload = stream(8684, t.case.up)
    t.send(session.flow, ACK, (session.third_ack(payload=payload),), payload=payload)
    session.advance(len(payload))
    t.expect("DATA_ACK of the third ACK's data", session.acks_all)
    return session.close()


def _wrong_key_echo(t: Tester) -> str:
    session = open_session(t, third_ack=False)
    t.send(session.flow, ACK, (session.third_ack(receiver_key=session.remote_key ^ 0xFF),))
    session.send_data(session.flow, stream(8684, 100))
    answer, _ = t.expect_any({
        "RST": reset(session.flow),
        "plain ACK (fallback)": plain(session.flow),
        "DATA_ACK of the data (a stateful listener keeps its own key)": session.acks_all,
        "SYN/ACK again (the third ACK dropped)": synack(session.flow),
    })  # fmt: skip
    return f"third ACK with a wrong receiver key: {answer}"


@dataclass(frozen=True, slots=True)
class _SynAckOffer:
    name: str
    description: str
    options: bytes
    mptcp: bool


_SYNACK_OFFERS = (
    _SynAckOffer("synack-v0", "a v0 SYN/ACK to a v1 SYN: lower version the client lacks, fall back",
                 serialize(MpCapable(0, HMAC_SHA256, _KEY)), False),
    _SynAckOffer("synack-higher-version", "a SYN/ACK with a version above the SYN's (the solver's breaking "
                 "witness of handshake.version): not MPTCP",
                 _raw_capable(_HIGHER_VERSION, HMAC_SHA256, _KEY), False),
    _SynAckOffer("synack-no-crypto-flag", "a SYN/ACK naming no algorithm: invalid, plain TCP follows",
                 _raw_capable(1, 0, _KEY), False),
    _SynAckOffer("synack-no-mptcp", "a plain SYN/ACK: the client falls back to TCP (RFC 8684 §3.7)",
                 b"", False),
)  # fmt: skip


def _synack_offer_case(offer: _SynAckOffer) -> Case:
    def body(t: Tester) -> str:
        t.start_app()
        syn = t.expect("SYN with MP_CAPABLE", lambda s: s.syn and not s.has_ack)
        capable = option(syn, MpCapable)
        if capable is None or capable.version != 1 or capable.sender_key is not None or not capable.hmac_sha:
            raise CaseFailed(f"the SYN's MP_CAPABLE is not a v1 SYN option: {capable}", (syn.frame,))
        flow = t.accept_flow(syn)
        t.send(flow, SYN | ACK, raw_options=offer.options)
        answer, _ = t.expect_any({"third ACK without MPTCP": plain(flow), "RST": reset(flow)})
        return f"client answered with a {answer}"

    return Case(f"mp-capable.{offer.name}", "3.1", offer.description, body, role=Role.CLIENT)


def _client_synack_checksum(t: Tester) -> str:
    session = accept_session(t, flags=HMAC_SHA256 | CHECKSUM_REQUIRED)
    third = next(s for s in t.from_stack() if not s.syn and option(s, MpCapable))
    if not session.checksum:
        raise CaseFailed("checksums not negotiated")
    capable = option(third, MpCapable)
    if capable is None or not capable.checksum_required:
        raise CaseFailed("the third ACK does not carry the A flag the SYN/ACK set", (third.frame,))
    summary = session.close()
    unchecked = [s.frame for s in t.from_stack() if (d := dss_of(s)) and d.has_mapping and d.checksum is None]
    if unchecked:
        raise CaseFailed("the client sent mappings without a DSS checksum", tuple(unchecked))
    return summary


def _c_flag_no_join(t: Tester) -> str:
    """Our SYN/ACK sets flag C: the stack must not join to our address and port (RFC 8684 §3.1); the
    same setup without C draws a join (``mp-join.stack-joins``)."""
    session = accept_session(t, flags=HMAC_SHA256 | NO_MORE_SUBFLOWS)
    try:
        syn = await_join(session, 1.5)
    except CaseUnsupported:
        return "no join towards the address that set flag C"
    if (syn.dst, syn.dport) == (session.flow.local, session.flow.lport):
        raise CaseFailed("the stack joined to the address and port whose SYN/ACK set flag C", (syn.frame,))
    return f"the stack joined elsewhere ({syn.dst}:{syn.dport}), not to the flagged address"


def _client_key_echo(t: Tester) -> str:
    session = accept_session(t)
    third = next(s for s in t.from_stack() if not s.syn and option(s, MpCapable))
    capable = option(third, MpCapable)
    if capable is None or capable.receiver_key != tester_key(t.case.name):
        raise CaseFailed(f"the third ACK echoes {capable}, not our key", (third.frame,))
    return session.close()


def _flagged_by(flags: int) -> Callable[[Tester], str]:
    """A whole connection (handshake, data, close) opened with MP_CAPABLE ``flags``."""

    def body(t: Tester) -> str:
        session = open_session(t, flags=flags)
        session.upload()
        return session.close()

    return body


CASES = (
    Case("mp-capable.v1-synack", "3.1", "a v1 SYN gets a v1 SYN/ACK with a key and flag H", _v1_synack),
    *(_syn_offer_case(offer) for offer in _SYN_OFFERS),
    Case("mp-capable.ipv6", "3.1", "handshake, data and close over IPv6", _flagged_by(HMAC_SHA256),
         ip_version=6),
    Case("mp-capable.c-flag", "3.1", "flag C (no more subflows to this address) is accepted",
         _flagged_by(NO_MORE_SUBFLOWS | HMAC_SHA256)),
    Case("mp-capable.checksum-by-tester", "3.1", "the initiator requires checksums: both use them",
         lambda t: _checksums(t, tester_flag=True)),
    Case("mp-capable.checksum-by-stack", "3.1", "the listener requires checksums: A on its SYN/ACK",
         lambda t: _checksums(t, tester_flag=False), StackConfig(checksum=True)),
    Case("mp-capable.checksum-by-both", "3.1", "both require checksums",
         lambda t: _checksums(t, tester_flag=True), StackConfig(checksum=True)),
    Case("mp-capable.data-on-third-ack", "3.1", "data on the third ACK (MP_CAPABLE with data length)",
         _data_on_third_ack),
    Case("mp-capable.data-on-third-ack-checksum", "3.1", "data on the third ACK with its DSS checksum",
         _data_on_third_ack),
    Case("mp-capable.wrong-key-echo", "3.1", "a third ACK echoing a wrong key: reset, fall back, drop it, "
         "or keep the stack's own key (the echo serves stateless listeners)",
         _wrong_key_echo),
    Case("mp-capable.c-flag-no-join", "3.1", "our SYN/ACK sets flag C: the stack opens no join to us",
         _c_flag_no_join, JOINING, Role.CLIENT, up=STACK_UPLOAD),
    Case("mp-capable.client-key-echo", "3.1", "the stack as client echoes both keys on its third ACK",
         _client_key_echo, role=Role.CLIENT),
    Case("mp-capable.client-synack-checksum", "3.1", "the SYN/ACK requires checksums: the client uses them",
         _client_synack_checksum, role=Role.CLIENT),
    *(_synack_offer_case(offer) for offer in _SYNACK_OFFERS),
)  # fmt: skip
