"""Fresh captures of every scenario from this machine's kernel, judged like the committed corpus.

All scenarios run once per session, four at a time, each in its own pair of namespaces; each test then
checks one of them with ``expectations.check`` and the trace checker's verdict, as
tests/traces/test_corpus.py does for the committed corpus.  Also: the
testbed leaves no namespace behind, on success, on an exception, and after a crashed run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mptcpspec.conformance.stacks.expectations import check, observe
from mptcpspec.conformance.stacks.linux import NS_PREFIX, Testbed, cleanup_stale, run
from mptcpspec.conformance.stacks.scenarios import SCENARIOS, ScenarioResult, capture_scenarios

pytestmark = pytest.mark.root


def _namespaces() -> set[str]:
    return {line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines() if line.strip()}


def _ours() -> set[str]:
    return {name for name in _namespaces() if name.startswith(f"{NS_PREFIX}{os.getpid()}-")}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ScenarioResult]:
    results = capture_scenarios(list(SCENARIOS), tmp_path_factory.mktemp("live"), jobs=4)
    return {result.name: result for result in results}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fresh_capture_shows_what_it_must(fresh: dict[str, ScenarioResult], name: str) -> None:
    result = fresh[name]
    assert result.error is None, result.error
    assert check(observe(result.pcap), SCENARIOS[name].must_show) == [], result.notes
    assert result.expect.is_file()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fresh_capture_gets_the_expected_verdict(
    fresh: dict[str, ScenarioResult], name: str, trace_verdict: Callable[[Path], list[str]]
) -> None:
    result = fresh[name]
    assert result.error is None, result.error
    assert trace_verdict(result.pcap) == []


def test_no_namespace_left_after_the_captures(fresh: dict[str, ScenarioResult]) -> None:
    assert fresh
    assert _ours() == set()


def test_testbed_is_torn_down_on_an_exception() -> None:
    with pytest.raises(RuntimeError, match="boom"), Testbed(paths=2) as bed:
        assert {bed.client.name, bed.server.name} <= _namespaces()
        raise RuntimeError("boom")
    assert _ours() == set()


def test_cleanup_removes_namespaces_of_dead_runs() -> None:
    dead = f"{NS_PREFIX}{2**22 + 1}-test-c"  # above the kernel's largest pid: its creator is surely gone
    run(["ip", "netns", "add", dead])
    removed = cleanup_stale()
    assert dead in removed
    assert dead not in _namespaces()


def test_testbed_is_torn_down_on_sigterm() -> None:
    script = (
        "import time\nfrom mptcpspec.conformance.stacks.linux import Testbed\n"
        "with Testbed(paths=1) as bed:\n"
        "    print(bed.client.name, bed.server.name, flush=True)\n"
        "    time.sleep(30)\n"
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        names = set(proc.stdout.readline().split())
        assert len(names) == 2 and names <= _namespaces()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    assert not names & _namespaces()
