"""The Kyverno ClusterPolicy of `goslim k8s --policy kyverno` against Kyverno's whole published CRD.

The CRD is not kept in the repository (1.4 MB): it comes from Kyverno's Go module, fetched through
the Go module proxy at a pinned version and checked against the pinned module hash; Go's module
cache keeps it for later runs. Skipped (locally) only when the proxy cannot be reached.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from goslim.k8s.policy import GOSLIM_TYPE, admission_policy
from goslim.sign.keys import write_key_pair
from tests.conftest import need_tool
from tests.unit.k8s.crd import crd_errors, deprecated_fields, load_crd, served_schema

MODULE = "github.com/kyverno/kyverno"
VERSION = "v1.13.4"
MODULE_SUM = "h1:2zUi+eszlisLdCir+WIf2NtuUfFPvJtjUNpewdtLjVw="  # go.sum's line for the module zip
CRD_PATH = "config/crds/kyverno/kyverno.io_clusterpolicies.yaml"
# Deprecated in Kyverno 1.13 and still written on purpose: without it an older Kyverno (no rule-level
# failureAction) would default to Audit and admit every image.
DEPRECATED_ON_PURPOSE = [".spec.validationFailureAction"]


@pytest.fixture(scope="module")
def kyverno_crd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = need_tool("go")
    work = tmp_path_factory.mktemp("kyverno")
    done = subprocess.run([go, "mod", "download", "-json", f"{MODULE}@{VERSION}"], cwd=work,
                          capture_output=True, text=True, timeout=600, check=False,
                          env=os.environ | {"GO111MODULE": "on", "GOFLAGS": "-mod=mod"})
    try:
        info = json.loads(done.stdout)
    except ValueError:
        info = {}
    if done.returncode != 0 or "Dir" not in info:
        why = (info.get("Error") or done.stderr.strip() or "no output").splitlines()[-1]
        if os.environ.get("CI"):
            pytest.fail(f"go mod download {MODULE}@{VERSION} failed in CI: {why}")
        pytest.skip(f"the Go module proxy did not give {MODULE}@{VERSION}: {why}")
    assert info["Sum"] == MODULE_SUM, "the module is not the pinned one"
    return Path(info["Dir"]) / CRD_PATH


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> dict:
    keys = write_key_pair(tmp_path_factory.mktemp("keys"), b"pw")
    return admission_policy("kyverno", "hello", "registry.example/team/hello", keys.public_key.read_text())


def test_the_kyverno_policy_validates_against_the_whole_crd(kyverno_crd: Path, policy: dict) -> None:
    assert crd_errors(policy, kyverno_crd) == []
    schema = served_schema(load_crd(kyverno_crd), "v1")
    assert deprecated_fields(policy, schema) == DEPRECATED_ON_PURPOSE
    attestation = policy["spec"]["rules"][0]["verifyImages"][0]["attestations"][0]
    assert attestation["type"] == GOSLIM_TYPE


def test_the_whole_crd_refuses_what_kyverno_refuses(kyverno_crd: Path, policy: dict) -> None:
    """Not a rubber stamp: the rule needs match, the failure action is an enum, unknown fields fail."""
    broken = json.loads(json.dumps(policy))
    rule = broken["spec"]["rules"][0]
    del rule["match"]
    rule["verifyImages"][0]["failureAction"] = "Deny"
    broken["spec"]["webhookTimeout"] = 30
    errors = crd_errors(broken, kyverno_crd)
    assert "spec/rules/0: 'match' is a required property" in errors
    assert any("'Deny' is not one of ['Audit', 'Enforce']" in e for e in errors)
    assert ".spec.webhookTimeout: unknown field" in errors
    old = json.loads(json.dumps(policy))
    old["spec"]["webhookTimeoutSeconds"] = old["spec"].pop("webhookConfiguration")["timeoutSeconds"]
    schema = served_schema(load_crd(kyverno_crd), "v1")
    assert ".spec.webhookTimeoutSeconds" in deprecated_fields(old, schema)
