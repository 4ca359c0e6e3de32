"""The inputs digest (goslim.inputs): stable across machines, changed by anything that shapes the image."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from goslim.attestation import inputs_tag
from goslim.contract import RunContract
from goslim.gobuild import BuildOptions, GoToolchain
from goslim.image import ImageOptions
from goslim.inputs import image_inputs
from goslim.platform import Platform
from goslim.runner import ProcessResult
from tests.fakes import ScriptedRunner

TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")  # the distribution spec's tag grammar


class FakeGo(ScriptedRunner):
    """`go env -json` with this machine's paths; no go.work, no replacements, not a git checkout."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__()
        self.env = env

    def answer(self, argv: tuple[str, ...]) -> ProcessResult:
        if argv[1:3] == ("env", "-json"):
            return ProcessResult(argv, 0, json.dumps(self.env), "", 0.0)
        if argv[1:3] == ("mod", "edit"):
            return ProcessResult(argv, 0, "{}", "", 0.0)
        return ProcessResult(argv, 0, "", "", 0.0)


GO_ENV = {"GOVERSION": "go1.26.0", "GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v1", "CGO_ENABLED": "0",
          "GOFLAGS": "", "GOCACHE": "/home/a/.cache/go-build", "GOMODCACHE": "/home/a/go/pkg/mod",
          "GOPATH": "/home/a/go", "GOROOT": "/usr/lib/go", "GOPROXY": "https://proxy.golang.org"}


@pytest.fixture
def module(tmp_path: Path) -> Path:
    root = tmp_path / "svc"
    root.mkdir()
    (root / "go.mod").write_text("module example.com/svc\n\ngo 1.22\n")
    (root / "main.go").write_text("package main\n\nfunc main() {}\n")
    return root


def digest(module: Path, *, go_env: dict[str, str] = GO_ENV, env: dict[str, str] | None = None,
           base: str = "scratch", build: BuildOptions | None = None) -> str:
    contract = RunContract(name="svc", env=env or {})
    return image_inputs(
        GoToolchain(module, FakeGo(go_env)), "example.com/svc", build or BuildOptions(), base=base,
        image=ImageOptions(env=dict(contract.env)), contract=contract, upx_policy="off", upx_settings={},
        lock=None, exclude=[module / "goslim-report"],
    ).digest


def test_the_same_inputs_on_another_machine_give_the_same_digest(module: Path) -> None:
    first = digest(module)
    elsewhere = GO_ENV | {"GOCACHE": "/ci/cache", "GOMODCACHE": "/ci/mod", "GOPATH": "/ci/go",
                          "GOROOT": "/opt/go", "GOPROXY": "https://mirror.example"}
    assert digest(module, go_env=elsewhere) == first
    (module / "goslim-report").mkdir()
    (module / "goslim-report" / "report.json").write_text("{}")  # goslim's own output
    assert digest(module) == first
    assert first.startswith("sha256:") and TAG_RE.fullmatch(inputs_tag(first))


@pytest.mark.parametrize("change", ["go version", "GOAMD64", "GOFLAGS", "source file", "any file", "go.sum",
                                    "contract", "base", "platform"])
def test_what_shapes_the_image_changes_the_digest(module: Path, change: str) -> None:
    before = digest(module)
    kwargs: dict = {}
    if change == "go version":
        kwargs["go_env"] = GO_ENV | {"GOVERSION": "go1.26.1"}
    elif change == "GOAMD64":
        kwargs["go_env"] = GO_ENV | {"GOAMD64": "v3"}
    elif change == "GOFLAGS":
        kwargs["go_env"] = GO_ENV | {"GOFLAGS": "-mod=vendor"}
    elif change == "source file":
        (module / "main.go").write_text("package main\n\nfunc main() { println() }\n")
    elif change == "any file":
        (module / "vendor").mkdir()
        (module / "vendor" / "modules.txt").write_text("# vendored\n")
    elif change == "go.sum":
        (module / "go.sum").write_text("example.org/x v1.0.0 h1:abc=\n")
    elif change == "contract":
        kwargs["env"] = {"GREETING": "hi"}
    elif change == "base":
        kwargs["base"] = "static"
    elif change == "platform":
        kwargs["build"] = BuildOptions(platform=Platform(os="linux", architecture="arm64"))
    assert digest(module, **kwargs) != before
