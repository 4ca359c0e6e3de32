"""Attestations: DSSE envelopes under sha256-<hex>.att, replaced per type, checked strictly."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.sign.attest import PREDICATE_TYPES, attest_image, check_attestations, verify_attestation
from goslim.sign.dsse import open_envelope, pae, seal
from goslim.sign.errors import SignatureVerificationError
from goslim.sign.keys import load_private_key, load_public_key, write_key_pair
from goslim.sign.store import LayoutLocation, OciLayoutStore
from goslim.verify.models import Checklist, CheckResult, CheckStatus
from goslim.verify.predicate import attested_checklist, verification_predicate
from tests.unit.sign.test_sign_layout import make_layout

GOSLIM = PREDICATE_TYPES["goslim"]


def _checklist(status: CheckStatus = CheckStatus.PASS) -> Checklist:
    result = CheckResult(id="shutdown", title="stops on SIGTERM", status=status, summary="exited 0 in 11 ms",
                         measured={"shutdown_s": 0.011})
    return Checklist(image="oci:img", image_digest=None, runtime="runc 1.1.5", platform="linux/amd64",
                     results=(result,), seconds=5.5)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    pair = write_key_pair(tmp_path / "keys", b"pw")
    return pair.private_key, pair.public_key


def test_pae_is_dsse_v1() -> None:
    assert pae("application/vnd.in-toto+json", b"{}") == b"DSSEv1 28 application/vnd.in-toto+json 2 {}"


def test_envelope_round_trip_and_tamper(keys: tuple[Path, Path]) -> None:
    key = load_private_key(keys[0], b"pw")
    pub = load_public_key(keys[1])
    raw = seal(key, b'{"a":1}')
    assert open_envelope(pub, raw).payload == b'{"a":1}'
    envelope = json.loads(raw)
    envelope["payload"] = base64.b64encode(b'{"a":2}').decode()
    opened = open_envelope(pub, json.dumps(envelope).encode())
    assert not opened.valid and "no signature matches" in opened.reason
    assert open_envelope(pub, b"not json").reason == "not a DSSE envelope"


def test_attest_layout_and_read_back(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    digest = make_layout(tmp_path / "img")
    location = f"oci:{tmp_path / 'img'}"
    done = attest_image(location, keys[0], b"pw", GOSLIM, verification_predicate(_checklist()).to_json())
    assert done.attachment.tag == digest.replace(":", "-") + ".att"
    found = verify_attestation(location, keys[1], GOSLIM)
    assert found.valid and found.predicate is not None
    back = attested_checklist(found.predicate)
    assert back.result("shutdown").measured["shutdown_s"] == 0.011


def test_same_type_replaces_other_types_stay(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    make_layout(tmp_path / "img")
    location = f"oci:{tmp_path / 'img'}"
    failing = verification_predicate(_checklist(CheckStatus.FAIL)).to_json()
    attest_image(location, keys[0], b"pw", GOSLIM, failing)
    attest_image(location, keys[0], b"pw", PREDICATE_TYPES["cyclonedx"], {"bomFormat": "CycloneDX"})
    attest_image(location, keys[0], b"pw", GOSLIM, verification_predicate(_checklist()).to_json())
    _digest, checks = check_attestations(location, keys[1])
    assert sorted(c.predicate_type for c in checks) == sorted([GOSLIM, PREDICATE_TYPES["cyclonedx"]])
    assert verify_attestation(location, keys[1], GOSLIM).predicate["passed"] is True  # type: ignore[index]


def test_wrong_key_and_tampered_predicate_are_refused(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    make_layout(tmp_path / "img")
    location = f"oci:{tmp_path / 'img'}"
    attest_image(location, keys[0], b"pw", GOSLIM, verification_predicate(_checklist()).to_json())
    other = write_key_pair(tmp_path / "other", b"pw")
    with pytest.raises(SignatureVerificationError, match="no signature matches"):
        verify_attestation(location, other.public_key, GOSLIM)
    # Rewrite the envelope's payload in the layout (a failed check turned into a pass).
    store = OciLayoutStore(LayoutLocation(tmp_path / "img", None))
    digest = store.resolve()
    tag = digest.replace(":", "-") + ".att"
    manifest = json.loads(store.get_tagged(tag) or b"{}")
    envelope = json.loads(store.get_blob(manifest["layers"][0]["digest"]))
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["passed"] = False
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    forged = json.dumps(envelope).encode()
    manifest["layers"][0]["digest"] = store.put_blob(forged, "application/vnd.dsse.envelope.v1+json")
    manifest["layers"][0]["size"] = len(forged)
    store.put_tagged(tag, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    with pytest.raises(SignatureVerificationError, match="tampered"):
        verify_attestation(location, keys[1], GOSLIM)


def test_cli_verify_attestation_prints_the_checklist(
    tmp_path: Path,
    keys: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    make_layout(tmp_path / "img")
    location = f"oci:{tmp_path / 'img'}"
    predicate = tmp_path / "checklist.json"
    predicate.write_text(json.dumps(verification_predicate(_checklist()).to_json()))
    assert main(["attest", location, "--predicate", str(predicate), "--type", "goslim", "--key",
                 str(keys[0])]) == 0
    capsys.readouterr()
    assert main(["verify-attestation", location, "--key", str(keys[1])]) == 0
    out = capsys.readouterr().out
    assert "valid attestation" in out and "shutdown" in out
    assert main(["verify-attestation", location, "--key", str(keys[1]), "--type", "cyclonedx"]) == 1
    assert "no https://cyclonedx.org/bom attestation" in capsys.readouterr().err
    predicate.write_text("[1, 2]")
    assert main(["attest", location, "--predicate", str(predicate), "--key", str(keys[0])]) == 2
    assert "must be a JSON object" in capsys.readouterr().err
