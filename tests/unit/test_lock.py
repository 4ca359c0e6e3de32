"""goslim.lock: its text round-trips, bad files are one line, facts say when a decision is stale,
and the manifests reuse recorded times only while this run's times still fit inside them."""

from __future__ import annotations

from pathlib import Path

import pytest

from goslim.config import ServiceConfig
from goslim.contract_resolve import parse_flags, resolve_contract
from goslim.decisions import manifests_under_lock, upx_decision
from goslim.lock import (
    SCHEMA,
    K8sLock,
    LevelMeasure,
    LockError,
    LockFile,
    ServiceLock,
    UpxLock,
    parse_lock,
    read_lock,
    render_lock,
    upx_facts,
    write_lock,
)
from goslim.upx import Budget
from goslim.verify.models import Observed

SHA = "a" * 64
DIGEST = "sha256:" + "b" * 64
IMAGE = f"registry.example.com/team/hello-api@{DIGEST}"


def entry(level: str = "lzma", decided: str | None = None) -> UpxLock:
    return UpxLock(
        level=level,
        decided_level=decided or level,
        basis="margin holds",
        reason="lzma: gzip pull -20.8%, start-up +120 ± 9 ms, inside the budget by more than the spread",
        facts=upx_facts(SHA, "4.2.2", ["default", "lzma"], Budget()),
        repetitions=7,
        measured=[
            LevelMeasure(level="default", pull_change_pct=-0.4, startup_cost_ms=40.2, startup_spread_ms=3.1),
            LevelMeasure(level="lzma", pull_change_pct=-20.8, startup_cost_ms=120.0, startup_spread_ms=9.4),
        ],
        goslim_version="0.1.0",
    )


def lock_file(upx: UpxLock | None = None) -> LockFile:
    return LockFile(schema=SCHEMA).with_service("example.com/hello-api", ServiceLock(upx=upx or entry()))


def test_the_text_round_trips_and_an_unchanged_lock_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "goslim.lock"
    assert write_lock(path, lock_file())
    text = path.read_text()
    assert text.startswith("# goslim.lock") and "\nschema: 1\n" in text
    assert read_lock(path) == lock_file()
    mtime = path.stat().st_mtime_ns
    assert not write_lock(path, read_lock(path))
    assert path.stat().st_mtime_ns == mtime
    assert render_lock(read_lock(path)) == text


def test_a_missing_lock_is_an_empty_one(tmp_path: Path) -> None:
    assert read_lock(tmp_path / "goslim.lock") == LockFile(schema=SCHEMA)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schema: [", "not valid YAML at line 1"),
        ("- 1\n", "not a goslim.lock: no 'schema' number"),
        ("schema: 9\n", "schema 9 is newer than this goslim reads (1)"),
        ("schema: 1\nservicez: {}\n", "unknown key 'servicez'"),
        ("schema: 1\nservices: {a: {upx: {level: fast}}}\n", "invalid value for 'services.a.upx.level'"),
    ],
)
def test_a_bad_lock_is_one_line_naming_the_file(text: str, expected: str) -> None:
    with pytest.raises(LockError) as caught:
        parse_lock(text, where="/m/goslim.lock")
    line = caught.value.one_line()
    assert line.startswith("/m/goslim.lock: ") and expected in line and "\n" not in line
    assert caught.value.exit_status == 2 and caught.value.hint


def test_an_unknown_level_edited_by_hand_names_the_good_ones() -> None:
    text = render_lock(lock_file()).replace("\n      level: lzma\n", "\n      level: lzmaa\n")
    with pytest.raises(LockError, match="unknown UPX level 'lzmaa' \\(use none or one of: default"):
        parse_lock(text, where="goslim.lock")


def test_a_hand_edited_level_is_read_as_set_by_hand() -> None:
    text = render_lock(lock_file()).replace("\n      level: lzma\n", "\n      level: none\n")
    upx = parse_lock(text, where="goslim.lock").services["example.com/hello-api"].upx
    assert upx is not None and upx.set_by_hand and upx.packed_level is None
    decision = upx_decision(upx, "set by hand in goslim.lock")
    assert decision.value == "none (unpacked)" and decision.inputs["decided by goslim"] == "lzma"


def test_facts_say_why_a_decision_no_longer_applies() -> None:
    facts = entry().facts
    assert facts.differs(facts) is None
    assert "the binary changed" in (facts.differs(facts.model_copy(update={"binary_sha256": "c" * 64})) or "")
    assert facts.differs(facts.model_copy(update={"upx_version": "4.2.4"})) == "UPX changed (4.2.2 → 4.2.4)"
    assert facts.differs(facts.model_copy(update={"max_startup_ms": 100.0})) == "the budget changed"


def test_the_decision_section_states_each_level_with_its_spread() -> None:
    decision = upx_decision(entry(), "reused from goslim.lock")
    assert decision.value == "lzma" and decision.inputs["rounds per variant"] == "7"
    assert decision.inputs["level lzma"] == "pull -20.8%, start-up +120.0 ± 9.4 ms"


def contract():
    flags = parse_flags(ports=[8080], health="/healthz", readiness="/readyz")
    return resolve_contract(flags, ServiceConfig(), package=".", main_package="example.com/hello-api")


def test_recorded_times_are_reused_while_this_runs_times_fit_inside_them() -> None:
    quiet = Observed(port=8080, startup_seconds=0.55, shutdown_seconds=0.08)
    first = manifests_under_lock(IMAGE, contract(), quiet, digest=DIGEST)
    busy = Observed(port=8080, startup_seconds=1.9, shutdown_seconds=0.4)  # 3 x 1.9 + 5 > 10 s alone
    second = manifests_under_lock(IMAGE, contract(), busy, digest=DIGEST, entry=first.entry)
    assert second.manifests.yaml == first.manifests.yaml and second.entry == first.entry
    assert [d.source for d in second.decisions] == ["reused from goslim.lock"] * 2
    assert second.decisions[1].measured_now == {"measured": "start-up 1.900 s"}
    assert [d.inputs for d in second.decisions] == [d.inputs for d in first.decisions]
    # Without the lock the busy run alone would have written another start-up probe.
    assert manifests_under_lock(IMAGE, contract(), busy, digest=DIGEST).manifests.yaml != first.manifests.yaml


def test_times_outside_the_recorded_values_or_another_image_decide_again() -> None:
    quiet = Observed(port=8080, startup_seconds=0.55, shutdown_seconds=0.08)
    first = manifests_under_lock(IMAGE, contract(), quiet, digest=DIGEST)
    slow = Observed(port=8080, startup_seconds=12.0, shutdown_seconds=0.08)
    again = manifests_under_lock(IMAGE, contract(), slow, digest=DIGEST, entry=first.entry)
    assert "start-up took 12.00 s, over the start-up probe window 10 s (margin crossed)" in again.note
    assert again.entry.startup_seconds == 12.0
    other = manifests_under_lock(IMAGE, contract(), quiet, digest="sha256:" + "c" * 64, entry=first.entry)
    assert other.note == "" and other.entry.image_digest.endswith("c" * 64)
    redo = manifests_under_lock(
        IMAGE, contract(), quiet, digest=DIGEST, entry=K8sLock(image_digest=DIGEST), redecide=True
    )
    assert redo.entry == first.entry
