"""Receive side of the data level: mappings turn subflow bytes into DSNs; the stream reassembles."""

from __future__ import annotations

import itertools
import random

from hypothesis import given
from hypothesis import strategies as st

from mptcpspec.reference.receiver import DataReceiver, Mapping, MappingTracker
from mptcpspec.spec.crypto import dss_checksum

DSN0 = 1 << 40


def _cuts(rng: random.Random, total: int, pieces: int) -> list[int]:
    return sorted({0, total, *(rng.randrange(total) for _ in range(pieces))}) if total else [0]


@given(st.binary(min_size=1, max_size=3000), st.integers(0, 2**32), st.booleans())
def test_mappings_give_each_byte_its_dsn(data: bytes, seed: int, checksum: bool) -> None:
    rng = random.Random(seed)
    tracker = MappingTracker(checksum)
    bounds = _cuts(rng, len(data), 5)
    for start, stop in itertools.pairwise(bounds):
        value = dss_checksum(DSN0 + start, 1 + start, stop - start, data[start:stop]) if checksum else None
        tracker.add(Mapping(1 + start, DSN0 + start, stop - start, value))
    pieces: list[tuple[int, bytes]] = []
    feed = _cuts(rng, len(data), 7)
    for start, stop in itertools.pairwise(feed):
        got, failed = tracker.feed(1 + start, data[start:stop])
        assert failed == []
        pieces += got
    rebuilt = bytearray(len(data))
    for dsn, piece in pieces:
        rebuilt[dsn - DSN0 : dsn - DSN0 + len(piece)] = piece
    assert bytes(rebuilt) == data and sum(len(p) for _, p in pieces) == len(data)


def test_a_corrupted_mapping_fails_its_checksum() -> None:
    data = bytes(range(200))
    tracker = MappingTracker(checksum=True)
    tracker.add(Mapping(1, DSN0, 200, dss_checksum(DSN0, 1, 200, data)))
    pieces, failed = tracker.feed(1, data[:100] + b"X" + data[101:])
    assert pieces == [] and failed == [Mapping(1, DSN0, 200, dss_checksum(DSN0, 1, 200, data))]


def test_the_infinite_mapping_maps_everything_after_it() -> None:
    tracker = MappingTracker(checksum=False)
    tracker.add(Mapping(1, 500, 0))
    assert tracker.feed(1, b"abc")[0] == [(500, b"abc")]
    assert tracker.feed(4, b"de")[0] == [(503, b"de")]


@given(st.binary(max_size=5000), st.integers(0, 2**32))
def test_any_order_and_duplicates_reassemble_the_stream(data: bytes, seed: int) -> None:
    rng = random.Random(seed)
    bounds = _cuts(rng, len(data), 12)
    pieces = [(DSN0 + a, data[a:b]) for a, b in itertools.pairwise(bounds)]
    pieces += rng.sample(pieces, len(pieces) // 3)
    rng.shuffle(pieces)
    receiver = DataReceiver(DSN0)
    out = b"".join(receiver.insert(dsn, piece) for dsn, piece in pieces)
    assert out == data and receiver.rcv_nxt == DSN0 + len(data)


def test_data_fin_counts_once_the_data_before_it_is_in() -> None:
    receiver = DataReceiver(DSN0)
    receiver.set_fin(DSN0 + 3)
    assert not receiver.fin_received
    receiver.insert(DSN0 + 1, b"bc")
    assert not receiver.fin_received
    receiver.insert(DSN0, b"a")
    assert receiver.fin_received and receiver.rcv_nxt == DSN0 + 4


def test_a_mapping_with_data_fin_is_checksummed_with_the_fin_counted() -> None:
    # Linux puts the DATA_FIN on its last data mapping: data-level length = payload + 1 (RFC 8684 §3.3.3).
    data = b"the last bytes"
    tracker = MappingTracker(checksum=True)
    tracker.add(Mapping(1, DSN0, len(data), dss_checksum(DSN0, 1, len(data) + 1, data), data_fin=True))
    assert tracker.feed(1, data) == ([(DSN0, data)], [])
