"""Reusing the signed verifications of an image index: each platform by the checklist attested on its
own manifest, in the mode it ran; a platform whose attested run started no container runs again."""

from __future__ import annotations

from pathlib import Path

import pytest

from goslim.attestation import GOSLIM_TYPE, find_reusable_platforms, reused_platform_runs
from goslim.contract import RunContract
from goslim.oci import FileEntry, Image, Index, Platform, build_layer, new_config, write_oci_layout
from goslim.sign.keys import load_private_key, load_public_key, write_key_pair
from goslim.sign.recursive import attest_recursive
from goslim.verify.models import Checklist, CheckResult, CheckStatus, Observed, VerifyOptions
from goslim.verify.platforms import verify_index
from goslim.verify.predicate import verification_predicate

CONTRACT = RunContract(name="hello", ports=(8080,))
OPTIONS = VerifyOptions(port=8080, alive_seconds=1.0)
AMD64, ARM64 = "linux/amd64", "linux/arm64"


def _image(arch: str) -> Image:
    layer = build_layer([FileEntry.file("app", f"{arch} build".encode(), mode=0o755)])
    return Image.build(new_config(Platform(os="linux", architecture=arch), entrypoint=["/app"]), [layer])


def _checklist(platform: str, *, emulated: bool = False, ran: bool = True) -> Checklist:
    measured = {"emulated": True} if emulated else {}
    result = CheckResult(id="starts", title="starts", status=CheckStatus.PASS, summary="up",
                         measured=measured)
    return Checklist(image="oci:img", runtime="runc 1.1.5", platform=platform, results=(result,),
                     seconds=1.0, observed=Observed(port=8080) if ran else None)


def _attest(location: str, private: Path, checklists: dict[str, Checklist]) -> None:
    key = load_private_key(private, b"pw")
    mine = {p: verification_predicate(c, CONTRACT, OPTIONS).to_json() for p, c in checklists.items()}
    attest_recursive(location, key, GOSLIM_TYPE, mine[AMD64], per_platform=mine)


@pytest.fixture
def index_layout(tmp_path: Path) -> tuple[str, Index, Path, Path]:
    """A two-platform index in a layout, nothing attested yet: (location, index, cosign.key, cosign.pub)."""
    pair = write_key_pair(tmp_path / "keys", b"pw")
    index = Index.build([_image("amd64"), _image("arm64")])
    write_oci_layout(tmp_path / "img", index, tag="v1")
    return f"oci:{tmp_path / 'img'}:v1", index, pair.private_key, pair.public_key


def test_each_platform_is_answered_by_its_own_attestation_in_the_mode_it_ran(index_layout) -> None:
    location, index, private, pub = index_layout
    _attest(location, private, {AMD64: _checklist(AMD64), ARM64: _checklist(ARM64, emulated=True)})

    key = load_public_key(pub)
    runs, said = reused_platform_runs([location], index.images, key, CONTRACT, OPTIONS, "idx")

    assert {p: r.mode for p, r in runs.items()} == {AMD64: "native", ARM64: "emulated"}
    assert all(r.reused and "not run" in r.reused for r in runs.values())
    assert runs[ARM64].digest == str(index.images[1].digest)
    assert runs[ARM64].checklist.image == f"idx ({ARM64})"
    assert len(said) == 2 and all(line.startswith("reused the signed verification") for line in said)
    # Every platform answered: verify_index starts no container (it has no runtime to start one with).
    result = verify_index(index, OPTIONS, label="idx", reused=runs, emulators={})
    assert [r.platform for r in result.runs] == [AMD64, ARM64] and result.ok


def test_a_platform_attested_without_a_container_run_is_run_again(index_layout) -> None:
    location, index, private, pub = index_layout
    _attest(location, private, {AMD64: _checklist(AMD64), ARM64: _checklist(ARM64, ran=False)})

    found = find_reusable_platforms([location], index.images, load_public_key(pub), CONTRACT, OPTIONS)

    assert found[AMD64].reused
    assert not found[ARM64].reused and "the attested run started no container" in found[ARM64].reason


def test_a_platform_without_an_attestation_or_with_another_contract_runs(index_layout) -> None:
    location, index, private, pub = index_layout
    _attest(location, private, {AMD64: _checklist(AMD64)})  # arm64 was not verified then
    key = load_public_key(pub)

    found = find_reusable_platforms([location], index.images, key, CONTRACT, OPTIONS)
    assert found[AMD64].reused
    assert not found[ARM64].reused and "no goslim attestation for sha256:" in found[ARM64].reason

    changed = CONTRACT.model_copy(update={"env": {"A": "1"}})
    runs, said = reused_platform_runs([location], index.images, key, changed, OPTIONS, "idx")
    assert runs == {}
    assert said[0].startswith(f"running {AMD64}: no attestation to reuse:")
    assert "the run contract changed" in said[0]


def test_an_unreadable_location_is_a_reason_not_an_error(index_layout, tmp_path: Path) -> None:
    location, index, private, pub = index_layout
    _attest(location, private, {AMD64: _checklist(AMD64), ARM64: _checklist(ARM64)})
    missing = f"oci:{tmp_path / 'nowhere'}:v1"

    key = load_public_key(pub)
    found = find_reusable_platforms([missing, location], index.images, key, CONTRACT, OPTIONS)

    assert found[AMD64].reused and found[AMD64].location == f"{location} ({AMD64})"
    other = write_key_pair(tmp_path / "other", b"pw")
    refused = find_reusable_platforms([missing, location], index.images, load_public_key(other.public_key),
                                      CONTRACT, OPTIONS)
    assert not refused[ARM64].reused and f"{missing}: attestations unreadable" in refused[ARM64].reason
