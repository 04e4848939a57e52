"""Sequence graphs of MPTCP connections: data sequence number over time, one panel per direction.

Each panel shows the data sent in one direction (a vertical stroke from DSN to DSN + length per
segment, one colour per subflow, RFC 8684 §3.3), the data re-sent on another subflow (reinjection,
§3.3.6) as hollow black diamonds, the DATA_ACKs coming back as a grey step line, and the findings of
the connection as vertical lines at their packets.  Matplotlib is the ``plot`` extra: it is imported
only when a graph is drawn, and ``PlotUnavailable`` says how to install it when it is missing.
"""

from __future__ import annotations

import bisect
import importlib
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..spec.errors import MptcpError
from ..spec.rules import Finding, Verdict
from .report import format_endpoint
from .results import ConnectionSummary, FileReport, SeriesPoint

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "PLOT_HINT",
    "PlotUnavailable",
    "connection_svg",
    "plot_connection",
    "sequence_figure",
]

PLOT_HINT = "sequence graphs need matplotlib: pip install 'mptcpspec[plot]'"
DIRECTIONS = ("A>B", "B>A")
_VERDICT_COLORS = {Verdict.VIOLATION: "#d62728", Verdict.UNDETERMINED: "#ff7f0e", Verdict.NOTE: "#7f7f7f"}
_PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#aec7e8")


class PlotUnavailable(MptcpError):
    """Drawing was asked for but matplotlib (the ``plot`` extra) is not installed."""


def _matplotlib() -> ModuleType:
    try:
        return importlib.import_module("matplotlib")
    except ImportError as exc:
        raise PlotUnavailable(PLOT_HINT) from exc


def _new_figure(panels: int) -> Figure:
    _matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(10, 3.2 * panels + 0.6), dpi=100, layout="constrained")


class _Timeline:
    """Frame numbers to seconds since the connection started, from the sequence-graph points."""

    def __init__(self, connection: ConnectionSummary) -> None:
        pairs = sorted({(p.frame, p.time) for p in connection.series})
        self._frames = [frame for frame, _ in pairs]
        self._times = [time - connection.start_time for _, time in pairs]

    def at(self, frame: int) -> float:
        """The time of ``frame``, or of the last graph point before it (0 before the first)."""
        index = bisect.bisect_right(self._frames, frame) - 1
        return self._times[index] if index >= 0 else 0.0


def _subflow_colors(connection: ConnectionSummary) -> dict[str, str]:
    names = [s.id for s in connection.subflows]
    names += sorted({p.subflow for p in connection.series} - set(names))
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(names)}


def _strokes(
    points: Sequence[SeriesPoint], start: float
) -> list[tuple[tuple[float, int], tuple[float, int]]]:
    """One vertical stroke per segment: from its first to its last DSN, at its time."""
    return [((p.time - start, p.dsn), (p.time - start, p.dsn + max(p.length, 1))) for p in points]


def _draw_data(ax: Axes, points: Sequence[SeriesPoint], start: float, colors: dict[str, str]) -> None:
    """Data strokes in their subflow's colour; reinjected ones outlined in black, with a diamond at the
    first segment of each run of reinjections (so a burst is one mark, not a smear)."""
    from matplotlib.collections import LineCollection

    reinjected = [p for p in points if p.kind == "reinjection"]
    if reinjected:
        outline = LineCollection(_strokes(reinjected, start), colors="black", linewidths=5.0, rasterized=True)
        ax.add_collection(outline)
    strokes = _strokes(points, start)
    stroke_colors = [colors[p.subflow] for p in points]
    ax.add_collection(LineCollection(strokes, colors=stroke_colors, linewidths=2.0, rasterized=True))
    ax.scatter([s[1][0] for s in strokes], [s[1][1] for s in strokes], s=4, c=stroke_colors, rasterized=True)
    runs = [
        p
        for i, p in enumerate(points)
        if p.kind == "reinjection" and (i == 0 or points[i - 1].kind != p.kind)
    ]
    if runs:
        ax.scatter(
            [p.time - start for p in runs],
            [p.dsn + p.length / 2 for p in runs],
            s=70,
            marker="D",
            facecolors="none",
            edgecolors="black",
            linewidths=1.5,
            zorder=4,
            label="_reinjected",
        )


def _draw_acks(ax: Axes, acks: Sequence[SeriesPoint], start: float) -> None:
    ordered = sorted(acks, key=lambda p: (p.time, p.frame))
    ax.step(
        [p.time - start for p in ordered],
        [p.dsn for p in ordered],
        where="post",
        color="#555555",
        linewidth=1,
    )


def _draw_findings(ax: Axes, findings: Iterable[Finding], timeline: _Timeline) -> set[Verdict]:
    shown: set[Verdict] = set()
    for verdict, color in _VERDICT_COLORS.items():
        times = sorted({timeline.at(frame) for f in findings if f.verdict is verdict for frame in f.frames})
        if times:
            ax.vlines(times, 0, 1, transform=ax.get_xaxis_transform(), colors=color, linestyles=":", zorder=5)
            shown.add(verdict)
    return shown


def _legend(ax: Axes, colors: dict[str, str], connection: ConnectionSummary, verdicts: set[Verdict]) -> None:
    from matplotlib.lines import Line2D

    backup = {s.id for s in connection.subflows if s.backup}
    handles: list[Any] = [
        Line2D([], [], color=color, linewidth=3, label=name + (" (backup)" if name in backup else ""))
        for name, color in colors.items()
    ]
    handles += [
        Line2D([], [], marker="D", linestyle="", markerfacecolor="none", color="black", label="reinjected"),
        Line2D([], [], color="#555555", drawstyle="steps-post", label="DATA_ACK"),
    ]
    handles += [
        Line2D([], [], color=_VERDICT_COLORS[v], linestyle=":", label=v.value)
        for v in Verdict
        if v in verdicts
    ]
    ax.legend(handles=handles, loc="upper left", fontsize="small", framealpha=0.85)


def _direction_title(connection: ConnectionSummary, direction: str) -> str:
    ends = (format_endpoint(connection.client), format_endpoint(connection.server))
    sender, receiver = ends if direction == "A>B" else ends[::-1]
    return f"{connection.id} {direction}: data from {sender} to {receiver}"


def sequence_figure(connection: ConnectionSummary, findings: Iterable[Finding] = ()) -> Figure:
    """The sequence graph of ``connection`` as a matplotlib Figure, one panel per direction with data.

    ``findings`` (those of this connection) are marked at the time of their frames.  DATA_ACK points
    are drawn in the panel of the data they acknowledge, i.e. the opposite of the direction they were
    sent in.  Raises ``PlotUnavailable`` without matplotlib, ``ValueError`` when the connection has no
    sequence-graph points (validate with ``series=True``).
    """
    if not connection.series:
        raise ValueError(f"connection {connection.id} has no sequence data (validate with series=True)")
    selected = [f for f in findings if f.connection == connection.id]
    colors = _subflow_colors(connection)
    timeline = _Timeline(connection)
    panels = [
        d for d in DIRECTIONS if any(p.direction == d and p.kind != "data_ack" for p in connection.series)
    ]
    figure = _new_figure(max(len(panels), 1))
    axes = figure.subplots(max(len(panels), 1), 1, sharex=True, squeeze=False)[:, 0]
    for ax, direction in zip(axes, panels or list(DIRECTIONS[:1]), strict=True):
        data = [p for p in connection.series if p.direction == direction and p.kind != "data_ack"]
        acks = [p for p in connection.series if p.direction != direction and p.kind == "data_ack"]
        _draw_data(ax, data, connection.start_time, colors)
        if acks:
            _draw_acks(ax, acks, connection.start_time)
        verdicts = _draw_findings(ax, selected, timeline)
        ax.autoscale_view()
        ax.set_title(_direction_title(connection, direction), fontsize="medium", loc="left")
        ax.set_ylabel("data sequence number (bytes)")
        ax.grid(True, alpha=0.3)
        _legend(ax, colors, connection, verdicts)
    axes[-1].set_xlabel("seconds since the first packet of the connection")
    return figure


def connection_svg(connection: ConnectionSummary, findings: Iterable[Finding] = (), *, salt: str = "") -> str:
    """The sequence graph as SVG text for inlining into HTML (data strokes rasterized, so the size
    stays bounded on long connections); ``salt`` (e.g. the capture path) keeps ids unique on a page."""
    buffer = io.StringIO()
    figure = sequence_figure(connection, findings)
    # Text stays text (searchable, accessible); the salt keeps element ids unique within one page.
    with _matplotlib().rc_context({"svg.fonttype": "none", "svg.hashsalt": f"{salt}/{connection.id}"}):
        figure.savefig(buffer, format="svg", dpi=110, metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def plot_connection(report: FileReport, connection_id: str | None, out_path: str | Path) -> Path:
    """Draw one connection of ``report`` (the one with most graph points when ``connection_id`` is None)
    to ``out_path``; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).  Raises LookupError
    for an unknown connection id."""
    if connection_id is None:
        if not report.connections:
            raise LookupError(f"{report.path} has no MPTCP connection")
        connection = max(report.connections, key=lambda c: len(c.series))
    else:
        found = [c for c in report.connections if c.id == connection_id]
        if not found:
            known = ", ".join(c.id for c in report.connections) or "none"
            raise LookupError(f"no connection {connection_id!r} in {report.path} (connections: {known})")
        connection = found[0]
    path = Path(out_path)
    sequence_figure(connection, report.findings).savefig(path, dpi=110)
    return path
