"""Platform lists for `goslim image --platform`: order, `all`, and bases that lack a platform."""

from __future__ import annotations

import pytest

from goslim.errors import UserInputError
from goslim.image.platforms import BasePlatformError, requested_platforms
from goslim.image.service import load_services
from goslim.platform import BUILTIN_ALL, Platform, parse_platforms


def offers(*names: str):
    return lambda _spec: tuple(Platform.parse(n) for n in names)


def test_list_keeps_order_and_drops_duplicates() -> None:
    got = parse_platforms("linux/arm64, linux/amd64,linux/arm64")
    assert [str(p) for p in got] == ["linux/arm64", "linux/amd64"]


@pytest.mark.parametrize("text", ["linux/amd64,", "linux/amd64,,linux/arm64", "linux/mips64"])
def test_bad_lists_are_one_line(text: str) -> None:
    with pytest.raises(UserInputError):
        parse_platforms(text)


def test_all_on_a_builtin_base_is_the_builtin_list() -> None:
    got = requested_platforms("all", "static", lister=offers())
    assert tuple(str(p) for p in got) == BUILTIN_ALL
    assert got[2].variant == "v7"


def test_all_on_a_pulled_base_is_what_it_offers() -> None:
    got = requested_platforms("all", "example.com/base:1", lister=offers("linux/arm64/v8", "linux/amd64"))
    assert [str(p) for p in got] == ["linux/arm64/v8", "linux/amd64"]


def test_a_pulled_base_without_a_platform_is_refused() -> None:
    with pytest.raises(BasePlatformError, match=r"has no linux/arm64 image \(it has: linux/amd64\)"):
        requested_platforms("linux/amd64,linux/arm64", "example.com/base:1", lister=offers("linux/amd64"))


def test_a_variant_less_request_matches_a_variant_entry() -> None:
    lister = offers("linux/amd64", "linux/arm64/v8")
    got = requested_platforms("linux/amd64,linux/arm64", "b:1", lister=lister)
    assert [str(p) for p in got] == ["linux/amd64", "linux/arm64"]


def test_a_built_binary_is_one_platform(tmp_path) -> None:
    binary = tmp_path / "svc"
    binary.write_bytes(b"\x7fELF")
    with pytest.raises(UserInputError, match="is a built binary, which is for one platform"):
        load_services(str(binary), parse_platforms("linux/amd64,linux/arm64"))
