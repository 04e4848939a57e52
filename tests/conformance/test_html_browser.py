"""The HTML report as a person sees it: rendered by headless Chromium, checked in the DOM and on screen.

Needs the Debian package ``chromium`` (skips cleanly without it).  The page must render with no
network access: Chromium runs with background networking off and a fresh profile.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from report_samples import REPORT, image_colors

from mptcpspec.conformance.report_html import write_html_report

CHROMIUM = Path("/usr/bin/chromium")
TRACES = Path(__file__).resolve().parents[2] / "traces"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="headless Chromium is not installed (apt-get install chromium)"
)
pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")


def render(page: Path, screenshot: Path, size: tuple[int, int] = (1280, 2400)) -> str:
    """Load ``page`` in headless Chromium; returns the rendered DOM and writes a screenshot."""
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={screenshot.parent / 'chromium-profile'}",
        f"--window-size={size[0]},{size[1]}",
        f"--screenshot={screenshot}",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert screenshot.exists(), done.stderr
    return done.stdout


def test_graph_and_findings_are_on_the_rendered_page(tmp_path: Path) -> None:
    page = write_html_report(REPORT, tmp_path)
    dom = render(page, tmp_path / "shot.png")
    assert dom.count("<svg") == 1
    assert "c1 A&gt;B: data from 10.232.1.1:43512 to 10.232.2.1:5201" in dom  # the graph's own title
    assert dom.count('class="finding violation"') == 2
    assert dom.count('class="finding undetermined"') == 1
    assert "DSS checksum 0x1c2d, expected 0x9a0b" in dom
    assert 'id="rule-dss.checksum"' in dom
    colors = image_colors(tmp_path / "shot.png")
    # sf1 and sf2 strokes of the graph, the violation badge: the graph and findings were painted.
    assert {(0x1F, 0x77, 0xB4), (0x2C, 0xA0, 0x2C), (0xC6, 0x28, 0x28)} <= colors


def test_real_path_failure_report_shows_reinjection(tmp_path: Path) -> None:
    captures = sorted(TRACES.glob("path-down.pcap*"))
    if not captures:
        pytest.skip("traces/path-down capture not in the corpus yet")
    from mptcpspec.conformance.replay import validate_file

    report = validate_file(str(captures[0]), series=True)
    assert report.error is None
    page = write_html_report(report, tmp_path)
    dom = render(page, tmp_path / "shot.png", size=(1280, 1700))
    connections = [c for c in report.connections if len(c.subflows) >= 2]
    assert connections, "path-down should hold a connection with two subflows"
    assert dom.count("<svg") >= 1
    assert any(p.kind == "reinjection" for c in connections for p in c.series)
    assert ">reinjected<" in dom  # the legend entry of the reinjection markers
    assert f'id="conn-{connections[0].id}"' in dom
