"""Coupled congestion control, RFC 6356 (LIA)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mptcpspec.reference.cc import Window, lia_alpha, lia_increase

MSS = 1400


def test_alpha_for_one_path_is_one_and_for_two_equal_paths_a_half() -> None:
    assert abs(lia_alpha([(10 * MSS, 0.05)]) - 1.0) < 1e-12
    assert abs(lia_alpha([(10 * MSS, 0.05), (10 * MSS, 0.05)]) - 0.5) < 1e-12


windows = st.floats(2 * MSS, 500 * MSS)
rtts = st.floats(0.001, 1.0)


@given(st.lists(st.tuples(windows, rtts), min_size=1, max_size=4), st.integers(1, 64 * MSS))
def test_coupled_increase_never_beats_a_single_tcp_flow(flows: list[tuple[float, float]], acked: int) -> None:
    cwnd = flows[0][0]
    window = Window(MSS, cwnd=cwnd, ssthresh=cwnd / 2)
    lia_increase(window, acked, flows)
    assert cwnd < window.cwnd <= cwnd + acked * MSS / cwnd + 1e-9


def test_two_equal_subflows_together_grow_by_alpha_mss_per_rtt() -> None:
    # RFC 6356 §3: over one RTT each subflow acks its window; together they grow by alpha * MSS (here a
    # half), while each would halve only its own window on a loss: the pair takes what one TCP flow takes.
    a = Window(MSS, cwnd=20 * MSS, ssthresh=MSS)
    b = Window(MSS, cwnd=20 * MSS, ssthresh=MSS)
    flows = [(a.cwnd, 0.05), (b.cwnd, 0.05)]
    lia_increase(a, int(a.cwnd), flows)
    lia_increase(b, int(b.cwnd), flows)
    assert abs((a.cwnd + b.cwnd - 40 * MSS) - 0.5 * MSS) < 1e-6


def test_slow_start_loss_and_timeout() -> None:
    window = Window(MSS)
    assert window.cwnd == 10 * MSS and window.in_slow_start
    lia_increase(window, 5 * MSS, [(window.cwnd, 0.05)])
    assert window.cwnd == 15 * MSS
    window.on_loss()
    assert window.cwnd == window.ssthresh == 7.5 * MSS
    window.on_timeout()
    assert window.cwnd == MSS and window.ssthresh == 3.75 * MSS
