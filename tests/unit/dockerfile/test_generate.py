"""The Dockerfile generator: decisions from go.mod + goslim.yaml, rendering, and safe writing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from goslim.binary import NeedAnswer
from goslim.config import GoslimConfig, parse_config
from goslim.contract_resolve import ContractFlags, resolve_contract
from goslim.dockerfile import FinalBase, lint_text, render_dockerfile, write_dockerfile
from goslim.dockerfile import plan_dockerfile as _plan_dockerfile
from goslim.dockerfile.generate import read_go_mod, relative_package
from goslim.dockerfile.parser import parse_dockerfile
from goslim.errors import UserInputError
from goslim.gobuild.toolchain import MainPackage
from tests.reports import make_report

CONFIG = """
build:
  tags: [netgo, osusergo]
  x:
    main.version: "1.2.3"
    main.banner: "hello $USER \\"quoted\\""
image:
  ports: [8080, 9090]
  env: {LOG_LEVEL: info}
  args: ["-serve"]
  labels: {org.opencontainers.image.source: "https://example.com/repo"}
"""


@pytest.fixture
def module(tmp_path: Path) -> Path:
    (tmp_path / "go.mod").write_text("module example.com/team/api/v2\n\ngo 1.23.4\n")
    (tmp_path / "go.sum").write_text("")
    return tmp_path


def _config(text: str = CONFIG) -> GoslimConfig:
    return parse_config(text, where="goslim.yaml")


def plan_dockerfile(module: Path, config: GoslimConfig, **kw):
    """The planner with the main package stated (as `go list` would find it), so no Go is needed."""
    main = kw.pop("main", MainPackage("example.com/team/api/v2", module, "api"))
    return _plan_dockerfile(module, config, main=main, **kw)


def test_go_mod_gives_module_path_and_builder_version(module: Path) -> None:
    assert read_go_mod(module) == ("example.com/team/api/v2", "1.23")
    (module / "go.mod").write_text("module example.com/x\ngo 1.22\ntoolchain go1.24.2\n")
    assert read_go_mod(module) == ("example.com/x", "1.24.2")


def test_missing_go_mod_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"no go\.mod"):
        read_go_mod(tmp_path)


def test_the_main_package_is_built_by_its_path_in_the_module(module: Path) -> None:
    (module / "cmd" / "server").mkdir(parents=True)
    main = MainPackage("example.com/team/api/v2/cmd/server", module / "cmd" / "server", "server")
    assert relative_package(module, main) == "./cmd/server"
    spec = plan_dockerfile(module, _config(), main=main)
    assert (spec.package, spec.binary_name) == ("./cmd/server", "server")
    assert "-o /out/server ./cmd/server" in render_dockerfile(spec)


def test_rendered_dockerfile_carries_the_config(module: Path) -> None:
    spec = plan_dockerfile(module, _config(), base="static")
    text = render_dockerfile(spec)
    assert "COPY go.mod go.sum ./" in text
    assert "ARG GO_VERSION=1.23" in text
    assert "CGO_ENABLED=0" in text and " -trimpath" in text
    assert "-tags=netgo,osusergo" in text
    # goslim's own -ldflags (goslim.gobuild.flags), quoted for cmd/go and then single-quoted for sh.
    banner = """'"'"'-X=main.banner=hello $USER "quoted"'"'"'"""
    assert f"-ldflags='-s -w -buildid= {banner} -X=main.version=1.2.3'" in text
    assert 'ENTRYPOINT ["/api"]' in text and 'CMD ["-serve"]' in text
    assert "EXPOSE 8080\nEXPOSE 9090" in text
    assert 'ENV LOG_LEVEL="info"' in text
    assert "USER 65532:65532" in text
    assert "FROM gcr.io/distroless/static-debian12:nonroot" in text


def test_dependency_layer_comes_before_the_sources(module: Path) -> None:
    df = parse_dockerfile(render_dockerfile(plan_dockerfile(module, _config())))
    build = df.stages[0]
    order = [(i.keyword, i.rest.split()[0] if i.rest else "") for i in build.instructions]
    assert order.index(("COPY", "go.mod")) < order.index(("RUN", "go")) < order.index(("COPY", "."))
    download = build.of("RUN")[0]
    assert "type=cache,target=/go/pkg/mod" in download.flags["mount"]
    assert "go mod download" in download.rest


def test_without_go_sum_only_go_mod_is_copied(module: Path) -> None:
    (module / "go.sum").unlink()
    assert "COPY go.mod ./" in render_dockerfile(plan_dockerfile(module, _config()))


@pytest.mark.parametrize("base", ["scratch", "static", "alpine"])
@pytest.mark.parametrize("upx", [None, "best-lzma"])
def test_every_variant_passes_goslims_own_lint(module: Path, base: str, upx: str | None) -> None:
    text = render_dockerfile(plan_dockerfile(module, _config(), base=base, upx=upx))
    report = lint_text(text)
    assert report.findings == [], "\n".join(report.lines())


def test_scratch_copies_only_what_the_binary_needs(module: Path) -> None:
    def files(report=None) -> str:
        return render_dockerfile(plan_dockerfile(module, _config(), base="scratch", report=report))

    everything = files()
    assert "ca-certificates.crt /etc/ssl/certs/ca-certificates.crt" in everything
    assert "ENV ZONEINFO=/usr/local/share/zoneinfo.zip" in everything
    assert "/out/etc/passwd /out/etc/group /etc/" in everything
    assert "assumed, no binary analyzed" in everything
    nothing = files(make_report(ca=NeedAnswer.CARRIED, tz=NeedAnswer.CARRIED))
    assert "ca-certificates" not in nothing and "ZONEINFO" not in nothing and "passwd" not in nothing
    assert "measured on the built binary): none" in nothing


def test_a_known_digest_pins_the_final_image(module: Path) -> None:
    digest = "sha256:" + "a" * 64
    spec = plan_dockerfile(
        module, _config(), base="static", digests={"gcr.io/distroless/static-debian12:nonroot": digest}
    )
    assert f"FROM gcr.io/distroless/static-debian12@{digest}" in render_dockerfile(spec)


def test_distroless_static_brings_its_own_files_and_alpine_lacks_zoneinfo(module: Path) -> None:
    static = render_dockerfile(plan_dockerfile(module, _config(), base="static"))
    assert "ZONEINFO" not in static and "ca-certificates.crt /etc" not in static
    alpine = render_dockerfile(plan_dockerfile(module, _config(), base="alpine"))
    assert "ZONEINFO" in alpine and "ca-certificates.crt /etc" not in alpine


def test_upx_stage_packs_and_tests(module: Path) -> None:
    text = render_dockerfile(plan_dockerfile(module, _config(), base="scratch", upx="best-lzma"))
    df = parse_dockerfile(text)
    upx = df.stage_named("upx")
    assert upx is not None
    assert "upx --best --lzma /out/api && upx -t /out/api" in upx.of("RUN")[-1].rest
    assert df.final_stage.of("COPY")[-1].flags["from"] == "upx"


def test_upx_policy_from_config_and_auto_means_no_stage(module: Path) -> None:
    assert plan_dockerfile(module, _config("upx: {policy: lzma}")).upx == "lzma"
    assert plan_dockerfile(module, _config("upx: {policy: auto}")).upx is None
    assert plan_dockerfile(module, _config(), upx="7").upx == "7"
    with pytest.raises(UserInputError, match="unknown UPX level"):
        plan_dockerfile(module, _config(), upx="ultra")


def test_bad_base_and_package_patterns_are_user_errors(module: Path) -> None:
    with pytest.raises(UserInputError, match="cannot use base"):
        plan_dockerfile(module, _config(), base="ubuntu")
    # goslim.yaml may name any image as base; the generator falls back to distroless static.
    assert plan_dockerfile(module, _config("image: {base: 'debian:12'}")).base is FinalBase.STATIC


def test_write_creates_both_files_and_regenerates_its_own(module: Path) -> None:
    spec = plan_dockerfile(module, _config())
    result = write_dockerfile(spec, module, module, ignore=["dist", "goslim-report"])
    assert result.dockerfile.read_text().startswith("# syntax=docker/dockerfile:1")
    ignore = (module / ".dockerignore").read_text().splitlines()
    assert {".git", "dist", "goslim-report", "**/.env"} <= set(ignore)
    again = write_dockerfile(spec, module, module, ignore=[])
    assert again.dockerignore == module / ".dockerignore"


def test_write_never_replaces_a_hand_written_dockerfile(module: Path) -> None:
    (module / "Dockerfile").write_text("FROM alpine:3.20\n")
    (module / ".dockerignore").write_text("secret-stuff\n")
    spec = plan_dockerfile(module, _config())
    with pytest.raises(UserInputError, match="not generated by goslim"):
        write_dockerfile(spec, module, module, ignore=[])
    assert (module / "Dockerfile").read_text() == "FROM alpine:3.20\n"
    result = write_dockerfile(spec, module, module, ignore=[], force=True)
    assert "Generated by goslim" in (module / "Dockerfile").read_text()
    assert result.dockerignore == module / ".dockerignore"


def test_hand_written_dockerignore_is_kept_with_a_note(module: Path) -> None:
    (module / ".dockerignore").write_text("mine\n")
    result = write_dockerfile(plan_dockerfile(module, _config()), module, module, ignore=[])
    assert (module / ".dockerignore").read_text() == "mine\n"
    assert result.dockerignore is None
    assert any("kept your .dockerignore" in n for n in result.notes)


def test_out_dir_elsewhere_gets_a_dockerfile_specific_ignore_file(module: Path, tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    result = write_dockerfile(plan_dockerfile(module, _config()), module, out, ignore=[])
    assert result.dockerignore == out / "Dockerfile.dockerignore"
    assert any("-f" in n for n in result.notes)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_out_dir_is_a_user_error(module: Path, tmp_path: Path) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    with pytest.raises(UserInputError, match="cannot write"):
        write_dockerfile(plan_dockerfile(module, _config()), module, out, ignore=[])


def test_out_dir_that_is_a_file_is_a_user_error(module: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserInputError, match="cannot write"):
        write_dockerfile(plan_dockerfile(module, _config()), module, blocker / "sub", ignore=[])


def test_x_stamp_quoting_for_cmd_go_and_the_shell(module: Path) -> None:
    def rendered(value: str) -> str:
        config = GoslimConfig.model_validate({"build": {"x": {"main.v": value}}})
        return render_dockerfile(plan_dockerfile(module, config))

    assert """-ldflags='-s -w -buildid= -X=main.v=it'"'"'s'""" in rendered("it's")
    assert "-ldflags='-s -w -buildid= -X=main.v=a$b'" in rendered("a$b")
    with pytest.raises(UserInputError, match="cannot be passed to go build"):
        rendered("both ' and \" with a space")



@pytest.mark.parametrize("base", ["scratch", "alpine"])
def test_a_tz_in_the_contract_embeds_the_zone_database_where_tz_can_find_it(module: Path, base: str) -> None:
    # Go resolves TZ from zoneinfo directories (or the embedded database), never from a ZONEINFO zip.
    contract = resolve_contract(ContractFlags(env={"TZ": "America/New_York"}), _config().service)
    text = render_dockerfile(plan_dockerfile(module, _config(), base=base, contract=contract))
    assert "-tags=netgo,osusergo,timetzdata" in text and "ZONEINFO" not in text
    assert 'ENV TZ="America/New_York"' in text
    utc = resolve_contract(ContractFlags(env={"TZ": "UTC"}), _config().service)
    assert "timetzdata" not in render_dockerfile(plan_dockerfile(module, _config(), base=base, contract=utc))
    static = render_dockerfile(plan_dockerfile(module, _config(), base="static", contract=contract))
    assert "timetzdata" not in static  # distroless static carries /usr/share/zoneinfo
