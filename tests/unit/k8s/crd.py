"""Validate an object the way the API server does against a CustomResourceDefinition it serves:
the version's openAPIV3Schema (types, required fields), and no field the schema does not know
(``kubectl apply --validate=strict``), except under ``x-kubernetes-preserve-unknown-fields``."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRD_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "crds"
OBJECT_META = ("apiVersion", "kind", "metadata")


def crd_errors(obj: dict[str, Any], crd_file: str | Path) -> list[str]:
    """Every way ``obj`` breaks the CRD in ``tests/fixtures/crds/<crd_file>`` (or at the path given);
    [] when it is valid."""
    crd = load_crd(crd_file)
    spec = crd["spec"]
    group, _, version = str(obj.get("apiVersion", "")).partition("/")
    if group != spec["group"] or obj.get("kind") != spec["names"]["kind"]:
        return [f"{obj.get('apiVersion')} {obj.get('kind')} is not served by {crd['metadata']['name']}"]
    served = {v["name"]: v for v in spec["versions"] if v.get("served")}
    if version not in served:
        return [f"version {version} is not served (served: {', '.join(served)})"]
    schema = served[version]["schema"]["openAPIV3Schema"]
    errors = schema_errors({k: v for k, v in obj.items() if k not in OBJECT_META}, schema)
    if not str((obj.get("metadata") or {}).get("name", "")):
        errors.append("metadata.name is missing")
    return errors


def load_crd(crd_file: str | Path) -> dict[str, Any]:
    """The CRD document: a name in tests/fixtures/crds, or a path (a CRD fetched by the test)."""
    path = crd_file if isinstance(crd_file, Path) else CRD_DIR / crd_file
    loader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader  # the whole Kyverno CRD is 1.4 MB
    return yaml.load(path.read_text(), Loader=loader)


def served_schema(crd: dict[str, Any], version: str) -> dict[str, Any]:
    """The openAPIV3Schema of a served version of ``crd``."""
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v.get("served")]
    return served["schema"]["openAPIV3Schema"]


def deprecated_fields(value: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """The fields of ``value`` whose schema description says they are deprecated."""
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        return [e for i, v in enumerate(value) for e in deprecated_fields(v, items, f"{where}[{i}]")]
    if not isinstance(value, dict) or not isinstance(schema.get("properties"), dict):
        return []
    out = []
    for key, item in value.items():
        sub = schema["properties"].get(key)
        if not isinstance(sub, dict):
            continue
        if str(sub.get("description", "")).lower().startswith("deprecated"):
            out.append(f"{where}.{key}")
        out += deprecated_fields(item, sub, f"{where}.{key}")
    return out


def excerpt_schema(excerpt_file: str) -> dict[str, Any]:
    """A property's schema cut verbatim out of a CRD (its original indentation kept): {name: schema}."""
    return yaml.safe_load(textwrap.dedent((CRD_DIR / excerpt_file).read_text()))


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every way ``value`` breaks an openAPIV3Schema: types, required, enums, and unknown fields."""
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft4Validator(schema).iter_errors(value)]
    return errors + _unknown_fields(value, schema, "")


def _unknown_fields(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if isinstance(value, dict):
        known = schema.get("properties")
        if known is None:
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                return [e for k, v in value.items() for e in _unknown_fields(v, extra, f"{where}.{k}")]
            return []
        out = [f"{where}.{k}: unknown field" for k in value if k not in known]
        return out + [e for k, v in value.items() if k in known
                      for e in _unknown_fields(v, known[k], f"{where}.{k}")]
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [e for i, v in enumerate(value) for e in _unknown_fields(v, schema["items"], f"{where}[{i}]")]
    return []
