"""The MP_JOIN checks the subflow table names (RFC 8684 §3.2): token, HMACs, the third and fourth ACK.

Each procedure takes the monitor's ``Context``, the segment, the subflow and the sending host; the
decisions are the pure guards of ``subflow`` (``check_join_token``, ``check_join_synack_hmac``,
``check_join_ack_hmac``).
"""

from __future__ import annotations

from . import crypto
from .context import HOSTS, Check, Context, first_option, hexkey
from .options import MpJoinAck, MpJoinSyn, MpJoinSynAck
from .segment import RST, Segment
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

__all__ = ["JOIN_CHECKS", "check_join_flags"]


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


def _join_token(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    opt = first_option(seg, MpJoinSyn)
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
    if first_option(seg, MpJoinSyn) is None or flagged is None:
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
    if first_option(seg, MpJoinSyn) is None or not conn.handshake_seen:
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
    opt = first_option(seg, MpJoinSynAck)
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
    version, mac, nonces = conn.version, opt.truncated_hmac, sub.nonces[0]
    if any(check_join_synack_hmac(k_resp, k_join, opt.nonce, n, mac, version) for n in nonces):
        return
    if any(check_join_synack_hmac(k_join, k_resp, opt.nonce, n, mac, version) for n in nonces):
        m.judge.breach(
            JOIN_TOKEN,
            (sub.first_frame, seg.frame),
            f"the join was sent by {HOSTS[1 - joiner]} with its own token {syn.token:#010x}, as the "
            "listener's HMAC shows (expected the receiver's token)",
            sub.name,
        )
        return
    expected = crypto.join_synack_hmac(k_resp, k_join, opt.nonce, nonces[-1], version)
    m.judge.breach(
        JOIN_SYNACK_HMAC,
        (seg.frame,),
        f"SYN/ACK truncated HMAC {mac:#018x} (expected {expected:#018x})",
        sub.name,
    )


def _join_ack_option(m: Context, seg: Segment, sub: Subflow, h: int) -> None:
    if sub.kind != "join" or h != sub.opener or sub.join_synack is None or seg.flags & RST:
        return
    if first_option(seg, MpJoinAck) is not None:
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
    opt = first_option(seg, MpJoinAck)
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
    pairs = [(a, b) for a in sub.nonces[0] for b in sub.nonces[1]]
    if not any(check_join_ack_hmac(k_join, k_resp, a, b, opt.hmac, conn.version) for a, b in pairs):
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


JOIN_CHECKS: dict[str, Check] = {
    "join.token": _join_token,
    "join.c-flag": _join_c_flag,
    "join.before-dss": _join_before_dss,
    "join.synack-hmac": _join_synack_hmac,
    "join.ack-option": _join_ack_option,
    "join.ack-hmac": _join_ack_hmac,
    "join.synack-option": _join_synack_option,
    "join.pre-established-data": _pre_established_data,
}
"""The check procedure behind each join rule id the subflow table names."""
