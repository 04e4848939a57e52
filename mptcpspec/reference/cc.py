"""Coupled congestion control: the Linked Increases Algorithm of RFC 6356 (draft-ietf-mptcp-congestion-06).

Each subflow keeps its own window (``Window``); slow start, loss and timeout are per subflow, as in plain
TCP.  Only the congestion-avoidance increase is coupled, so that the connection as a whole takes no more
than one TCP flow would on the best of its paths (RFC 6356 §3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["INITIAL_WINDOW_SEGMENTS", "Window", "lia_alpha", "lia_increase"]

INITIAL_WINDOW_SEGMENTS = 10


@dataclass(slots=True)
class Window:
    """One subflow's congestion window and slow-start threshold, in bytes."""

    mss: int
    cwnd: float = 0.0
    ssthresh: float = float("inf")

    def __post_init__(self) -> None:
        if self.cwnd == 0.0:
            self.cwnd = float(INITIAL_WINDOW_SEGMENTS * self.mss)

    @property
    def in_slow_start(self) -> bool:
        """Below the slow-start threshold: the window grows by what is acknowledged."""
        return self.cwnd < self.ssthresh

    def on_loss(self) -> None:
        """Fast retransmit: halve the window (multiplicative decrease, RFC 5681 §3.2)."""
        self.ssthresh = max(self.cwnd / 2, 2.0 * self.mss)
        self.cwnd = self.ssthresh

    def on_timeout(self) -> None:
        """Retransmission timeout: back to one segment (RFC 5681 §3.1)."""
        self.ssthresh = max(self.cwnd / 2, 2.0 * self.mss)
        self.cwnd = float(self.mss)


def lia_alpha(flows: Sequence[tuple[float, float]]) -> float:
    """RFC 6356 §3's ``alpha`` for subflows given as ``(cwnd, rtt)`` pairs (bytes, seconds).

    alpha = cwnd_total * max(cwnd_i / rtt_i^2) / (sum(cwnd_i / rtt_i))^2; 1.0 for a single subflow.
    """
    usable = [(cwnd, max(rtt, 1e-6)) for cwnd, rtt in flows]
    if not usable:
        return 1.0
    total = sum(cwnd for cwnd, _ in usable)
    best = max(cwnd / (rtt * rtt) for cwnd, rtt in usable)
    denominator = sum(cwnd / rtt for cwnd, rtt in usable) ** 2
    return total * best / denominator


def lia_increase(window: Window, acked: int, flows: Sequence[tuple[float, float]]) -> None:
    """Grow ``window`` for ``acked`` newly acknowledged bytes.

    Slow start adds the acked bytes (capped at the threshold); congestion avoidance adds
    min(alpha * acked * mss / cwnd_total, acked * mss / cwnd_i), RFC 6356 §3.
    """
    if window.in_slow_start:
        window.cwnd = min(window.cwnd + acked, max(window.ssthresh, window.cwnd))
        return
    total = sum(cwnd for cwnd, _ in flows) or window.cwnd
    coupled = lia_alpha(flows) * acked * window.mss / total
    uncoupled = acked * window.mss / window.cwnd
    window.cwnd += min(coupled, uncoupled)
