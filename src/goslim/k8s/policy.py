"""Admission policies that let into a cluster only images carrying a passing goslim attestation.

Two admission controllers read cosign's attestations: Sigstore's policy-controller
(``ClusterImagePolicy``, a CUE policy over the in-toto statement) and Kyverno (``ClusterPolicy``
``verifyImages`` with JMESPath conditions over the predicate). Both check the DSSE signature against
the public key given, then require ``passed: true`` and no check with status ``fail``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml

from goslim.sign.attest import PREDICATE_TYPES

PolicyKind = Literal["sigstore", "kyverno"]
POLICY_KINDS: tuple[PolicyKind, ...] = ("sigstore", "kyverno")
GOSLIM_TYPE = PREDICATE_TYPES["goslim"]
_NAME_RE = re.compile(r"[^a-z0-9-]+")

# CUE over the statement: the goslim predicate, passed, and every check's status other than "fail".
_CUE = f"""predicateType: "{GOSLIM_TYPE}"
predicate: {{
  passed: true
  checks: [...{{status: !="fail"}}]
}}
"""


def image_glob(repository: str) -> str:
    """Every tag and digest of ``repository`` (``HOST/PATH``): what both controllers match images by."""
    return f"{repository}*"


def admission_policy(kind: PolicyKind, name: str, repository: str, public_key_pem: str) -> dict[str, Any]:
    """The policy object for ``kind`` admitting images of ``repository`` with a passing goslim attestation
    signed by ``public_key_pem`` (cosign.pub)."""
    policy_name = _object_name(f"goslim-verified-{name}")
    if kind == "sigstore":
        return _cluster_image_policy(policy_name, repository, public_key_pem)
    return _kyverno_policy(policy_name, repository, public_key_pem)


def _cluster_image_policy(name: str, repository: str, key: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy.sigstore.dev/v1beta1",
        "kind": "ClusterImagePolicy",
        "metadata": {"name": name},
        "spec": {
            "images": [{"glob": image_glob(repository)}],
            "authorities": [
                {
                    "name": "goslim",
                    "key": {"data": key, "hashAlgorithm": "sha256"},
                    "attestations": [
                        {
                            "name": "goslim-verified",
                            "predicateType": GOSLIM_TYPE,
                            "policy": {"type": "cue", "data": _CUE},
                        }
                    ],
                }
            ],
            "mode": "enforce",
        },
    }


def _kyverno_policy(name: str, repository: str, key: str) -> dict[str, Any]:
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": name},
        "spec": {
            # Deprecated in Kyverno 1.13 for the rule's failureAction, but kept: a Kyverno without that
            # field drops it and would otherwise default to Audit, admitting every image.
            "validationFailureAction": "Enforce",
            "background": False,
            # Where Kyverno 1.13 reads it (spec.webhookTimeoutSeconds is deprecated there).
            "webhookConfiguration": {"timeoutSeconds": 30},
            "rules": [
                {
                    "name": "goslim-verified",
                    "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                    "verifyImages": [
                        {
                            "imageReferences": [image_glob(repository)],
                            # Kyverno >= 1.13 reads this; older ones read spec.validationFailureAction.
                            "failureAction": "Enforce",
                            "attestations": [
                                {
                                    "type": GOSLIM_TYPE,
                                    "attestors": [
                                        {
                                            "entries": [
                                                {
                                                    "keys": {
                                                        "publicKeys": key,
                                                        # goslim attests offline, as `cosign attest
                                                        # --tlog-upload=false`: no log entry to check.
                                                        "rekor": {"ignoreTlog": True},
                                                        "ctlog": {"ignoreSCT": True},
                                                    }
                                                }
                                            ]
                                        }
                                    ],
                                    "conditions": [
                                        {
                                            "all": [
                                                {"key": "{{ passed }}", "operator": "Equals", "value": True},
                                                {
                                                    "key": "{{ length(checks[?status == 'fail']) }}",
                                                    "operator": "Equals",
                                                    "value": 0,
                                                },
                                            ]
                                        }
                                    ],
                                }
                            ],
                        }
                    ],
                }
            ],
        },
    }


def _object_name(text: str) -> str:
    """A Kubernetes object name (DNS label rules, at most 63 characters)."""
    return _NAME_RE.sub("-", text.lower()).strip("-")[:63].rstrip("-")


class _PolicyDumper(yaml.SafeDumper):
    """Multi-line strings (the PEM key, the CUE policy) as literal blocks, as people write them."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _literal(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_PolicyDumper.add_representer(str, _literal)


def policy_yaml(policy: dict[str, Any]) -> str:
    """One YAML document for ``policy``."""
    return yaml.dump(policy, Dumper=_PolicyDumper, sort_keys=False, default_flow_style=False)
