"""Segment: the hand-written fast __init__ behaves as the generated frozen dataclass one would."""

from __future__ import annotations

import dataclasses

import pytest

from mptcpspec.spec.options import Dss
from mptcpspec.spec.segment import ACK, FIN, SYN, Segment, flags_text

FIELDS = [f.name for f in dataclasses.fields(Segment)]
VALUES = (7, 1.5, 4, "10.0.0.1", "10.0.0.2", 1000, 80, 11, 22, SYN | ACK, 512, 3, b"abc", b"\x01\x01",
          (Dss(data_ack=5),), ())  # fmt: skip


def test_positional_and_keyword_construction_agree() -> None:
    by_position = Segment(*VALUES)
    by_keyword = Segment(**dict(zip(FIELDS, VALUES, strict=True)))
    assert by_position == by_keyword
    assert [getattr(by_position, name) for name in FIELDS] == list(VALUES)
    assert hash(by_position) == hash(by_keyword)


def test_defaults_are_those_declared() -> None:
    segment = Segment(*VALUES[:12])
    for field in dataclasses.fields(Segment)[12:]:
        assert getattr(segment, field.name) == field.default


def test_frozen_and_replace() -> None:
    segment = Segment(*VALUES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        segment.seq = 1  # type: ignore[misc]
    moved = dataclasses.replace(segment, seq=99, flags=FIN | ACK)
    assert (moved.seq, moved.fin, moved.syn, segment.seq) == (99, True, False, 11)


def test_derived_properties() -> None:
    segment = Segment(*VALUES)
    assert segment.seq_space == 3 + 1
    assert segment.payload_complete
    assert not dataclasses.replace(segment, payload=b"a").payload_complete
    assert segment.flow == ("10.0.0.1", 1000, "10.0.0.2", 80)
    assert flags_text(segment.flags) == "S."
    assert flags_text(0) == "none"
