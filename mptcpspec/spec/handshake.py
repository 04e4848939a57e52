"""The handshake checks: what the subflow and connection tables name for MP_CAPABLE and MP_JOIN.

Each ``check_*`` procedure here takes the monitor's ``Context`` (the connection, the judge, the options
the capture allows), the segment, the subflow and the sending host (0 = A, the connection's initiator,
1 = B) and reports through the judge; the yes/no decisions are the pure guards of ``connection`` and
``subflow``.  ``record_*`` procedures store what a handshake segment announced, after the checks ran.
"""

from __future__ import annotations

from typing import Protocol

from .connection import (
    FALLBACK_MPTCP_AFTER_FALLBACK,
    FASTCLOSE_DATA_AFTER,
    FASTCLOSE_KEY,
    HANDSHAKE_CHECKSUM_FLAG,
    HANDSHAKE_EXTENSIBILITY_FLAG,
    HANDSHAKE_HMAC_FLAG,
    HANDSHAKE_KEY_ECHO,
    HANDSHAKE_KEY_REPEAT,
    HANDSHAKE_LAYOUT,
    HANDSHAKE_UNSOLICITED,
    HANDSHAKE_VERSION,
    Connection,
    check_checksum_flag,
    check_fastclose_key,
    check_handshake_version,
    check_key_echo,
)
from .options import MpCapable, MpFastclose, MpJoinAck, MpJoinSyn, MpJoinSynAck
from .segment import ACK, RST, SYN, Segment
from .subflow import (
    JOIN_ACK_HMAC,
    JOIN_ACK_OPTION,
    JOIN_BEFORE_DSS,
    JOIN_C_FLAG,
    JOIN_PRE_ESTABLISHED_DATA,
    JOIN_RESERVED_FLAGS,
    JOIN_SYNACK_HMAC,
    JOIN_SYNACK_OPTION,
    JOIN_TOKEN,
    Subflow,
    check_join_ack_hmac,
    check_join_synack_hmac,
    check_join_token,
)
from .verdicts import Judge

__all__ = [
    "CHECKS",
    "Check",
    "Context",
    "capable_option",
    "check_capable_flags",
    "check_join_flags",
    "hexkey",
]


class Context(Protocol):
    """What a check sees of the monitor."""

    @property
    def conn(self) -> Connection: ...

    @property
    def judge(self) -> Judge: ...

    @property
    def complete(self) -> bool: ...


class Check(Protocol):
    def __call__(self, m: Context, seg: Segment, sub: Subflow, h: int, /) -> None: ...


HOSTS = ("A", "B")
_V1_LENGTHS = {"syn": (None,), "syn-ack": (None, 0), "ack": (None, 0)}


def hexkey(value: int | None) -> str:
    """A key, token or HMAC in hex, or ``unknown``."""
    return "unknown" if value is None else f"{value:#x}"


def capable_option(seg: Segment) -> MpCapable | None:
    """The segment's MP_CAPABLE option, if any."""
    for option in seg.mptcp:
        if type(option) is MpCapable:
            return option
    return None


def _first(seg: Segment, kind: type) -> object | None:
    for option in seg.mptcp:
        if type(option) is kind:
            return option
    return None


def check_capable_flags(m: Context, seg: Segment, sub: Subflow, opt: MpCapable) -> None:
    """``handshake.hmac-flag``, ``handshake.extensibility-flag`` and ``handshake.layout`` on an MP_CAPABLE."""
    judge = m.judge
    judge.checks += 3
    if not opt.flags & 0x1F:
        judge.breach(
            HANDSHAKE_HMAC_FLAG,
            (seg.frame,),
            f"MP_CAPABLE flags {opt.flags:#04x} name no crypto algorithm (expected H=1)",
            sub.name,
        )
    if opt.extensibility:
        judge.breach(
            HANDSHAKE_EXTENSIBILITY_FLAG,
            (seg.frame,),
            f"MP_CAPABLE flags {opt.flags:#04x} have B=1 (expected 0)",
            sub.name,
        )
    step = "SYN" if seg.flags & SYN and not seg.flags & ACK else "SYN/ACK" if seg.flags & SYN else "ACK"
    if opt.version == 1:
        has_sender, has_receiver = opt.sender_key is not None, opt.receiver_key is not None
        expected = {"SYN": (False, False), "SYN/ACK": (True, False), "ACK": (True, True)}[step]
        if (has_sender, has_receiver) != expected:
            judge.breach(
                HANDSHAKE_LAYOUT,
                (seg.frame,),
                f"v1 MP_CAPABLE on a {step} carries {int(has_sender) + int(has_receiver)} key(s) "
                f"(expected {sum(expected)})",
                sub.name,
            )


def check_join_flags(
    m: Context, seg: Segment, sub: Subflow, opt: MpJoinSyn | MpJoinSynAck | MpJoinAck
) -> None:
    """``join.reserved-flags``: MP_JOIN's reserved bits are zero (RFC 8684 §3.2)."""
    m.judge.checks += 1
    reserved = opt.reserved if isinstance(opt, MpJoinAck) else opt.flags & 0xE
    if reserved == 0x100 and m.conn.version == 0:
        m.judge.note(
            JOIN_RESERVED_FLAGS,
            (seg.frame,),
            "v0 third ACK has the reserved bit where the SYN carries "
            "the backup flag (the mptcp.org v0 kernel copies it there)",
            sub.name,
        )
    elif reserved:
        m.judge.breach(
            JOIN_RESERVED_FLAGS, (seg.frame,), f"MP_JOIN reserved bits {reserved:#x} (expected 0)", sub.name
        )


def _synack_version(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    conn = m.conn
    opt = capable_option(seg)
    if opt is None or sub.kind != "initial":
        return
    proposed = conn.capable_flags[0]
    if seg.flags & SYN and seg.flags & ACK:
        if proposed is None or conn.version_proposed is None:
            return
        m.judge.checks += 1
        if not check_handshake_version(conn.version_proposed, opt.version):
            m.judge.breach(
                HANDSHAKE_VERSION,
                (seg.frame,),
                f"SYN/ACK answers version {opt.version} to a SYN proposing version "
                f"{conn.version_proposed} (expected at most {conn.version_proposed})",
                sub.name,
            )
    elif conn.version is not None and h == 0:
        m.judge.checks += 1
        if opt.version != conn.version:
            m.judge.breach(
                HANDSHAKE_VERSION,
                (seg.frame,),
                f"third ACK uses version {opt.version} (negotiated {conn.version})",
                sub.name,
            )


def _unsolicited(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    if sub.kind == "join" or capable_option(seg) is None or not sub.syn_seen:
        return
    m.judge.checks += 1
    if not m.conn.syn_capable:
        m.judge.breach(
            HANDSHAKE_UNSOLICITED, (seg.frame,), "SYN/ACK carries MP_CAPABLE but the SYN did not", sub.name
        )


def _key_echo(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    conn = m.conn
    opt = capable_option(seg)
    if opt is None or h != 0 or sub.kind != "initial":
        return
    expected = {0: conn.keys[0] if opt.version == 0 else None, 1: conn.keys[1]}
    echoed = {0: opt.sender_key, 1: opt.receiver_key}
    for host in (0, 1):
        announced = expected[host]
        if announced is None:
            continue
        m.judge.checks += 1
        if not check_key_echo(echoed[host], announced):
            m.judge.breach(
                HANDSHAKE_KEY_ECHO,
                (seg.frame,),
                f"third ACK echoes {HOSTS[host]}'s key as {hexkey(echoed[host])} "
                f"(announced {hexkey(announced)})",
                sub.name,
            )


def _checksum_flag(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    conn = m.conn
    opt = capable_option(seg)
    syn_flags, synack_flags = conn.capable_flags
    if opt is None or h != 0 or opt.version != 1 or syn_flags is None or synack_flags is None:
        return
    m.judge.checks += 1
    syn_a, synack_a = bool(syn_flags & 0x80), bool(synack_flags & 0x80)
    if not check_checksum_flag(syn_a, synack_a, opt.checksum_required):
        m.judge.breach(
            HANDSHAKE_CHECKSUM_FLAG,
            (seg.frame,),
            f"third ACK has A={int(opt.checksum_required)} after SYN A={int(syn_a)} and "
            f"SYN/ACK A={int(synack_a)} (expected {int(syn_a or synack_a)})",
            sub.name,
        )


def _key_repeat(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    opt = capable_option(seg)
    keys = m.conn.third_ack_keys
    if opt is None or keys is None or seg.flags & SYN or h != 0:
        return
    m.judge.checks += 1
    if (opt.sender_key, opt.receiver_key) != keys:
        m.judge.breach(
            HANDSHAKE_KEY_REPEAT,
            (seg.frame,),
            f"repeated MP_CAPABLE carries keys {hexkey(opt.sender_key)}/{hexkey(opt.receiver_key)} "
            f"(third ACK had {hexkey(keys[0])}/{hexkey(keys[1])})",
            sub.name,
        )


def _join_token(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    opt = _first(seg, MpJoinSyn)
    if not isinstance(opt, MpJoinSyn):
        return
    conn = m.conn
    key = conn.keys[1 - h]
    if key is None or conn.version is None:
        m.judge.undetermined(
            JOIN_TOKEN,
            (seg.frame,),
            f"token {opt.token:#010x} not checked: the key of {HOSTS[1 - h]} is not in the capture",
            sub.name,
        )
        return
    m.judge.checks += 1
    ok = check_join_token(opt.token, key, conn.version)
    sub.token_ok = ok
    if not ok:
        m.judge.breach(
            JOIN_TOKEN,
            (seg.frame,),
            f"MP_JOIN token {opt.token:#010x} (expected {HOSTS[1 - h]}'s token {hexkey(conn.token[1 - h])})",
            sub.name,
        )


def _join_c_flag(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    flagged = m.conn.c_flag_endpoint[1 - h]
    if _first(seg, MpJoinSyn) is None or flagged is None:
        return
    m.judge.checks += 1
    if (seg.dst, seg.dport) == flagged:
        m.judge.breach(
            JOIN_C_FLAG,
            (seg.frame,),
            f"join to {seg.dst} port {seg.dport}, which {HOSTS[1 - h]} closed to new subflows "
            "with the C flag",
            sub.name,
        )


def _join_before_dss(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    conn = m.conn
    if _first(seg, MpJoinSyn) is None or not conn.handshake_seen:
        return
    m.judge.checks += 1
    if conn.dss_sent[1 - h]:
        return
    message = f"{HOSTS[h]} opens a subflow before any DSS from {HOSTS[1 - h]} was seen"
    if m.complete:
        m.judge.breach(JOIN_BEFORE_DSS, (seg.frame,), message, sub.name)
    else:
        m.judge.undetermined(
            JOIN_BEFORE_DSS, (seg.frame,), message + " (the capture may have missed it)", sub.name
        )


def _join_synack_hmac(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    opt = _first(seg, MpJoinSynAck)
    if not isinstance(opt, MpJoinSynAck):
        return
    conn, syn = m.conn, sub.join_syn
    joiner = sub.opener
    k_join, k_resp = conn.keys[joiner], conn.keys[1 - joiner]
    if syn is None or k_join is None or k_resp is None or conn.version is None:
        m.judge.undetermined(
            JOIN_SYNACK_HMAC,
            (seg.frame,),
            "SYN/ACK HMAC not checked: the SYN or a key is not in the capture",
            sub.name,
        )
        return
    m.judge.checks += 1
    if check_join_synack_hmac(k_resp, k_join, opt.nonce, syn.nonce, opt.truncated_hmac, conn.version):
        return
    if check_join_synack_hmac(k_join, k_resp, opt.nonce, syn.nonce, opt.truncated_hmac, conn.version):
        m.judge.breach(
            JOIN_TOKEN,
            (sub.first_frame, seg.frame),
            f"the join was sent by {HOSTS[1 - joiner]} with its own token {syn.token:#010x}, as the "
            "listener's HMAC shows (expected the receiver's token)",
            sub.name,
        )
        return
    m.judge.breach(
        JOIN_SYNACK_HMAC,
        (seg.frame,),
        f"SYN/ACK truncated HMAC {opt.truncated_hmac:#018x} (expected "
        f"{_expected_synack(conn, joiner, opt, syn):#018x})",
        sub.name,
    )


def _expected_synack(conn: Connection, joiner: int, opt: MpJoinSynAck, syn: MpJoinSyn) -> int:
    from . import crypto

    k_join, k_resp = conn.keys[joiner], conn.keys[1 - joiner]
    assert k_join is not None and k_resp is not None and conn.version is not None
    return crypto.join_synack_hmac(k_resp, k_join, opt.nonce, syn.nonce, conn.version)


def _join_ack_option(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    if sub.kind != "join" or h != sub.opener or sub.join_synack is None or seg.flags & RST:
        return
    if _first(seg, MpJoinAck) is not None:
        return
    isn_o, isn_r = sub.isn[h], sub.isn[1 - h]
    third_ack_form = (
        isn_o is not None
        and isn_r is not None
        and seg.payload_len == 0
        and seg.seq == (isn_o + 1) & 0xFFFFFFFF
        and seg.ack == (isn_r + 1) & 0xFFFFFFFF
    )
    m.judge.checks += 1
    message = f"{HOSTS[h]}'s third ACK of the join carries no MP_JOIN"
    if third_ack_form and (m.complete or not sub.lossy[h]):
        m.judge.breach(JOIN_ACK_OPTION, (seg.frame,), message, sub.name)
    else:
        m.judge.undetermined(
            JOIN_ACK_OPTION,
            (seg.frame,),
            message + " (this may not be the third ACK: the capture may have missed it)",
            sub.name,
        )


def _join_ack_hmac(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    opt = _first(seg, MpJoinAck)
    if not isinstance(opt, MpJoinAck):
        return
    conn, syn, synack = m.conn, sub.join_syn, sub.join_synack
    k_join, k_resp = conn.keys[h], conn.keys[1 - h]
    if syn is None or synack is None or k_join is None or k_resp is None or conn.version is None:
        m.judge.undetermined(
            JOIN_ACK_HMAC,
            (seg.frame,),
            "third ACK HMAC not checked: a nonce or a key is not in the capture",
            sub.name,
        )
        return
    m.judge.checks += 1
    if not check_join_ack_hmac(k_join, k_resp, syn.nonce, synack.nonce, opt.hmac, conn.version):
        from . import crypto

        expected = crypto.join_ack_hmac(k_join, k_resp, syn.nonce, synack.nonce, conn.version)
        m.judge.breach(
            JOIN_ACK_HMAC,
            (seg.frame,),
            f"third ACK HMAC {opt.hmac[:20].hex()} (expected {expected[:20].hex()})",
            sub.name,
        )


def _join_synack_option(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    if sub.kind != "join" or h != sub.opener or seg.flags & RST or not sub.synack_plain or sub.join_synack:
        return
    m.judge.checks += 1
    m.judge.breach(
        JOIN_SYNACK_OPTION,
        (seg.frame,),
        f"{HOSTS[h]} goes on with a join whose SYN/ACK carried no MP_JOIN (expected a RST)",
        sub.name,
    )


def _pre_established_data(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    if sub.kind != "join" or h != sub.opener or not seg.payload_len or sub.responder_acked:
        return
    m.judge.checks += 1
    message = f"{HOSTS[h]} sends data on the join before the listener acknowledged its third ACK"
    if m.complete:
        m.judge.breach(JOIN_PRE_ESTABLISHED_DATA, (seg.frame,), message, sub.name)
    else:
        m.judge.undetermined(
            JOIN_PRE_ESTABLISHED_DATA,
            (seg.frame,),
            message + " (the capture may have missed that ACK)",
            sub.name,
        )


def _after_fallback(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    conn = m.conn
    if seg.flags & SYN and not seg.flags & ACK:
        return
    since = conn.fallback_since[h]
    m.judge.checks += 1
    if since and seg.frame >= since:
        m.judge.breach(
            FALLBACK_MPTCP_AFTER_FALLBACK,
            (seg.frame, since),
            f"{HOSTS[h]} sends MPTCP options after it knew of the fallback at frame {since} "
            f"({conn.fallback_reason})",
            sub.name,
        )
    elif conn.fallback_reason != "infinite mapping":
        m.judge.undetermined(
            FALLBACK_MPTCP_AFTER_FALLBACK,
            (seg.frame,),
            f"{HOSTS[h]} sends MPTCP options after the fallback ({conn.fallback_reason}), "
            "but the capture does not show that it knew",
            sub.name,
        )


def _fastclose_key(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    opt = _first(seg, MpFastclose)
    if not isinstance(opt, MpFastclose):
        return
    key = m.conn.keys[1 - h]
    if key is None:
        m.judge.undetermined(
            FASTCLOSE_KEY,
            (seg.frame,),
            f"MP_FASTCLOSE key not checked: {HOSTS[1 - h]}'s key is not in the capture",
            sub.name,
        )
        return
    m.judge.checks += 1
    if not check_fastclose_key(opt.receiver_key, key):
        m.judge.breach(
            FASTCLOSE_KEY,
            (seg.frame,),
            f"MP_FASTCLOSE carries key {opt.receiver_key:#x} (expected {HOSTS[1 - h]}'s key {key:#x})",
            sub.name,
        )


def _fastclose_data_after(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    since = m.conn.fastclose_frame[h]
    if not since or not seg.payload_len or seg.flags & RST:
        return
    m.judge.checks += 1
    m.judge.breach(
        FASTCLOSE_DATA_AFTER,
        (seg.frame, since),
        f"{HOSTS[h]} sends {seg.payload_len} bytes of data after its MP_FASTCLOSE at frame {since}",
        sub.name,
    )


CHECKS: dict[str, Check] = {
    "handshake.version": _synack_version,
    "handshake.unsolicited": _unsolicited,
    "handshake.key-echo": _key_echo,
    "handshake.checksum-flag": _checksum_flag,
    "handshake.key-repeat": _key_repeat,
    "join.token": _join_token,
    "join.c-flag": _join_c_flag,
    "join.before-dss": _join_before_dss,
    "join.synack-hmac": _join_synack_hmac,
    "join.ack-option": _join_ack_option,
    "join.ack-hmac": _join_ack_hmac,
    "join.synack-option": _join_synack_option,
    "join.pre-established-data": _pre_established_data,
    "fallback.mptcp-after-fallback": _after_fallback,
    "fastclose.key": _fastclose_key,
    "fastclose.data-after": _fastclose_data_after,
}
"""The check procedure behind each rule id the transition tables name."""
