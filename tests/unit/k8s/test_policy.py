"""`goslim k8s --policy`: admission policies checked against the projects' own published CRDs
(tests/fixtures/crds, sources in its README)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from goslim.cli.app import main
from goslim.k8s.policy import GOSLIM_TYPE, admission_policy
from goslim.sign.keys import write_key_pair
from tests.unit.k8s.crd import crd_errors, excerpt_schema, schema_errors

IMAGE = "registry.example/team/hello@sha256:" + "ab" * 32
SIGSTORE_CRD = "policy.sigstore.dev_clusterimagepolicies.yaml"
KYVERNO_ATTESTATIONS = "kyverno.io_clusterpolicies.v1.verifyImages.attestations.yaml"


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    return write_key_pair(tmp_path / "keys", b"pw").public_key


def _policy_docs(text: str, kind: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d and d.get("kind") == kind]


def test_sigstore_policy_validates_against_the_policy_controller_crd(
    pub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["k8s", IMAGE, "--port", "8080", "--policy", "sigstore", "--key", str(pub)]) == 0
    (policy,) = _policy_docs(capsys.readouterr().out, "ClusterImagePolicy")
    assert crd_errors(policy, SIGSTORE_CRD) == []
    spec = policy["spec"]
    assert spec["images"] == [{"glob": "registry.example/team/hello*"}]
    (authority,) = spec["authorities"]
    assert authority["key"]["data"] == pub.read_text()
    (attestation,) = authority["attestations"]
    assert attestation["predicateType"] == GOSLIM_TYPE
    cue = attestation["policy"]["data"]
    assert "passed: true" in cue and '!="fail"' in cue and attestation["policy"]["type"] == "cue"


def test_the_crd_check_catches_what_the_api_server_refuses(pub: Path) -> None:
    """The validator is not a rubber stamp: a wrong type, an unknown field, an unserved version."""
    policy = admission_policy("sigstore", "hello", "registry.example/team/hello", pub.read_text())
    policy["spec"]["images"] = [{"glob": 3}]
    policy["spec"]["authorities"][0]["key"]["pem"] = "x"
    errors = crd_errors(policy, SIGSTORE_CRD)
    assert any("is not of type 'string'" in e for e in errors)
    assert ".spec.authorities[0].key.pem: unknown field" in errors
    policy["apiVersion"] = "policy.sigstore.dev/v9"
    assert crd_errors(policy, SIGSTORE_CRD) == ["version v9 is not served (served: v1alpha1, v1beta1)"]


def test_kyverno_policy_shape(pub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["k8s", IMAGE, "--port", "8080", "--policy", "kyverno", "--key", str(pub)]) == 0
    (policy,) = _policy_docs(capsys.readouterr().out, "ClusterPolicy")
    (rule,) = policy["spec"]["rules"]
    (verify,) = rule["verifyImages"]
    assert verify["imageReferences"] == ["registry.example/team/hello*"]
    assert verify["failureAction"] == policy["spec"]["validationFailureAction"] == "Enforce"
    # The part that carries goslim's check, against Kyverno's own schema of it (an excerpt: README).
    assert schema_errors(verify["attestations"], excerpt_schema(KYVERNO_ATTESTATIONS)["attestations"]) == []
    (attestation,) = verify["attestations"]
    assert attestation["type"] == GOSLIM_TYPE
    assert attestation["attestors"][0]["entries"][0]["keys"]["publicKeys"] == pub.read_text()
    conditions = attestation["conditions"][0]["all"]
    assert {"key": "{{ passed }}", "operator": "Equals", "value": True} in conditions


def test_policy_flags_are_checked_first(pub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["k8s", IMAGE, "--policy", "opa", "--key", str(pub)]) == 2
    assert "unknown --policy 'opa'" in capsys.readouterr().err
    assert main(["k8s", IMAGE, "--policy", "kyverno"]) == 2
    assert "needs --key cosign.pub" in capsys.readouterr().err
    private = pub.parent / "cosign.key"
    assert main(["k8s", IMAGE, "--policy", "sigstore", "--key", str(private)]) == 2
    assert "this is a private key" in capsys.readouterr().err


def test_the_kyverno_excerpt_refuses_a_wrong_operator(pub: Path) -> None:
    policy = admission_policy("kyverno", "hello", "registry.example/team/hello", pub.read_text())
    attestations = policy["spec"]["rules"][0]["verifyImages"][0]["attestations"]
    attestations[0]["conditions"][0]["all"][0]["operator"] = "Is"
    attestations[0]["attestors"][0]["entries"][0]["keys"]["publicKey"] = "x"
    errors = schema_errors(attestations, excerpt_schema(KYVERNO_ATTESTATIONS)["attestations"])
    assert any("'Is' is not one of" in e for e in errors)
    assert "[0].attestors[0].entries[0].keys.publicKey: unknown field" in errors
