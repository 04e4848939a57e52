"""What a capture of a scenario must show, what it does show, and the difference.

``observe(path)`` decodes a capture with ``mptcpspec.capture`` and summarises it: the MPTCP subtypes
seen, the number of subflows (distinct 4-tuples that carried an MPTCP option), whether a connection fell
back to plain TCP, the link type, and which named ``FEATURES`` hold.  ``check(observation, must_show)``
lists every way the observation falls short of a ``MustShow``; the corpus test and the live test both
judge captures with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...capture import LINKTYPE_NAMES, open_capture
from ...spec.options import (
    AddAddr,
    AddAddrV0,
    Dss,
    MpCapable,
    MpExperimental,
    MpFail,
    MpFastclose,
    MpJoinAck,
    MpJoinSyn,
    MpJoinSynAck,
    MpPrio,
    MptcpOption,
    MpTcpRst,
    RemoveAddr,
    UnknownSubtype,
)
from ...spec.segment import Segment

__all__ = [
    "FEATURES",
    "MustShow",
    "Observation",
    "check",
    "fell_back",
    "observe",
    "subtype_name",
    "verdict_problems",
]

_SUBTYPE_NAMES: Mapping[type, str] = {
    MpCapable: "MP_CAPABLE",
    MpJoinSyn: "MP_JOIN",
    MpJoinSynAck: "MP_JOIN",
    MpJoinAck: "MP_JOIN",
    Dss: "DSS",
    AddAddr: "ADD_ADDR",
    AddAddrV0: "ADD_ADDR",
    RemoveAddr: "REMOVE_ADDR",
    MpPrio: "MP_PRIO",
    MpFail: "MP_FAIL",
    MpFastclose: "MP_FASTCLOSE",
    MpTcpRst: "MP_TCPRST",
    MpExperimental: "MP_EXPERIMENTAL",
    UnknownSubtype: "UNKNOWN",
}

_MAX_WIRE_PAYLOAD = 1500  # veth MTU: a segment with more payload than this is a GSO/TSO super-segment

FlowKey = tuple[tuple[str, int], tuple[str, int]]


def subtype_name(option: MptcpOption) -> str:
    """The RFC 8684 §8.1 name of an option's subtype (the three MP_JOIN forms are all ``MP_JOIN``)."""
    return _SUBTYPE_NAMES[type(option)]


def _flow_key(seg: Segment) -> FlowKey:
    a, b = (seg.src, seg.sport), (seg.dst, seg.dport)
    return (a, b) if a <= b else (b, a)


def _options(segments: Iterable[Segment]) -> Iterable[tuple[Segment, MptcpOption]]:
    return ((seg, opt) for seg in segments for opt in seg.mptcp)


def _listener_ports(segments: Sequence[Segment]) -> set[int]:
    return {seg.dport for seg in segments if seg.syn and not seg.has_ack}


def _data_fin_both_ways(segments: Sequence[Segment]) -> bool:
    listeners = _listener_ports(segments)
    sides = {
        seg.sport in listeners for seg, opt in _options(segments) if isinstance(opt, Dss) and opt.data_fin
    }
    return sides == {True, False}


def _super_segments(segments: Sequence[Segment]) -> bool:
    return any(seg.payload_len > _MAX_WIRE_PAYLOAD for seg in segments)


def _retransmissions(segments: Sequence[Segment]) -> bool:
    seen: set[tuple[str, int, str, int, int]] = set()
    for seg in segments:
        if seg.payload_len:
            key = (*seg.flow, seg.seq)
            if key in seen:
                return True
            seen.add(key)
    return False


def _reinjection(segments: Sequence[Segment]) -> bool:
    """Some data-sequence range was mapped on two different subflows (RFC 8684 §3.3.6)."""
    listeners = _listener_ports(segments)
    ranges: dict[bool, list[tuple[int, int, FlowKey]]] = {True: [], False: []}
    for seg, opt in _options(segments):
        if isinstance(opt, Dss) and opt.dsn is not None and opt.data_level_length and seg.payload_len:
            end = opt.dsn + opt.data_level_length - opt.data_fin  # a DATA_FIN takes one DSN, no data
            ranges[seg.sport in listeners].append((opt.dsn, end, _flow_key(seg)))
    for spans in ranges.values():
        spans.sort()
        ends: dict[FlowKey, int] = {}
        for start, end, flow in spans:
            if any(other != flow and start < other_end for other, other_end in ends.items()):
                return True
            ends[flow] = max(end, ends.get(flow, 0))
    return False


def _mp_prio_flips(segments: Sequence[Segment]) -> bool:
    flags = {opt.backup for _, opt in _options(segments) if isinstance(opt, MpPrio)}
    return flags == {True, False}


FEATURES: Mapping[str, tuple[str, Callable[[Sequence[Segment]], bool]]] = {
    "data-fin-both-ways": ("a DSS with DATA_FIN from each side", _data_fin_both_ways),
    "super-segments": ("a segment longer than the link MTU (GSO/TSO)", _super_segments),
    "no-super-segments": ("no segment longer than the link MTU", lambda s: not _super_segments(s)),
    "full-payload": ("every payload byte captured", lambda s: all(seg.payload_complete for seg in s)),
    "dss-checksum": (
        "a DSS carrying a checksum",
        lambda s: any(isinstance(o, Dss) and o.checksum is not None for _, o in _options(s)),
    ),
    "backup-join": (
        "an MP_JOIN SYN with the backup flag",
        lambda s: any(isinstance(o, MpJoinSyn) and o.backup for _, o in _options(s)),
    ),
    "mp-prio-flips": ("MP_PRIO setting and clearing the backup flag", _mp_prio_flips),
    "retransmissions": ("a subflow segment sent twice", _retransmissions),
    "reinjection": ("data mapped on two subflows", _reinjection),
}
"""Named properties a capture can be required to show: name -> (description, predicate)."""


@dataclass(frozen=True, slots=True)
class MustShow:
    """What a scenario's capture must show to count as a capture of that scenario.

    ``subtypes``: RFC 8684 §8.1 subtype names that must all appear; ``min_subflows``: distinct 4-tuples
    carrying MPTCP options; ``fallback``: whether a connection falls back to TCP (RFC 8684 §3.7);
    ``linktype``: a ``mptcpspec.capture.LINKTYPE_NAMES`` name; ``features``: ``FEATURES`` names that
    must hold.
    """

    subtypes: tuple[str, ...]
    min_subflows: int = 1
    fallback: bool = False
    linktype: str = "linux-sll2"
    features: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "subtypes": list(self.subtypes),
            "min_subflows": self.min_subflows,
            "fallback": self.fallback,
            "linktype": self.linktype,
            "features": list(self.features),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> MustShow:
        subtypes, features = data["subtypes"], data.get("features", [])
        min_subflows = data["min_subflows"]
        assert isinstance(subtypes, list) and isinstance(features, list) and isinstance(min_subflows, int)
        return cls(
            tuple(subtypes), min_subflows, bool(data["fallback"]), str(data["linktype"]), tuple(features)
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """What a capture shows: see ``observe``."""

    packets: int
    file_format: str
    linktype: str
    subtypes: frozenset[str]
    subflows: int
    fallback: bool
    features: frozenset[str]

    def to_dict(self) -> dict[str, object]:
        return {
            "packets": self.packets,
            "format": self.file_format,
            "linktype": self.linktype,
            "subtypes": sorted(self.subtypes),
            "subflows": self.subflows,
            "fallback": self.fallback,
            "features": sorted(self.features),
        }


def _carries_data_sequence(seg: Segment) -> bool:
    """A DSS, or the MP_CAPABLE with a data-level length that maps the first data (RFC 8684 §3.1)."""
    return any(isinstance(o, Dss) or (isinstance(o, MpCapable) and o.data_length) for o in seg.mptcp)


def fell_back(segments: Sequence[Segment]) -> bool:
    """A flow that opened with MP_CAPABLE carried data with no data-sequence option (RFC 8684 §3.7)."""
    capable = {_flow_key(seg) for seg, opt in _options(segments) if seg.syn and isinstance(opt, MpCapable)}
    return any(
        seg.payload_len and _flow_key(seg) in capable and not _carries_data_sequence(seg) for seg in segments
    )


def observe(path: Path) -> Observation:
    """Decode ``path`` and summarise what it shows."""
    reader = open_capture(path)
    segments = list(reader.segments())
    return Observation(
        packets=reader.packets,
        file_format=reader.format,
        linktype=LINKTYPE_NAMES.get(reader.linktype or -1, str(reader.linktype)),
        subtypes=frozenset(subtype_name(opt) for _, opt in _options(segments)),
        subflows=len({_flow_key(seg) for seg in segments if seg.mptcp}),
        fallback=fell_back(segments),
        features=frozenset(name for name, (_, holds) in FEATURES.items() if holds(segments)),
    )


def check(observation: Observation, must_show: MustShow) -> list[str]:
    """Every way ``observation`` falls short of ``must_show``, as sentences (empty: it shows it all)."""
    problems = [f"no {name} option" for name in must_show.subtypes if name not in observation.subtypes]
    if observation.subflows < must_show.min_subflows:
        problems.append(
            f"{observation.subflows} subflow(s) with MPTCP options, expected at least "
            f"{must_show.min_subflows}"
        )
    if observation.fallback != must_show.fallback:
        problems.append(f"fallback to TCP is {observation.fallback}, expected {must_show.fallback}")
    if observation.linktype != must_show.linktype:
        problems.append(f"link type {observation.linktype}, expected {must_show.linktype}")
    problems += [
        f"missing feature {name}: {FEATURES[name][0]}"
        for name in must_show.features
        if name not in observation.features
    ]
    return problems


def verdict_problems(path: Path) -> list[str]:
    """The violations the trace checker reports on ``path``, as sentences (empty: none)."""
    from ..replay import validate_file  # late: the checker is optional for making captures

    report = validate_file(path)
    if report.error is not None:
        return [f"the checker could not read the capture: {report.error}"]
    return [f"{f.rule.id} frames {list(f.frames)}: {f.message}" for f in report.findings if f.is_violation]
