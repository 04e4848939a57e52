"""Send side of the data level: DATA_ACK trimming, the window, reinjection and the DATA_FIN."""

from __future__ import annotations

from mptcpspec.reference.sender import DataSender


def test_take_respects_limit_and_window_then_data_ack_trims() -> None:
    sender = DataSender(100)
    sender.write(b"abcdefghij")
    assert sender.take(4, window_end=200) == (100, b"abcd")
    assert sender.take(100, window_end=106) == (104, b"ef")
    assert sender.take(100, window_end=106) is None
    assert sender.on_data_ack(103) and sender.snd_una == 103 and bytes(sender.buffer) == b"defghij"
    assert not sender.on_data_ack(102)
    assert not sender.on_data_ack(1000)  # beyond anything sent: ignored


def test_reinjected_ranges_go_first_and_shrink_with_acks() -> None:
    sender = DataSender(0)
    sender.write(bytes(range(20)))
    sender.take(20, window_end=100)
    sender.reinject_range(5, 15)
    sender.on_data_ack(8)
    assert sender.reinject == [(8, 15)]
    assert sender.take(4, window_end=0) == (8, bytes(range(8, 12)))
    assert sender.take(10, window_end=0) == (12, bytes(range(12, 15)))
    assert sender.all_sent


def test_data_fin_takes_one_dsn_after_the_data() -> None:
    sender = DataSender(10)
    sender.write(b"xyz")
    sender.fin_requested = True
    assert sender.fin_dsn == 13
    sender.on_data_ack(13)
    assert not sender.fin_acked
    sender.on_data_ack(14)
    assert sender.fin_acked
