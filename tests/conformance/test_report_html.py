"""The HTML report of mptcpspec.conformance.report_html: self-contained pages, with and without graphs."""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_samples import CONNECTION, REPORT, UNUSABLE

from mptcpspec.conformance.report_html import html_report, index_html, report_file_name, write_html_report
from mptcpspec.conformance.results import FileReport


class Outline(HTMLParser):
    """The tags, ids, classes and external references of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.classes: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        self.classes += (values.get("class") or "").split()
        for name in ("src", "href", "xlink:href"):
            ref = values.get(name) or ""
            if ref and not ref.startswith(("#", "data:")):
                self.external.append(ref)


def outline(page: str) -> Outline:
    parser = Outline()
    parser.feed(page)
    return parser


def test_page_holds_tables_graph_and_findings() -> None:
    page = html_report(REPORT)
    parts = outline(page)
    assert {"conn-c1", "conn-c2", "rules", "other-findings"} <= parts.ids
    assert {"rule-dss.checksum", "rule-data-ack.beyond-sent", "rule-add-addr.echo-match"} <= parts.ids
    assert parts.tags.count("svg") == 1  # c1 has graph points, c2 sent no data
    assert "No sequence graph: no data was sent." in page
    assert parts.classes.count("finding") == 4
    assert page.count('class="finding violation"') == 2
    assert "DSS checksum 0x1c2d, expected 0x9a0b" in page
    assert "33-35,40" in page
    assert "the DSS checksum covers the data it maps" in page  # the rule's explanation
    assert "10.232.3.1:50210 → 10.232.2.1:5201" in page
    assert "[2001:db8::1]:40000 → [2001:db8::2]:80" in page
    assert "last record cut after 20 of 66 bytes" in page


def test_page_is_self_contained() -> None:
    page = html_report(REPORT)
    parts = outline(page)
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith(("#", "data:image/png;base64,")) for h in hrefs)
    assert parts.external == []
    assert (
        "<link" not in page and "<script" not in page and "http://www.w3.org" in page
    )  # SVG namespaces only
    assert "@import" not in page and "url(http" not in page


def test_graph_text_is_searchable_and_ids_are_unique_per_capture() -> None:
    svg_a = html_report(REPORT)
    svg_b = html_report(FileReport(path="other.pcap", packets=1, connections=(CONNECTION,)))
    assert "c1 A&gt;B: data from 10.232.1.1:43512 to 10.232.2.1:5201" in svg_a  # text, not glyph paths
    clips_a = set(re.findall(r'clipPath id="([^"]+)"', svg_a))
    clips_b = set(re.findall(r'clipPath id="([^"]+)"', svg_b))
    assert clips_a and clips_b and not clips_a & clips_b


def test_without_matplotlib_the_page_says_how_to_get_graphs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an install without the plot extra sees
    page = html_report(REPORT)
    assert "<svg" not in page
    assert "pip install &#x27;mptcpspec[plot]&#x27;" in page
    assert page.count('class="finding ') == 4


def test_unusable_input_page_and_index(tmp_path: Path) -> None:
    page = html_report(UNUSABLE)
    assert "Unusable input: not a capture file (unknown magic 0x6e6f7465)" in page
    written = write_html_report(REPORT, tmp_path / "out")
    assert written == tmp_path / "out" / "path-down.pcap.html"
    assert written.read_text(encoding="utf-8") == html_report(REPORT)
    index = index_html([(REPORT, written.name), (UNUSABLE, "notes.txt.html")])
    assert '<a href="path-down.pcap.html">traces/path-down.pcap</a>' in index
    assert "2 violations" in index and "not a capture file" in index


def test_report_file_name_is_safe() -> None:
    assert report_file_name("/data/run 1/cap<1>.pcapng") == "cap_1_.pcapng.html"
    assert report_file_name("traces/path-down.pcap") == "path-down.pcap.html"
