"""CI templates: valid YAML that the GitHub/GitLab schemas (vendored by check-jsonschema) accept."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
import yaml

from goslim.ci_templates import TEMPLATES, render_ci

SCHEMAS = {"github": "github-workflows.json", "gitlab": "gitlab-ci.json"}


def _load(text: str) -> dict:
    document = yaml.safe_load(text)
    # PyYAML reads the key `on:` as YAML 1.1's boolean True; GitHub (YAML 1.2) reads the string "on".
    if True in document:
        document["on"] = document.pop(True)
    return document


def _schema(system: str) -> dict:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath(SCHEMAS[system]).read_text())


@pytest.mark.parametrize("system", sorted(TEMPLATES))
@pytest.mark.parametrize("module_dir", [".", "services/api"])
def test_template_validates_against_the_ci_schema(system: str, module_dir: str) -> None:
    document = _load(render_ci(system, module_dir=module_dir))
    jsonschema.validate(document, _schema(system))


def test_schema_check_is_real() -> None:
    document = _load(render_ci("github"))
    document["jobs"]["slim"]["runs-on-typo"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, _schema("github"))


def test_github_runs_goslim_keeps_the_report_and_gates_on_exit_code() -> None:
    document = _load(render_ci("github", module_dir="services/api", report_dir="out"))
    steps = document["jobs"]["slim"]["steps"]
    run = next(s for s in steps if s.get("name") == "goslim slim")
    assert "goslim slim services/api --report services/api/out" in run["run"]
    assert "continue-on-error" not in run  # a non-zero exit fails the job
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "services/api/out/"
    setup_go = next(s for s in steps if s.get("uses", "").startswith("actions/setup-go"))
    assert setup_go["with"]["go-version-file"] == "services/api/go.mod"


def test_gitlab_runs_goslim_keeps_the_report_and_gates_on_exit_code() -> None:
    job = _load(render_ci("gitlab", pip_spec="goslim==0.1.0"))["goslim"]
    assert any("goslim slim . --report goslim-report" in line for line in job["script"])
    assert "allow_failure" not in job
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "goslim-report/*.xml"
    assert job["variables"]["GOSLIM_PIP_SPEC"] == "goslim==0.1.0"
