"""Sensitivity: one violation injected into a real kernel capture is caught, by its rule, at its frame.

Each case takes a capture of the corpus (``traces/``, Linux 6.18), changes one thing (an option field
through ``dataclasses.replace`` and the project's serializer, a flag, an inserted or copied segment),
writes it back with the project's writer (same link type and snaplen, so cut payloads stay cut) and
validates it: there must be a violation of exactly the injected rule at the expected frame, and no
other violation.  A control test rewrites every trace used unchanged and expects no violation, so that
what a case catches is the injection and not the rewriting.  Cases marked xfail are the checker's
known misses and cascades, each explained in its reason.

Capture loss is injected too, the other way round: every corpus capture with any one packet left out,
started at any packet or stopped at any packet must give no violation at all (DESIGN.md, Soundness).
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mptcpspec.capture import open_capture
from mptcpspec.capture.writer import write_pcap
from mptcpspec.conformance.replay import validate_file, validate_segments
from mptcpspec.spec.crypto import add_addr_hmac, key_idsn
from mptcpspec.spec.options import (
    AddAddr,
    Dss,
    MpCapable,
    MpFail,
    MpFastclose,
    MpJoinAck,
    MpJoinSyn,
    MpJoinSynAck,
    MpPrio,
    MptcpOption,
    MpTcpRst,
    serialize,
)
from mptcpspec.spec.segment import ACK, RST, SYN, URG, Segment

TRACES = Path(__file__).resolve().parents[2] / "traces"
SERVER_PORT = 8080  # the corpus servers listen there (stacks/recipes.py PORT)
_LINKTYPES = {1: "ethernet", 276: "sll2"}

Edit = Callable[[list[Segment]], int]
"""Changes a capture's segments in place; returns the index of the segment the violation is at."""
Where = Callable[[Segment], bool]


@dataclass(frozen=True, slots=True)
class Capture:
    segments: tuple[Segment, ...]
    linktype: str
    snaplen: int


def _load(name: str) -> Capture:
    """A corpus pcap, with the link type and snaplen to write it back with the same cuts."""
    path = TRACES / name
    magic, snaplen, linktype = struct.unpack("<I12xII", path.read_bytes()[:24])
    assert magic == 0xA1B2C3D4, f"{name}: expected a little-endian microsecond pcap"
    return Capture(tuple(open_capture(path).segments()), _LINKTYPES[linktype], snaplen)


def _with_mptcp(seg: Segment, options: Sequence[MptcpOption]) -> Segment:
    """``seg`` with its MPTCP options replaced by ``options``, its other TCP options kept in order."""
    raw, at, kept = seg.tcp_options, 0, b""
    while at < len(raw) and raw[at] != 0:
        size = 1 if raw[at] == 1 else raw[at + 1]
        if raw[at] != 30:
            kept += raw[at : at + size]
        at += size
    fields = kept + b"".join(serialize(o) for o in options)
    return dataclasses.replace(seg, tcp_options=fields, mptcp=tuple(options))


def _anywhere(seg: Segment) -> bool:
    return True


def _from_server(seg: Segment) -> bool:
    return seg.sport == SERVER_PORT


def _synack(seg: Segment) -> bool:
    return seg.flags & (SYN | ACK) == SYN | ACK


def _third_ack(seg: Segment) -> bool:
    return not seg.flags & SYN and seg.payload_len == 0


def _with_data(seg: Segment) -> bool:
    return seg.payload_len > 0


def _find(segments: Sequence[Segment], kind: type, where: Where = _anywhere, nth: int = 0) -> tuple[int, Any]:
    """The ``nth`` option of type ``kind`` on a segment matching ``where``, and its segment's index."""
    found = [(i, o) for i, s in enumerate(segments) if where(s) for o in s.mptcp if type(o) is kind]
    return found[nth]


def _option(kind: type, change: Callable[[Any], Any], where: Where = _anywhere, nth: int = 0) -> Edit:
    """Replace one option by ``change(option)``; the violation is at its segment."""

    def edit(segments: list[Segment]) -> int:
        index, old = _find(segments, kind, where, nth)
        seg = segments[index]
        segments[index] = _with_mptcp(seg, [change(o) if o is old else o for o in seg.mptcp])
        return index

    return edit


def _fields(kind: type, where: Where = _anywhere, nth: int = 0, **values: Any) -> Edit:
    return _option(kind, lambda o: dataclasses.replace(o, **values), where, nth)


def _flip(kind: type, name: str, mask: int, where: Where = _anywhere, nth: int = 0) -> Edit:
    return _option(kind, lambda o: dataclasses.replace(o, **{name: getattr(o, name) ^ mask}), where, nth)


def _flip_join_ack_hmac(segments: list[Segment]) -> int:
    edit = _option(MpJoinAck, lambda o: dataclasses.replace(o, hmac=bytes([o.hmac[0] ^ 0x80]) + o.hmac[1:]))
    return edit(segments)


def _rst_flag_cleared(segments: list[Segment]) -> int:
    index, _ = _find(segments, MpTcpRst)
    segments[index] = dataclasses.replace(segments[index], flags=segments[index].flags & ~RST)
    return index


def _data_fin(segments: Sequence[Segment]) -> tuple[int, Any]:
    return next((i, o) for i, s in enumerate(segments) for o in s.mptcp if type(o) is Dss and o.data_fin)


def _second_data_fin(segments: list[Segment]) -> int:
    """The DATA_FIN sent once more, 5 bytes further on."""
    index, fin = _data_fin(segments)
    seg = segments[index]
    again = _with_mptcp(seg, [dataclasses.replace(fin, dsn=fin.dsn + 5)])
    segments.insert(index + 1, dataclasses.replace(again, time=seg.time + 1e-6))
    return index + 1


def _data_after_data_fin(segments: list[Segment]) -> int:
    """100 bytes mapped just past the sender's DATA_FIN, right after it."""
    index, fin = _data_fin(segments)
    seg = segments[index]
    isn = next(s.seq for s in segments if s.flags & SYN and s.sport == seg.sport)
    late = dataclasses.replace(seg, time=seg.time + 1e-6, payload_len=100, payload=bytes(100))
    ssn = (seg.seq - isn) % 2**32
    mapping = dataclasses.replace(fin, dsn=fin.dsn + 1, ssn=ssn, data_level_length=100, data_fin=False)
    segments.insert(index + 1, _with_mptcp(late, [mapping]))
    return index + 1


def _ack_past_data_fin(segments: list[Segment]) -> int:
    """The peer's next DATA_ACK moved 1000 bytes beyond the DATA_FIN."""
    index, fin = _data_fin(segments)
    sender, frame = _from_server(segments[index]), segments[index].frame
    later = _fields(Dss, lambda s: _from_server(s) != sender and s.frame > frame, data_ack=fin.dsn + 1000)
    return later(segments)


def _resent_with_other_bytes(segments: list[Segment]) -> int:
    """A whole-payload data segment sent again after its ACK, one byte changed."""
    index = next(i for i, s in enumerate(segments) if s.payload_len and s.payload_complete and i > 3)
    seg = segments[index]
    payload = bytearray(seg.payload)
    payload[50] ^= 0xFF
    segments.insert(
        index + 2, dataclasses.replace(seg, payload=bytes(payload), time=segments[index + 1].time)
    )
    return index + 2


def _dss_changed(seg: Segment, change: Callable[[Any], Any]) -> Segment:
    """``seg`` with its DSS option replaced by ``change(dss)``."""
    return _with_mptcp(seg, [change(o) if type(o) is Dss else o for o in seg.mptcp])


def _repeated_mappings(segments: Sequence[Segment]) -> list[list[int]]:
    """Indexes of the data segments carrying each DSS mapping, for the mappings carried more than once."""
    carriers: dict[tuple[object, ...], list[int]] = {}
    for i, seg in enumerate(segments):
        for o in seg.mptcp:
            if type(o) is Dss and o.dsn is not None and seg.payload_len:
                carriers.setdefault((seg.sport, o.dsn, o.ssn, o.data_level_length), []).append(i)
    return [found for found in carriers.values() if len(found) > 1]


def _checksum_wrong(copies: slice) -> Edit:
    """A wrong DSS checksum (one bit) on ``copies`` of the first mapping carried by several segments;
    the violation is at the mapping's last segment, where all its data is in."""

    def edit(segments: list[Segment]) -> int:
        carriers = _repeated_mappings(segments)[0]
        for index in carriers[copies]:
            segments[index] = _dss_changed(
                segments[index], lambda o: dataclasses.replace(o, checksum=o.checksum ^ 0x100)
            )
        return carriers[-1]

    return edit


def _retransmission_remapped(segments: list[Segment]) -> int:
    """A subflow retransmission (same sequence number) whose mapping is moved 4096 bytes on, chosen so
    that earlier and later segments carry the original mapping."""
    seen: set[tuple[int, int]] = set()
    repeated = {i: found for found in _repeated_mappings(segments) for i in found}
    for index, seg in enumerate(segments):
        key = (seg.sport, seg.seq)
        carriers = repeated.get(index, [index])
        if seg.payload_len and key in seen and carriers[0] < index < carriers[-1]:
            segments[index] = _dss_changed(seg, lambda o: dataclasses.replace(o, dsn=o.dsn + 4096))
            return index
        seen.add(key)
    raise LookupError("no retransmission with a later copy of its mapping")


def _shifted(segments: Sequence[Segment], shift: int, later: float) -> list[Segment]:
    """The same conversation again, ``later`` seconds on, with new initial sequence numbers."""
    moved = []
    for seg in segments:
        mine, theirs = (shift, 2 * shift) if not _from_server(seg) else (2 * shift, shift)
        ack = (seg.ack + theirs) % 2**32 if seg.flags & ACK else seg.ack
        moved.append(dataclasses.replace(seg, seq=(seg.seq + mine) % 2**32, ack=ack, time=seg.time + later))
    return moved


def _on_other_port(segments: Sequence[Segment], port: int) -> list[Segment]:
    def client(p: int) -> int:
        return p if p == SERVER_PORT else port

    return [dataclasses.replace(s, sport=client(s.sport), dport=client(s.dport)) for s in segments]


def _port_reused(connections_between: int) -> Edit:
    """The conversation again on the same 4-tuple (new ISNs), after ``connections_between`` others, with
    the B flag set in its third ACK."""

    def edit(segments: list[Segment]) -> int:
        original, filler = list(segments), _load("gso-off.pcap").segments
        for number in range(connections_between):
            segments += _on_other_port(filler, 30000 + number)
        again = _shifted(original, 1_000_003, 100.0)
        segments += again
        return _flip(MpCapable, "flags", 0x40, lambda s: s is again[2])(segments)

    return edit


def _added(option: MptcpOption, where: Where) -> Edit:
    """``option`` added to the first segment matching ``where``."""

    def edit(segments: list[Segment]) -> int:
        index = next(i for i, s in enumerate(segments) if where(s))
        segments[index] = _with_mptcp(segments[index], [*segments[index].mptcp, option])
        return index

    return edit


def _dss_length_short(segments: list[Segment]) -> int:
    """The length byte of a DSS option one less than its flags need."""
    index = next(i for i, s in enumerate(segments) if i > 4 and any(type(o) is Dss for o in s.mptcp))
    seg = segments[index]
    at = seg.tcp_options.index(b"\x1e")
    raw = bytearray(seg.tcp_options)
    raw[at + 1] -= 1
    segments[index] = dataclasses.replace(seg, tcp_options=bytes(raw), mptcp=())
    return index


def _c_flag_then_join(segments: list[Segment]) -> int:
    """The listener's SYN/ACK sets C (no subflows to this address); the client joins it anyway."""
    _flip(MpCapable, "flags", 0x20, _synack)(segments)
    return _find(segments, MpJoinSyn)[0]


def _option_removed_from_syn(segments: list[Segment]) -> int:
    """The client's SYN without MP_CAPABLE: the listener's MP_CAPABLE answers nothing."""
    segments[0] = _with_mptcp(segments[0], [])
    return 1


def _option_after_implicit_fallback(segments: list[Segment]) -> int:
    """A middlebox strips every MPTCP option after the handshake, so the client's data is ACKed without
    a DATA_ACK and the client must fall back (RFC 8684 §3.7); its last DATA_ACK is left in."""
    target = max(
        i
        for i, s in enumerate(segments)
        if not _from_server(s) and any(type(o) is Dss and o.dsn is None for o in s.mptcp)
    )
    for index in range(3, len(segments)):
        if index != target:
            segments[index] = _with_mptcp(segments[index], [])
    return target


def _address_id_reused(segments: list[Segment]) -> int:
    """The listener announces a new address (with a valid HMAC) under an ID still in use."""
    index, announced = _find(segments, AddAddr)
    key_b, key_a = (
        _find(segments, MpCapable, _synack)[1].sender_key,
        _find(segments, MpCapable, _third_ack)[1].sender_key,
    )
    hmac = add_addr_hmac(key_b, key_a, announced.address_id, "10.233.3.2", announced.port)
    again = dataclasses.replace(announced, address="10.233.3.2", truncated_hmac=hmac)
    sender = segments[index].sport
    later = next(
        i for i, s in enumerate(segments) if i > index + 6 and s.sport == sender and not s.payload_len
    )
    segments[later] = _with_mptcp(segments[later], [*segments[later].mptcp, again])
    return later


def _urgent(segments: list[Segment]) -> int:
    """URG set on a data segment of a connection using DSS checksums."""
    index = next(i for i, s in enumerate(segments) if i > 4 and s.payload_len)
    segments[index] = dataclasses.replace(segments[index], flags=segments[index].flags | URG)
    return index


def _without(kind: type) -> Edit:
    """The first option of type ``kind`` removed; the violation is at the segment after it."""

    def edit(segments: list[Segment]) -> int:
        index, option = _find(segments, kind)
        segments[index] = _with_mptcp(segments[index], [o for o in segments[index].mptcp if o is not option])
        return index + 1

    return edit


def _data_after_fastclose_on_ack(segments: list[Segment]) -> int:
    """The same, with the MP_FASTCLOSE on an ACK (RFC 8684 §3.5's first form) instead of Linux's RST."""
    index, _ = _find(segments, MpFastclose)
    segments[index] = dataclasses.replace(segments[index], flags=ACK)
    return _data_after_fastclose(segments)


def _data_after_fastclose(segments: list[Segment]) -> int:
    """100 bytes of new data from the host that just sent MP_FASTCLOSE, mapped at its first DSN."""
    index, _ = _find(segments, MpFastclose)
    seg = segments[index]
    synack = _find(segments, MpCapable, _synack)[0]
    key = segments[synack].mptcp[0]
    assert isinstance(key, MpCapable) and key.sender_key is not None and segments[synack].sport == seg.sport
    mapping = Dss(
        dsn=key_idsn(key.sender_key) + 1,
        dsn_wide=True,
        ssn=(seg.seq - segments[synack].seq) % 2**32,
        data_level_length=100,
    )
    late = dataclasses.replace(seg, flags=ACK, payload_len=100, payload=bytes(100), time=seg.time + 1e-6)
    segments.insert(index + 1, _with_mptcp(late, [mapping]))
    return index + 1


def _resent_cut_with_other_bytes(segments: list[Segment]) -> int:
    """A subflow retransmission whose captured (snaplen-cut) bytes differ from the first sending's."""
    sent: set[tuple[int, int]] = set()
    for index, seg in enumerate(segments):
        if seg.payload_len and not seg.payload_complete and (seg.sport, seg.seq) in sent:
            payload = bytearray(seg.payload)
            payload[5] ^= 0xFF
            segments[index] = dataclasses.replace(seg, payload=bytes(payload))
            return index
        if seg.payload_len:
            sent.add((seg.sport, seg.seq))
    raise LookupError("no retransmission with a cut payload")


def _ack_beyond_any_window(segments: list[Segment]) -> int:
    """One DATA_ACK 2^31 beyond the previous one (more than any receive window, 2^30 by RFC 7323,
    allows), the listener's next ones unchanged."""
    return _option(
        Dss, lambda o: dataclasses.replace(o, data_ack=(o.data_ack + 2**31) % 2**64), _from_server, nth=4
    )(segments)


@dataclass(frozen=True, slots=True)
class Injection:
    name: str
    trace: str
    edit: Edit
    rule: str
    strict: bool = False


CAUGHT = [
    Injection("join-token", "join.pcap", _flip(MpJoinSyn, "token", 0x10), "join.token"),
    Injection("join-synack-hmac", "join.pcap", _flip(MpJoinSynAck, "truncated_hmac", 1), "join.synack-hmac"),
    Injection("join-ack-hmac", "join.pcap", _flip_join_ack_hmac, "join.ack-hmac"),
    Injection("join-reserved", "join.pcap", _flip(MpJoinSynAck, "flags", 0x08), "join.reserved-flags"),
    Injection("add-addr-hmac", "add-addr.pcap", _flip(AddAddr, "truncated_hmac", 1 << 40), "add-addr.hmac"),
    Injection(
        "add-addr-echo",
        "add-addr.pcap",
        _fields(AddAddr, lambda s: any(type(o) is AddAddr and o.echo for o in s.mptcp), address="10.233.2.9"),
        "add-addr.echo-match",
    ),
    Injection("add-addr-reserved", "add-addr.pcap", _fields(AddAddr, reserved=1), "add-addr.reserved-flags"),
    Injection("fastclose-key", "fastclose.pcap", _flip(MpFastclose, "receiver_key", 2), "fastclose.key"),
    Injection(
        "data-after-fastclose-on-ack", "fastclose.pcap", _data_after_fastclose_on_ack, "fastclose.data-after"
    ),
    Injection(
        "tcprst-reason", "fastclose.pcap", _fields(MpTcpRst, reason=0x7F), "tcprst.reason", strict=True
    ),
    Injection("tcprst-flags", "fastclose.pcap", _flip(MpTcpRst, "flags", 0x4), "tcprst.reserved-flags"),
    Injection("tcprst-without-rst", "fastclose.pcap", _rst_flag_cleared, "tcprst.on-rst", strict=True),
    Injection(
        "capable-b-flag",
        "single-fin.pcap",
        _flip(MpCapable, "flags", 0x40, _third_ack),
        "handshake.extensibility-flag",
    ),
    Injection(
        "capable-a-flag",
        "single-fin.pcap",
        _flip(MpCapable, "flags", 0x80, _third_ack),
        "handshake.checksum-flag",
    ),
    Injection(
        "capable-h-flag", "single-fin.pcap", _flip(MpCapable, "flags", 0x01, _synack), "handshake.hmac-flag"
    ),
    Injection(
        "capable-version", "single-fin.pcap", _fields(MpCapable, _third_ack, version=0), "handshake.version"
    ),
    Injection("capable-syn-key", "single-fin.pcap", _fields(MpCapable, sender_key=12345), "handshake.layout"),
    Injection("prio-v0-layout", "backup-prio.pcap", _fields(MpPrio, address_id=2), "prio.layout"),
    Injection(
        "dss-reserved", "single-fin.pcap", _fields(Dss, _with_data, nth=2, reserved=4), "dss.reserved-flags"
    ),
    Injection("dss-ssn-zero", "single-fin.pcap", _fields(Dss, _with_data, nth=2, ssn=0), "dss.ssn-zero"),
    Injection(
        "dss-before-idsn",
        "single-fin.pcap",
        _option(Dss, lambda o: dataclasses.replace(o, dsn=o.dsn - 2**40), _with_data, nth=2),
        "dss.before-idsn",
    ),
    Injection(
        "data-ack-before-idsn",
        "single-fin.pcap",
        _option(Dss, lambda o: dataclasses.replace(o, data_ack=o.data_ack - 2**40), _from_server, nth=3),
        "data-ack.before-idsn",
    ),
    Injection(
        "data-ack-32-bit",
        "single-fin.pcap",
        _option(
            Dss,
            lambda o: dataclasses.replace(o, data_ack=o.data_ack % 2**32, data_ack_wide=False),
            _from_server,
            nth=6,
        ),
        "dss.ack-width",
    ),
    Injection(
        "checksum-unnegotiated",
        "single-fin.pcap",
        _fields(Dss, _with_data, nth=2, checksum=0x1234),
        "dss.checksum-unnegotiated",
    ),
    Injection(
        "checksum-missing",
        "checksum.pcap",
        _fields(Dss, _with_data, nth=1, checksum=None),
        "dss.checksum-missing",
    ),
    Injection("checksum-every-copy", "checksum.pcap", _checksum_wrong(slice(None)), "dss.checksum"),
    Injection("checksum-first-copy", "checksum.pcap", _checksum_wrong(slice(0, 1)), "dss.checksum"),
    Injection("checksum-before-mp-fail", "mp-fail.pcap", _checksum_wrong(slice(None)), "dss.checksum"),
    Injection("resent-other-bytes", "checksum.pcap", _resent_with_other_bytes, "dss.data-consistent"),
    Injection(
        "data-fin-bare-ssn",
        "single-fin.pcap",
        _fields(Dss, lambda s: any(type(o) is Dss and o.data_fin for o in s.mptcp), ssn=5),
        "data-fin.bare-mapping",
    ),
    Injection("data-fin-twice", "single-fin.pcap", _second_data_fin, "data-fin.consistent"),
    Injection("data-after-data-fin", "single-fin.pcap", _data_after_data_fin, "data-fin.data-after"),
    Injection("data-ack-past-data-fin", "join.pcap", _ack_past_data_fin, "data-ack.beyond-sent"),
    Injection(
        "option-after-fallback",
        "fallback-tcp-server.pcap",
        _added(Dss(data_ack=12345), lambda s: s.payload_len > 0 and not _from_server(s)),
        "fallback.mptcp-after-fallback",
    ),
    Injection("dss-length", "single-fin.pcap", _dss_length_short, "options.malformed"),
    Injection(
        "capable-key-repeat",
        "single-fin.pcap",
        _flip(MpCapable, "receiver_key", 4, _with_data),
        "handshake.key-repeat",
    ),
    Injection("address-id-reused", "add-addr.pcap", _address_id_reused, "add-addr.id-reuse"),
    Injection("urgent-with-checksums", "checksum.pcap", _urgent, "dss.urgent"),
    Injection("join-synack-without-option", "join.pcap", _without(MpJoinSynAck), "join.synack-option"),
    Injection("join-c-flag", "join.pcap", _c_flag_then_join, "join.c-flag"),
    Injection("port-reused", "single-fin.pcap", _port_reused(0), "handshake.extensibility-flag"),
    Injection("synack-unsolicited", "single-fin.pcap", _option_removed_from_syn, "handshake.unsolicited"),
    Injection("port-reused-later", "single-fin.pcap", _port_reused(14), "handshake.extensibility-flag"),
    Injection(
        "option-after-implicit-fallback",
        "single-fin.pcap",
        _option_after_implicit_fallback,
        "fallback.mptcp-after-fallback",
    ),
    Injection(
        "capable-key-echo",
        "single-fin.pcap",
        _flip(MpCapable, "receiver_key", 1, _third_ack),
        "handshake.key-echo",
    ),
    Injection("retransmission-remapped", "loss.pcap", _retransmission_remapped, "dss.mapping-consistent"),
]

MISSED = [
    pytest.param(
        Injection("data-after-fastclose", "fastclose.pcap", _data_after_fastclose, "fastclose.data-after"),
        marks=pytest.mark.xfail(
            strict=True,
            reason="undetermined by design: after a RST carrying MP_FASTCLOSE, data can still reach the "
            "wire from a queue (seen from Linux under load), and a RST's sequence number does not bound it",
        ),
        id="data-after-fastclose",
    ),
    pytest.param(
        Injection(
            "data-ack-beyond-window", "single-fin.pcap", _ack_beyond_any_window, "data-ack.beyond-sent"
        ),
        marks=pytest.mark.xfail(
            strict=True,
            reason="undetermined: a DATA_ACK 2^31 past the previous one (more than any window, RFC 8684 "
            "§3.3.4-§3.3.5), with the next DATA_ACKs on the same subflow (later: their subflow ACK grows) "
            "back 2^31 lower, cannot acknowledge data that was sent, even on subflows the capture missed",
        ),
        id="data-ack-beyond-window",
    ),
    pytest.param(
        Injection("resent-cut-other-bytes", "loss.pcap", _resent_cut_with_other_bytes, "dss.data-consistent"),
        marks=pytest.mark.xfail(
            strict=True,
            reason="undetermined: data sent again is not compared when the snaplen cut it, although both "
            "sendings kept the same first bytes of the same DSNs (104 here) and those differ",
        ),
        id="resent-cut-other-bytes",
    ),
]


def _rewritten(trace: str, edit: Edit | None, out: Path) -> int:
    """Write ``trace`` (changed by ``edit``) to ``out``; return the 1-based frame of the violation."""
    capture = _load(trace)
    segments = list(capture.segments)
    index = edit(segments) if edit is not None else -1
    write_pcap(out, segments, capture.linktype, snaplen=capture.snaplen)
    return index + 1


@pytest.mark.parametrize("trace", sorted({case.trace for case in CAUGHT} | {"gso-off.pcap", "loss.pcap"}))
def test_rewritten_trace_is_clean(trace: str, tmp_path: Path) -> None:
    out = tmp_path / trace
    _rewritten(trace, None, out)
    report = validate_file(out, strict=True)
    assert report.error is None
    assert [(f.rule.id, f.frames) for f in report.findings if f.is_violation] == []


def _check(case: Injection, tmp_path: Path) -> None:
    out = tmp_path / f"{case.name}.pcap"
    frame = _rewritten(case.trace, case.edit, out)
    report = validate_file(out, strict=case.strict)
    assert report.error is None
    found = [(f.rule.id, f.frames, f.message) for f in report.findings if f.is_violation]
    assert found, f"missed: no violation (expected {case.rule} at frame {frame})"
    assert all(rule == case.rule and frames[0] == frame for rule, frames, _ in found), found


@pytest.mark.parametrize("case", CAUGHT, ids=[c.name for c in CAUGHT])
def test_injected_violation_is_caught(case: Injection, tmp_path: Path) -> None:
    _check(case, tmp_path)


@pytest.mark.parametrize("case", MISSED)
def test_known_misses(case: Injection, tmp_path: Path) -> None:
    _check(case, tmp_path)


def _cuts(segments: Sequence[Segment]) -> list[tuple[str, list[Segment]]]:
    """The capture without packet i, from packet i on, and up to packet i, for every i."""
    cuts = []
    for i in range(len(segments)):
        cuts += [
            (f"without frame {i + 1}", [*segments[:i], *segments[i + 1 :]]),
            (f"from frame {i + 1}", list(segments[i:])),
            (f"up to frame {i}", list(segments[:i])),
        ]
    return cuts


_MP_FAIL = "mp-fail.pcap"


@pytest.mark.parametrize("trace", sorted(p.name for p in TRACES.glob("*.pcap")))
def test_capture_loss_is_never_a_violation(trace: str) -> None:
    for cut, segments in _cuts(_load(trace).segments):
        report = validate_segments(segments)
        assert [(f.rule.id, f.frames) for f in report.findings if f.is_violation] == [], cut


def _mp_fail_frame(segments: Sequence[Segment]) -> int:
    return next(i for i, s in enumerate(segments) if any(type(o) is MpFail for o in s.mptcp))


def test_capture_stopped_before_the_mp_fail_is_not_a_violation() -> None:
    segments = _load(_MP_FAIL).segments
    for stop in range(_mp_fail_frame(segments) - 14, _mp_fail_frame(segments)):
        report = validate_segments(segments[:stop])
        assert [(f.rule.id, f.frames) for f in report.findings if f.is_violation] == [], f"up to frame {stop}"


def test_lost_mp_fail_whose_reply_is_seen_is_not_a_violation() -> None:
    segments = list(_load(_MP_FAIL).segments)
    del segments[_mp_fail_frame(segments)]
    report = validate_segments(segments)
    assert [(f.rule.id, f.frames) for f in report.findings if f.is_violation] == []
