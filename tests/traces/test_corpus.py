"""The committed corpus of real Linux-kernel captures (traces/): each file shows what its scenario is for.

Every ``traces/<name>.expect.json`` names a capture and a ``must_show``; the capture is decoded with
``mptcpspec.capture`` and judged with ``expectations.check`` (the same judge the live test uses); the
trace checker must report exactly the expected number of violations (none: the kernel is taken as
correct, and where a scenario corrupts data on purpose the kernel's reaction is what is checked).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mptcpspec.conformance.stacks.expectations import MustShow, check, observe
from mptcpspec.conformance.stacks.scenarios import SCENARIOS

TRACES = Path(__file__).resolve().parents[2] / "traces"
EXPECTS = sorted(TRACES.glob("*.expect.json"))
CORPUS_LIMIT = 10 * 1024 * 1024


def _load(expect: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(expect.read_text())
    return data


def _capture(expect: Path) -> Path:
    return TRACES / str(_load(expect)["capture"])


by_name = pytest.mark.parametrize(
    "expect", EXPECTS, ids=[p.name.removesuffix(".expect.json") for p in EXPECTS]
)


def test_every_scenario_has_its_capture() -> None:
    named = {_load(p)["scenario"] for p in EXPECTS}
    assert named == set(SCENARIOS)
    assert all(_capture(p).is_file() for p in EXPECTS)


def test_corpus_stays_small() -> None:
    size = sum(p.stat().st_size for p in TRACES.iterdir() if p.is_file())
    assert size < CORPUS_LIMIT, f"traces/ holds {size} bytes"


@by_name
def test_expectation_is_the_scenario_table_entry(expect: Path) -> None:
    data = _load(expect)
    scenario = SCENARIOS[data["scenario"]]
    assert data["must_show"] == scenario.must_show.to_dict()
    assert data["capture"] == scenario.filename
    assert data["expected"] == {"violations": 0}


@by_name
def test_capture_shows_what_it_must(expect: Path) -> None:
    data = _load(expect)
    observation = observe(_capture(expect))
    assert observation.file_format == Path(data["capture"]).suffix.lstrip(".")
    assert check(observation, MustShow.from_dict(data["must_show"])) == []
    assert observation.to_dict() == data["observed"]


@by_name
def test_trace_checker_gives_the_expected_verdict(
    expect: Path, trace_verdict: Callable[[Path], list[str]]
) -> None:
    violations = trace_verdict(_capture(expect))
    assert len(violations) == _load(expect)["expected"]["violations"], violations
