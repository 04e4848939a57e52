"""Shared pytest helpers.

Tests that need root, network namespaces, kernel MPTCP and tcpdump either carry the ``root`` marker
(``pytestmark = pytest.mark.root``) or use the ``needs_root_netns`` fixture; both skip with the reason
``root_unavailable_reason()`` gives when any of those is missing, and run everywhere else.
``trace_verdict`` judges a capture with the trace checker.  ``public_traces.PUBLIC`` (importable from
every test directory) is where the shared public captures are.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # test helpers shared by several directories

from mptcpspec.conformance.stacks.expectations import verdict_problems
from mptcpspec.conformance.stacks.linux import root_unavailable_reason

_UNAVAILABLE = root_unavailable_reason()
_SKIP_REASON = f"needs root, network namespaces, kernel MPTCP and tcpdump: {_UNAVAILABLE}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every test marked ``root`` when the kernel testbed is unavailable."""
    if _UNAVAILABLE is None:
        return
    skip = pytest.mark.skip(reason=_SKIP_REASON)
    for item in items:
        if item.get_closest_marker("root") is not None:
            item.add_marker(skip)


@pytest.fixture
def needs_root_netns() -> None:
    """Skip the requesting test when root, namespaces, kernel MPTCP or tcpdump are missing."""
    if _UNAVAILABLE is not None:
        pytest.skip(_SKIP_REASON)


@pytest.fixture
def trace_verdict() -> Callable[[Path], list[str]]:
    """``expectations.verdict_problems``: the trace checker's violations on a capture, as sentences."""
    return verdict_problems
