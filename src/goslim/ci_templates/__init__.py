"""CI templates (GitHub Actions, GitLab CI): run `goslim slim`, keep the report, gate on the exit code."""

from __future__ import annotations

from typing import Literal

import jinja2

from goslim import __version__

CiSystem = Literal["github", "gitlab"]
TEMPLATES: dict[str, tuple[str, str]] = {
    # system -> (template, where the file goes in a repository)
    "github": ("github-actions.yaml.j2", ".github/workflows/goslim.yaml"),
    "gitlab": ("gitlab-ci.yaml.j2", ".gitlab-ci.yml"),
}


def render_ci(
    system: str, *, module_dir: str = ".", report_dir: str = "goslim-report", pip_spec: str = "goslim"
) -> str:
    """The CI file text for ``system``; ``module_dir`` is relative to the repository root."""
    template, _ = TEMPLATES[system]
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("goslim.ci_templates", "."),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # YAML, not HTML
    )
    module = module_dir.strip("/") or "."
    report = report_dir if module == "." else f"{module}/{report_dir}"
    return env.get_template(template).render(
        version=__version__,
        module_dir=module,
        report_dir=report,
        pip_spec=pip_spec,
        go_mod="go.mod" if module == "." else f"{module}/go.mod",
    )
