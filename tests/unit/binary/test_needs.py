"""Each need has one of three answers with its evidence: needed, not needed, or carried by the binary."""

from __future__ import annotations

from goslim.binary import BuildInfo, NeedAnswer
from goslim.binary.needs import LinkedFunctions, detect_needs
from goslim.binary.packages import packages_of


def linked(*names: str) -> LinkedFunctions:
    return LinkedFunctions(list(names), packages_of(list(names)))


def test_roots_needed_carried_or_not() -> None:
    needed = detect_needs(linked("crypto/x509.loadSystemRoots"), None, None).ca_roots
    assert needed.answer is NeedAnswer.NEEDED and needed.needed
    carried = detect_needs(
        linked("crypto/x509.loadSystemRoots", "golang.org/x/crypto/x509roots/fallback.init.0"), None, None
    ).ca_roots
    assert carried.answer is NeedAnswer.CARRIED and not carried.needed
    assert carried.verdict == "not needed: the binary carries its own roots (x509roots/fallback)"
    assert "golang.org/x/crypto/x509roots/fallback.init.0" in carried.evidence
    assert detect_needs(linked("main.main"), None, None).ca_roots.answer is NeedAnswer.NOT_NEEDED


def test_zoneinfo_only_from_the_exported_load_location() -> None:
    # time.loadLocation/loadTzinfo are in every program that uses time ($TZ): no named-zone need.
    plain = detect_needs(linked("time.loadLocation", "time.loadTzinfo"), None, None).zoneinfo
    assert plain.answer is NeedAnswer.NOT_NEEDED
    named = detect_needs(linked("time.LoadLocation", "time.loadLocation"), None, None).zoneinfo
    assert named.answer is NeedAnswer.NEEDED and named.evidence == ["time.LoadLocation"]
    embedded = detect_needs(linked("time.LoadLocation", "time/tzdata.init.0"), None, None).zoneinfo
    assert embedded.answer is NeedAnswer.CARRIED
    assert embedded.verdict == "not needed: the binary carries its own zoneinfo (time/tzdata)"
    tagged = BuildInfo(go_version="go1.26.0", settings={"-tags": "netgo,timetzdata"})
    assert detect_needs(linked("time.LoadLocation"), None, tagged).zoneinfo.answer is NeedAnswer.CARRIED


def test_unknown_function_table_assumes_every_file_is_needed() -> None:
    needs = detect_needs(None, None, None)
    assert all(n.answer is NeedAnswer.NEEDED for n in (needs.ca_roots, needs.zoneinfo, needs.passwd))
    assert needs.ca_roots.detail.startswith("unknown:")


def test_the_answer_round_trips_through_json() -> None:
    funcs = linked("crypto/x509.loadSystemRoots", "golang.org/x/crypto/x509roots/fallback.init.0")
    needs = detect_needs(funcs, None, None)
    data = needs.model_dump(mode="json")
    assert data["ca_roots"]["answer"] == "carried" and data["ca_roots"]["needed"] is False
    assert type(needs).model_validate(data) == needs
