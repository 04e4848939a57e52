"""What each MPTCP option does to the monitor's models, and the handshake options' records.

``HANDLERS`` (by option class) run before the subflow table's checks: DSS mappings and DATA_ACKs,
ADD_ADDR, REMOVE_ADDR, MP_PRIO, MP_TCPRST, MP_FAIL, MP_FASTCLOSE.  ``RECORDERS`` run after them: the keys,
flags and nonces an MP_CAPABLE or MP_JOIN announced are stored only once the checks that compare
against the earlier ones are done.  ``last_subflow`` is the ``close.last-subflow`` check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from . import dss
from .checksums import answer_checksum_failure
from .connection import (
    CLOSE_LAST_SUBFLOW,
    FALLBACK_FAIL_REPLY,
    FALLBACK_SINGLE_SUBFLOW,
    HANDSHAKE_INITIAL_ONLY,
    ConnPhase,
)
from .context import HOSTS
from .handshake import check_capable_flags
from .join import check_join_flags
from .mapping import DSS_RESERVED_FLAGS, DSS_URGENT
from .options import (
    AddAddr,
    AddAddrV0,
    Dss,
    MpCapable,
    MpFail,
    MpFastclose,
    MpJoinAck,
    MpJoinSyn,
    MpJoinSynAck,
    MpPrio,
    MpTcpRst,
    RemoveAddr,
)
from .paths import PathState
from .segment import ACK, RST, SYN, URG, Segment
from .subflow import Subflow, SubflowState

__all__ = ["HANDLERS", "RECORDERS", "MonitorView", "fail_reply", "last_subflow", "payload_oddities"]


class MonitorView(dss.DataContext, Protocol):
    """What the handlers see of the monitor."""

    @property
    def paths(self) -> PathState: ...

    @property
    def subflows(self) -> dict[tuple[str, int, str, int], Subflow]: ...

    @property
    def complete(self) -> bool: ...

    @property
    def closed(self) -> bool: ...


def on_dss(m: MonitorView, seg: Segment, sub: Subflow, h: int, opt: Dss) -> None:
    if opt is sub.last_dss[h] and not opt.reserved:
        # The very option of this subflow direction's previous DSS (the reader shares the parse of
        # byte-identical options): judged as an option already, its mapping is the current one.
        mapping = sub.mapping[h]
        if mapping is not None and opt.dsn is not None and opt.data_level_length:
            dss.on_mapped_segment(m, seg, sub, h, mapping)
    else:
        _new_dss(m, seg, sub, h, opt)
    if opt.data_ack is not None:
        dss.on_data_ack(m, seg, sub, h, opt.data_ack, opt.data_ack_wide)


def _new_dss(m: MonitorView, seg: Segment, sub: Subflow, h: int, opt: Dss) -> None:
    """A DSS other than this subflow direction's previous one: its bits, then its mapping."""
    sub.last_dss[h] = opt
    conn = m.conn
    if not conn.dss_sent[h]:
        conn.dss_sent[h] = seg.frame
    if opt.reserved:
        m.judge.checks += 1
        m.judge.breach(
            DSS_RESERVED_FLAGS,
            (seg.frame,),
            f"DSS reserved bits {opt.reserved:#x} (expected 0)",
            sub.name,
        )
    dsn = opt.dsn
    if dsn is not None and opt.data_level_length:
        raw = (dsn, opt.ssn, opt.data_level_length, opt.checksum, opt.data_fin)
        mapping = sub.mapping[h]
        if mapping is None or raw != sub.mapping_raw[h]:  # Linux repeats a mapping on each of its segments
            mapping = new_mapping(m, opt, h)
            sub.mapping_raw[h] = raw
            sub.mapping[h] = mapping
            dss.on_mapping(m, seg, sub, h, mapping)
        dss.on_mapped_segment(m, seg, sub, h, mapping)


def new_mapping(m: MonitorView, opt: Dss, h: int) -> dss.Mapping:
    """A new DSS mapping of host ``h``, its DSN made 64-bit (RFC 8684 §3.3.1)."""
    flow = m.data[h]
    assert opt.dsn is not None and opt.ssn is not None and opt.data_level_length is not None
    if opt.data_level_length > 1 or not opt.data_fin:  # a bare DATA_FIN carries no data
        if opt.dsn_wide:
            flow.wide_seen = True
        else:
            flow.wide_only = False
    return dss.Mapping(
        flow.expand(opt.dsn, opt.dsn_wide), opt.ssn, opt.data_level_length, opt.data_fin, opt.checksum
    )


def on_add_addr(m: MonitorView, seg: Segment, sub: Subflow, h: int, opt: AddAddr | AddAddrV0) -> None:
    if not m.conn.dss_sent[h]:
        m.conn.dss_sent[h] = seg.frame  # Linux also counts an ADD_ADDR as proof the path carries options
    m.paths.on_add_addr(m.judge, m.conn, seg, sub, h, opt, lossy=m.lossy(h))


def on_remove_addr(m: MonitorView, seg: Segment, sub: Subflow, h: int, opt: RemoveAddr) -> None:
    m.paths.on_remove_addr(seg, h, opt)


def on_prio(m: MonitorView, seg: Segment, sub: Subflow, h: int, opt: MpPrio) -> None:
    m.paths.on_prio(m.judge, m.conn, seg, sub, h, opt)


def on_tcprst(m: MonitorView, seg: Segment, sub: Subflow, h: int, opt: MpTcpRst) -> None:
    PathState.on_tcprst(m.judge, seg, sub, opt)
    if seg.flags & RST and sub.end != "fastclose":
        sub.end = f"tcprst:{opt.reason}"


def on_fail(m: MonitorView, seg: Segment, sub: Subflow, h: int, opt: MpFail) -> None:
    if not seg.flags & RST and not m.conn.fail_frame[h]:
        m.conn.fail_frame[h] = seg.frame
    if m.checksum_failures:
        answer_checksum_failure(m, seg, h, "MP_FAIL", opt.dsn)


def on_fastclose(m: MonitorView, seg: Segment, sub: Subflow, h: int, opt: MpFastclose) -> None:
    if seg.flags & RST:
        sub.end = "fastclose"


def payload_oddities(m: MonitorView, seg: Segment, sub: Subflow, h: int) -> None:
    conn = m.conn
    if seg.flags & URG and conn.checksums:
        m.judge.checks += 1
        m.judge.breach(
            DSS_URGENT,
            (seg.frame,),
            "urgent data on a subflow of a connection using "
            "checksums (the urgent pointer would interrupt a mapping)",
            sub.name,
        )
    other = conn.infinite_subflow[h]
    if other is not None and other != sub.name:
        m.judge.checks += 1
        message = f"{HOSTS[h]} sends data on {sub.name} after its infinite mapping on {other}"
        if m.complete:
            m.judge.breach(FALLBACK_SINGLE_SUBFLOW, (seg.frame,), message, sub.name)
        else:  # the segment may have been queued on its interface before the infinite mapping left
            m.judge.undetermined(
                FALLBACK_SINGLE_SUBFLOW, (seg.frame,), message + " in capture order", sub.name
            )


def last_subflow(m: MonitorView, seg: Segment, sub: Subflow, h: int) -> None:
    """``close.last-subflow``: a FIN on the sender's last open subflow (RFC 8684 §3.3.3)."""
    conn = m.conn
    if conn.phase is not ConnPhase.ESTABLISHED or sub.end not in ("open", "fin"):
        return
    others = [
        s
        for s in m.subflows.values()
        if s is not sub and s.state not in (SubflowState.CLOSING, SubflowState.CLOSED)
    ]
    flow = m.data[h]
    if others or flow.fin is not None or flow.top is None:
        return
    m.judge.checks += 1
    if flow.acked is not None and ((flow.acked - flow.top) & ((1 << 64) - 1)) < (1 << 63):
        return
    message = (
        f"{HOSTS[h]} closes its last subflow with data up to DSN {flow.top:#x} not DATA_ACKed "
        f"(last DATA_ACK {'none' if flow.acked is None else hex(flow.acked)}) and no DATA_FIN"
    )
    if m.complete:
        m.judge.breach(CLOSE_LAST_SUBFLOW, (seg.frame,), message, sub.name)
    else:  # another subflow, outside the capture, may still be open or carry the DATA_ACK
        m.judge.undetermined(
            CLOSE_LAST_SUBFLOW, (seg.frame,), message + " as far as the capture shows", sub.name
        )


def record_capable(m: MonitorView, seg: Segment, sub: Subflow, h: int, opt: MpCapable) -> None:
    check_capable_flags(m, seg, sub, opt)
    conn = m.conn
    if sub.kind == "join":
        m.judge.checks += 1
        m.judge.breach(
            HANDSHAKE_INITIAL_ONLY, (seg.frame,), "MP_CAPABLE on a subflow opened with MP_JOIN", sub.name
        )
        return
    if sub.kind == "unknown":
        sub.kind = "initial"
    flags = seg.flags
    if flags & SYN and not flags & ACK:
        conn.syn_capable = conn.handshake_seen = True
        # a client may retry with a lower version; the SYN/ACK may answer any of its SYNs (RFC 8684 §3.1)
        conn.version_proposed = max(opt.version, conn.version_proposed or 0)
        conn.capable_flags[0] = opt.flags
        if opt.version == 1 and opt.no_more_subflows:
            conn.c_flag_endpoint[0] = (seg.src, seg.sport)
        if opt.version == 0 and opt.sender_key is not None:
            conn.announced[0].add(opt.sender_key)
            conn.syn_key = opt.sender_key  # A's key, once a v0 SYN/ACK confirms the version
        return
    if flags & SYN:
        conn.version = opt.version
        conn.capable_flags[1] = opt.flags
        if conn.capable_flags[0] is not None:
            conn.checksums = bool((conn.capable_flags[0] | opt.flags) & 0x80)
        if opt.version == 1 and opt.no_more_subflows:
            conn.c_flag_endpoint[1] = (seg.src, seg.sport)
        if opt.sender_key is not None:
            conn.announced[1].add(opt.sender_key)
            learn(m, 1, opt.sender_key)
        if opt.version == 0 and conn.syn_key is not None:
            learn(m, 0, conn.syn_key)
        return
    record_third_ack(m, seg, sub, h, opt)


def record_third_ack(m: MonitorView, seg: Segment, sub: Subflow, h: int, opt: MpCapable) -> None:
    conn = m.conn
    if h != 0 or opt.sender_key is None or opt.receiver_key is None:
        return
    if conn.version is None:
        conn.version = opt.version
    if conn.checksums is None and opt.version == 1:
        conn.checksums = opt.checksum_required
    learn(m, 0, opt.sender_key)
    learn(m, 1, opt.receiver_key)
    if conn.third_ack_keys is None:
        conn.third_ack_keys = (opt.sender_key, opt.receiver_key)
    if not conn.dss_sent[0]:
        conn.dss_sent[0] = seg.frame  # B knows both keys reached it: as good as a DSS for its joins
    if opt.data_length is not None and seg.payload_len:
        idsn = m.data[0].idsn
        if idsn is not None:
            mapping = dss.Mapping((idsn + 1) & ((1 << 64) - 1), 1, opt.data_length, False, opt.checksum)
            key = (mapping.dsn, 1, opt.data_length, opt.checksum, False)
            if key != sub.mapping_raw[0]:
                dss.on_mapping(m, seg, sub, 0, mapping)
            dss.on_mapped_segment(m, seg, sub, 0, mapping)
            sub.mapping_raw[0] = key
            sub.mapping[0] = mapping
            sub.last_dss[0] = None  # the current mapping is no DSS's any more


def learn(m: MonitorView, host: int, key: int) -> None:
    """Record a key; once the version is known, tokens and IDSNs follow (RFC 8684 §3.1)."""
    conn = m.conn
    conn.learn_key(host, key)
    conn.derive()
    for i in (0, 1):
        idsn = conn.idsn[i]
        if idsn is not None and m.data[i].idsn is None:
            m.data[i].set_idsn(idsn)


def record_join(
    m: MonitorView, seg: Segment, sub: Subflow, h: int, opt: MpJoinSyn | MpJoinSynAck | MpJoinAck
) -> None:
    check_join_flags(m, seg, sub, opt)
    sub.kind = "join"
    if isinstance(opt, MpJoinSyn):
        if sub.join_syn is None:
            sub.join_syn = opt
        if opt.nonce not in sub.nonces[0]:  # a retransmitted SYN may carry a fresh nonce
            sub.nonces[0].append(opt.nonce)
        sub.address_ids[0] = opt.address_id
        sub.backup = opt.backup
    elif isinstance(opt, MpJoinSynAck):
        if sub.join_synack is None:
            sub.join_synack = opt
        if opt.nonce not in sub.nonces[1]:
            sub.nonces[1].append(opt.nonce)
        sub.address_ids[1] = opt.address_id
    else:
        sub.join_ack_frame = sub.join_ack_frame or seg.frame


def fail_reply(m: MonitorView) -> None:
    """``fallback.fail-reply`` at the end: every MP_FAIL was answered by one (RFC 8684 §3.7)."""
    fails = m.conn.fail_frame
    for h in (0, 1):
        if not fails[h]:
            continue
        m.judge.checks += 1
        if fails[1 - h]:
            continue
        message = f"{HOSTS[1 - h]} never answered {HOSTS[h]}'s MP_FAIL (frame {fails[h]}) with its own"
        if m.complete:
            m.judge.breach(FALLBACK_FAIL_REPLY, (fails[h],), message)
        else:
            m.judge.undetermined(FALLBACK_FAIL_REPLY, (fails[h],), message + " in the capture")


HANDLERS: dict[type, Callable[..., None]] = {
    Dss: on_dss,
    AddAddr: on_add_addr,
    AddAddrV0: on_add_addr,
    RemoveAddr: on_remove_addr,
    MpPrio: on_prio,
    MpTcpRst: on_tcprst,
    MpFastclose: on_fastclose,
    MpFail: on_fail,
}
"""What each option class does to the models, by class."""

RECORDERS: dict[type, Callable[..., None]] = {
    MpCapable: record_capable,
    MpJoinSyn: record_join,
    MpJoinSynAck: record_join,
    MpJoinAck: record_join,
}
"""What a handshake option leaves behind, by class (run after the segment's checks)."""
