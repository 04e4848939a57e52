"""Sequence graphs of mptcpspec.conformance.plot: what each panel draws, files, and missing matplotlib."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from report_samples import CONNECTION, FINDINGS, REPORT, image_colors

from mptcpspec.conformance.plot import PlotUnavailable, plot_connection, sequence_figure
from mptcpspec.conformance.results import SeriesPoint

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
np = pytest.importorskip("numpy")


def test_one_panel_per_direction_with_data() -> None:
    figure = sequence_figure(CONNECTION, FINDINGS)
    (ax,) = figure.axes  # only A>B carries data; B>A's DATA_ACKs are drawn in the A>B panel
    assert ax.get_title(loc="left") == "c1 A>B: data from 10.232.1.1:43512 to 10.232.2.1:5201"
    legend = ax.get_legend()
    assert legend is not None
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels == ["sf1", "sf2 (backup)", "reinjected", "DATA_ACK", "violation", "undetermined"]
    (ack_line,) = ax.get_lines()
    acked = [p.dsn for p in CONNECTION.series if p.kind == "data_ack"]
    assert np.asarray(ack_line.get_ydata()).tolist() == acked
    reinjected = [c for c in ax.collections if c.get_label() == "_reinjected"]
    assert [np.asarray(c.get_offsets()).tolist() for c in reinjected] == [
        [[pytest.approx(0.45), 1400 * 15 + 700]]
    ]


def test_both_directions_get_a_panel() -> None:
    back = SeriesPoint(200, CONNECTION.start_time + 0.5, "B>A", "sf1", "data", 0, 500)
    both = dataclasses.replace(CONNECTION, series=(*CONNECTION.series, back))
    titles = [ax.get_title(loc="left") for ax in sequence_figure(both).axes]
    assert titles == [
        "c1 A>B: data from 10.232.1.1:43512 to 10.232.2.1:5201",
        "c1 B>A: data from 10.232.2.1:5201 to 10.232.1.1:43512",
    ]


def test_plot_files_png_and_svg(tmp_path: Path) -> None:
    pixels = image_colors(plot_connection(REPORT, None, tmp_path / "c1.png"))
    assert {(0x1F, 0x77, 0xB4), (0x2C, 0xA0, 0x2C), (0xD6, 0x27, 0x28)} <= pixels  # sf1, sf2, violation
    svg = plot_connection(REPORT, "c1", tmp_path / "c1.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg


def test_unknown_connection_and_missing_series() -> None:
    with pytest.raises(
        LookupError, match=r"no connection 'c9' in traces/path-down.pcap \(connections: c1, c2\)"
    ):
        plot_connection(REPORT, "c9", "unused.png")
    with pytest.raises(ValueError, match="c2 has no sequence data"):
        sequence_figure(REPORT.connections[1])


def test_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(PlotUnavailable, match=r"pip install 'mptcpspec\[plot\]'"):
        sequence_figure(CONNECTION)
