"""Reusing a signed verification: only for the same digest, contract, options and check set, and only
when the signature holds for the given key."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from goslim.attestation import GOSLIM_TYPE, attest_verification, find_reusable
from goslim.contract import RunContract
from goslim.sign import sign_image
from goslim.sign.attest import attest_image
from goslim.sign.keys import load_private_key, load_public_key, load_verifying_key, write_key_pair
from goslim.sign.store import LayoutLocation, OciLayoutStore
from goslim.verify.models import Checklist, CheckResult, CheckStatus, VerifyOptions
from goslim.verify.predicate import check_set, verification_predicate
from tests.unit.sign.test_sign_layout import make_layout

CONTRACT = RunContract(name="hello", ports=(8080,), sources={"ports": "flag"})
OPTIONS = VerifyOptions(port=8080, alive_seconds=1.0)


def _checklist(status: CheckStatus = CheckStatus.PASS) -> Checklist:
    result = CheckResult(id="starts", title="starts", status=status, summary="up for 1 s")
    return Checklist(image="oci:img", runtime="runc 1.1.5", platform="linux/amd64", results=(result,),
                     seconds=2.0)


@pytest.fixture
def attested(tmp_path: Path) -> tuple[str, Path, Path]:
    """A layout whose image carries a goslim attestation; (location, cosign.key, cosign.pub)."""
    pair = write_key_pair(tmp_path / "keys", b"pw")
    make_layout(tmp_path / "img")
    location = f"oci:{tmp_path / 'img'}"
    key = load_private_key(pair.private_key, b"pw")
    attest_verification([location], key, verification_predicate(_checklist(), CONTRACT, OPTIONS))
    return location, pair.private_key, pair.public_key


def test_same_digest_contract_and_options_are_reused(attested: tuple[str, Path, Path]) -> None:
    location, _, pub = attested
    # Where a value came from and the size verify reads from the image do not change the verdict.
    same = CONTRACT.model_copy(update={"sources": {"ports": "goslim.yaml"}})
    reuse = find_reusable([location], load_public_key(pub), same, OPTIONS.model_copy(
        update={"image_size_bytes": 123}))
    assert reuse.reused and reuse.location == location and "not run" in reuse.reason
    assert reuse.checklist is not None and reuse.checklist.result("starts").summary == "up for 1 s"


def test_the_private_key_also_checks(attested: tuple[str, Path, Path]) -> None:
    location, private, _ = attested
    key = load_verifying_key(private, lambda: b"pw")
    assert find_reusable([location], key, CONTRACT, OPTIONS).reused


@pytest.mark.parametrize(
    ("contract", "options", "why"),
    [
        (CONTRACT.model_copy(update={"env": {"A": "1"}}), OPTIONS, "the run contract changed: env"),
        (CONTRACT, OPTIONS.model_copy(update={"grace_seconds": 5.0}), "the verify options changed: grace"),
        (None, OPTIONS, "the run contract changed"),
    ],
)
def test_a_changed_run_is_not_reused(
    attested: tuple[str, Path, Path], contract: RunContract | None, options: VerifyOptions, why: str
) -> None:
    location, _, pub = attested
    reuse = find_reusable([location], load_public_key(pub), contract, options)
    assert not reuse.reused and why in reuse.reason


def test_an_older_check_set_is_not_reused(tmp_path: Path) -> None:
    pair = write_key_pair(tmp_path / "keys", b"pw")
    make_layout(tmp_path / "img")
    location = f"oci:{tmp_path / 'img'}"
    body = verification_predicate(_checklist(), CONTRACT, OPTIONS).to_json()
    body["checkSet"] = [c for c in check_set() if c != "limits"]
    attest_image(location, pair.private_key, b"pw", GOSLIM_TYPE, body)
    reuse = find_reusable([location], load_public_key(pair.public_key), CONTRACT, OPTIONS)
    assert not reuse.reused and "did not know the checks limits" in reuse.reason


def test_wrong_key_tampered_and_foreign_predicates_are_refused(
    attested: tuple[str, Path, Path], tmp_path: Path
) -> None:
    location, private, _ = attested
    other = write_key_pair(tmp_path / "other", b"pw")
    reuse = find_reusable([location], load_public_key(other.public_key), CONTRACT, OPTIONS)
    assert not reuse.reused and "no signature matches the key" in reuse.reason

    # A failed run rewritten as passed, with the signature left as it was.
    store = OciLayoutStore(LayoutLocation(Path(location[4:]), None))
    tag = store.resolve().replace(":", "-") + ".att"
    manifest = json.loads(store.get_tagged(tag) or b"{}")
    envelope = json.loads(store.get_blob(manifest["layers"][0]["digest"]))
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["verifyOptions"]["grace_seconds"] = 99.0
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    forged = json.dumps(envelope).encode()
    manifest["layers"][0].update(digest=store.put_blob(forged, "x"), size=len(forged))
    store.put_tagged(tag, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    pub = load_verifying_key(private, lambda: b"pw")
    reuse = find_reusable([location], pub, CONTRACT, OPTIONS)
    assert not reuse.reused and "tampered" in reuse.reason

    # Signed by the right key, but not a goslim checklist (another tool's predicate of the same type).
    attest_image(location, private, b"pw", GOSLIM_TYPE, {"passed": True})
    reuse = find_reusable([location], pub, CONTRACT, OPTIONS)
    assert not reuse.reused and "does not carry a goslim checklist" in reuse.reason


def test_nothing_attested_says_so(tmp_path: Path) -> None:
    pair = write_key_pair(tmp_path / "keys", b"pw")
    digest = make_layout(tmp_path / "img")
    reuse = find_reusable([f"oci:{tmp_path / 'img'}"], load_public_key(pair.public_key), CONTRACT, OPTIONS)
    assert not reuse.reused and f"no goslim attestation for {digest}" in reuse.reason
    reuse = find_reusable([f"oci:{tmp_path / 'img'}"], load_public_key(pair.public_key), CONTRACT, OPTIONS,
                          image_digest="sha256:" + "0" * 64)
    assert not reuse.reused and "not the image built now" in reuse.reason


def test_predicate_carries_what_a_policy_reads() -> None:
    body = verification_predicate(_checklist(CheckStatus.FAIL), CONTRACT, OPTIONS).to_json()
    assert body["passed"] is False and body["checks"] == [{"id": "starts", "status": "fail"}]
    assert body["runtime"] == "runc 1.1.5" and body["contract"]["ports"] == [8080]
    assert set(body["checkSet"]) >= {"starts", "shutdown", "ca-roots"}
    assert body["verifyOptions"]["image_size_bytes"] is None


def test_attesting_and_signing_again_write_nothing_new(attested: tuple[str, Path, Path]) -> None:
    """A warm re-run (the same predicate, a valid signature by the same key) leaves the tags as they are."""
    location, private, _ = attested
    key = load_private_key(private, b"pw")
    store = OciLayoutStore(LayoutLocation(Path(location[4:]), None))
    tag = store.resolve().replace(":", "-") + ".att"
    before = store.get_tagged(tag)
    again = attest_verification([location], key, verification_predicate(_checklist(), CONTRACT, OPTIONS))
    assert store.get_tagged(tag) == before and again[0].attachment.layers == 1
    changed = verification_predicate(_checklist(CheckStatus.FAIL), CONTRACT, OPTIONS)
    attest_verification([location], key, changed)
    assert store.get_tagged(tag) != before
    first = sign_image(location, key, b"", once=True)
    second = sign_image(location, key, b"", once=True)
    assert second.attachment == first.attachment and second.attachment.layers == 1


INPUTS = "sha256:" + "1" * 64


@pytest.mark.parametrize(
    ("status", "attested_inputs", "asked", "why"),
    [
        (CheckStatus.PASS, INPUTS, INPUTS, None),
        (CheckStatus.PASS, None, INPUTS, "attested for inputs (none)"),
        (CheckStatus.PASS, INPUTS, "sha256:" + "2" * 64, f"attested for inputs {INPUTS}"),
        (CheckStatus.FAIL, INPUTS, INPUTS, "the attested verification did not pass"),
    ],
)
def test_an_image_stands_for_a_build_only_with_the_same_inputs_and_a_pass(
    tmp_path: Path, status: CheckStatus, attested_inputs: str | None, asked: str, why: str | None
) -> None:
    pair = write_key_pair(tmp_path / "keys", b"pw")
    make_layout(tmp_path / "img")
    location = f"oci:{tmp_path / 'img'}"
    key = load_private_key(pair.private_key, b"pw")
    predicate = verification_predicate(_checklist(status), CONTRACT, OPTIONS, attested_inputs)
    attest_verification([location], key, predicate)
    reuse = find_reusable([location], key.public_key(), CONTRACT, OPTIONS, inputs=asked)
    assert reuse.reused is (why is None)
    if why is not None:
        assert why in reuse.reason
    # Without inputs (verify's own reuse), a failed verification is reused as failed.
    assert find_reusable([location], key.public_key(), CONTRACT, OPTIONS).reused
