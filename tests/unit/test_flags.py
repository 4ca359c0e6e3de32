import pytest

from goslim.errors import UserInputError
from goslim.gobuild.flags import BuildOptions, Profile, parse_x_stamps, plan_build
from goslim.platform import Platform


def test_slim_profile_composes_the_guides_flags() -> None:
    plan = plan_build(BuildOptions(profile=Profile.SLIM))
    assert plan.flags == ("-trimpath", "-ldflags=-s -w -buildid=")
    assert plan.env == {"GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "0"}


def test_default_profile_is_plain_go_build_and_keeps_gos_cgo_choice() -> None:
    plan = plan_build(BuildOptions(profile=Profile.DEFAULT))
    assert plan.flags == ()
    assert "CGO_ENABLED" not in plan.env


def test_techniques_toggle_one_at_a_time_on_default() -> None:
    assert plan_build(BuildOptions(profile=Profile.DEFAULT, strip=True)).flags == ("-ldflags=-s -w",)
    assert plan_build(BuildOptions(profile=Profile.DEFAULT, cgo=False)).env["CGO_ENABLED"] == "0"
    assert plan_build(BuildOptions(profile=Profile.DEFAULT, trimpath=True)).flags == ("-trimpath",)
    assert plan_build(BuildOptions(profile=Profile.DEFAULT, empty_buildid=True)).flags == (
        "-ldflags=-buildid=",
    )
    no_inline = plan_build(BuildOptions(profile=Profile.SLIM, no_inline=True))
    assert "-gcflags=all=-l" in no_inline.flags


def test_tags_stamps_and_platform() -> None:
    opts = BuildOptions(
        tags=("netgo", "timetzdata"),
        x={"main.version": "1.2.3", "main.commit": "abc def"},
        platform=Platform.parse("linux/arm64"),
    )
    plan = plan_build(opts)
    assert "-tags=netgo,timetzdata" in plan.flags
    ldflags = next(f for f in plan.flags if f.startswith("-ldflags="))
    # Sorted stamps; a value with a space is quoted the way cmd/go splits -ldflags.
    assert ldflags == "-ldflags=-s -w -buildid= '-X=main.commit=abc def' -X=main.version=1.2.3"
    assert plan.env["GOARCH"] == "arm64"


def test_goarm_variant() -> None:
    assert plan_build(BuildOptions(platform=Platform.parse("linux/arm/v7"))).env["GOARM"] == "7"


@pytest.mark.parametrize("bad", ["version=1", "main.version", "=x"])
def test_bad_x_stamp_is_a_user_error(bad: str) -> None:
    with pytest.raises(UserInputError, match="bad -X stamp"):
        parse_x_stamps([bad])


def test_unknown_profile_and_platform() -> None:
    with pytest.raises(UserInputError, match="unknown profile 'tiny'"):
        Profile.parse("tiny")
    with pytest.raises(UserInputError, match="unsupported platform 'windows/amd64'"):
        Platform.parse("windows/amd64")
