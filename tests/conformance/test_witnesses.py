"""The z3 witnesses: each keeps or breaks exactly its rule, and agrees with the project's own code."""

from __future__ import annotations

import fnmatch

import pytest

from mptcpspec.conformance.suite import all_cases
from mptcpspec.conformance.suite.coverage import EXERCISES, UNOBSERVABLE, wire_rules
from mptcpspec.conformance.witnesses import MODELS, Model, coverage, holds, witness
from mptcpspec.spec.catalogue import CATALOGUE
from mptcpspec.spec.errors import OptionError
from mptcpspec.spec.options import parse
from mptcpspec.spec.seqnum import infer_dsn64


def _model(rule_id: str) -> Model:
    return next(m for m in MODELS if m.rule_id == rule_id)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.rule_id)
def test_keeps_and_breaks(model: Model) -> None:
    found = witness(model)
    assert holds(model, found.keeps) == (True, True)
    assert holds(model, found.breaks) == (True, False)
    assert set(found.keeps) == set(found.breaks) == {name for name, _ in model.fields}


def test_models_are_independent() -> None:
    """No two models share a rule id, so a breaking assignment breaks one rule only."""
    ids = [m.rule_id for m in MODELS]
    assert len(ids) == len(set(ids))
    assert all(rule_id in CATALOGUE or rule_id == "dss.dsn32-inference" for rule_id in ids)


def test_dsn32_inference_witness_agrees_with_seqnum() -> None:
    """Inside the window infer_dsn64 recovers the DSN; the breaking witness is where it cannot."""
    found = witness(_model("dss.dsn32-inference"))
    keep, breaks = found.keeps, found.breaks
    assert infer_dsn64(keep["dsn"] & 0xFFFFFFFF, keep["near"]) == keep["dsn"]
    assert infer_dsn64(breaks["dsn"] & 0xFFFFFFFF, breaks["near"]) != breaks["dsn"]


def _dss_bytes(values: dict[str, int]) -> bytes:
    flags = values["A"] | values["a"] << 1 | values["M"] << 2 | values["m"] << 3
    length = values["length"]
    return bytes((30, length, 0x20, flags)) + bytes(max(length - 4, 0))


def test_dss_length_witness_agrees_with_parser() -> None:
    """The option-length model is the parser's: the keeping DSS parses, the breaking one does not."""
    found = witness(_model("options.malformed"))
    parse(_dss_bytes(dict(found.keeps)))
    with pytest.raises(OptionError):
        parse(_dss_bytes(dict(found.breaks)))


def test_mapping_consistency_witness() -> None:
    found = witness(_model("dss.mapping-consistent"))
    for values, consistent in ((found.keeps, True), (found.breaks, False)):
        offset = (values["ssn2"] - values["ssn1"]) % (1 << 32)
        assert offset < values["len1"]
        assert ((values["dsn2"] - values["dsn1"]) % (1 << 64) == offset) is consistent


def test_coverage_names_every_rule() -> None:
    """Every rule is exercised on the wire or modelled, or listed as unobservable with a reason."""
    result = coverage()
    assert set(result) == set(CATALOGUE)
    for rule_id, how in result.items():
        if how.startswith("none: "):
            assert rule_id in UNOBSERVABLE, rule_id
        else:
            assert how in ("wire", "witness", "both"), rule_id


def test_coverage_table_matches_real_cases() -> None:
    names = [case.name for case in all_cases()]
    for pattern, rule_ids in EXERCISES:
        assert fnmatch.filter(names, pattern), f"no case matches {pattern}"
        assert all(rule_id in CATALOGUE for rule_id in rule_ids), pattern
    assert set(wire_rules()) <= set(CATALOGUE)
