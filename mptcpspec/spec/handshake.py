"""The MP_CAPABLE, fallback and fast-close checks the transition tables name (RFC 8684 §3.1, §3.5, §3.7).

Each procedure takes the monitor's ``Context``, the segment, the subflow and the sending host; the
decisions are the pure guards of ``connection``.
"""

from __future__ import annotations

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
    check_checksum_flag,
    check_fastclose_key,
    check_handshake_version,
    check_key_echo,
)
from .context import HOSTS, Check, Context, first_option, hexkey
from .options import MpCapable, MpFastclose
from .segment import ACK, RST, SYN, Segment
from .subflow import Subflow

__all__ = ["CAPABLE_CHECKS", "capable_option", "check_capable_flags"]


def capable_option(seg: Segment) -> MpCapable | None:
    """The segment's MP_CAPABLE option, if any."""
    return first_option(seg, MpCapable)


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
    echoed = (opt.sender_key, opt.receiver_key)
    for host in (0, 1) if opt.version == 0 else (1,):
        announced = conn.announced[host]
        if not announced:
            continue
        m.judge.checks += 1
        if not any(check_key_echo(echoed[host], key) for key in announced):
            m.judge.breach(
                HANDSHAKE_KEY_ECHO,
                (seg.frame,),
                f"third ACK echoes {HOSTS[host]}'s key as {hexkey(echoed[host])} "
                f"(announced {', '.join(hexkey(k) for k in sorted(announced))})",
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
    carried = (opt.sender_key, opt.receiver_key)
    if not all(_repeats(m.conn.announced[host], keys[host], carried[host]) for host in (0, 1)):
        m.judge.breach(
            HANDSHAKE_KEY_REPEAT,
            (seg.frame,),
            f"repeated MP_CAPABLE carries keys {hexkey(opt.sender_key)}/{hexkey(opt.receiver_key)} "
            f"(third ACK had {hexkey(keys[0])}/{hexkey(keys[1])})",
            sub.name,
        )


def _repeats(announced: set[int], third_ack: int, carried: int | None) -> bool:
    """A later MP_CAPABLE repeats a key of the third ACK; where the third ACK echoed a key that was never
    announced (``handshake.key-echo``, reported there), the announced key is as good a repeat."""
    return carried == third_ack or (bool(announced) and third_ack not in announced and carried in announced)


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
    opt = first_option(seg, MpFastclose)
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
    since, at = m.conn.fastclose_frame[h], m.conn.fastclose_at[h]
    if not since or at is None or not seg.payload_len or seg.flags & RST:
        return
    # Only data the sender provably sent after the MP_FASTCLOSE: further on in the same subflow's
    # sequence space (a segment queued earlier on another interface may be captured later).
    if at[0] != sub.name or (seg.seq - at[1]) & 0xFFFFFFFF >= 0x80000000:
        return
    m.judge.checks += 1
    message = f"{HOSTS[h]} sends {seg.payload_len} bytes of data after its MP_FASTCLOSE at frame {since}"
    if at[2]:
        # A RST's sequence number may lie below data already handed to the link (Linux uses the end
        # of the peer's window there), so a segment queued before the RST can reach the wire after it.
        m.judge.undetermined(
            FASTCLOSE_DATA_AFTER,
            (seg.frame, since),
            f"{message}, which carried a RST: the data may have been queued before it",
            sub.name,
        )
        return
    m.judge.breach(FASTCLOSE_DATA_AFTER, (seg.frame, since), message, sub.name)


CAPABLE_CHECKS: dict[str, Check] = {
    "handshake.version": _synack_version,
    "handshake.unsolicited": _unsolicited,
    "handshake.key-echo": _key_echo,
    "handshake.checksum-flag": _checksum_flag,
    "handshake.key-repeat": _key_repeat,
    "fallback.mptcp-after-fallback": _after_fallback,
    "fastclose.key": _fastclose_key,
    "fastclose.data-after": _fastclose_data_after,
}
"""The check procedure behind each MP_CAPABLE, fallback and fast-close rule id the tables name."""
