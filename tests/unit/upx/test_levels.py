import pytest

from goslim.errors import UserInputError
from goslim.upx import ALL_LEVELS, check_policy, parse_levels
from goslim.upx.levels import level_flags


def test_level_flags_map_names_to_upx_options():
    assert level_flags("default") == ()
    assert level_flags("best-lzma") == ("--best", "--lzma")
    assert level_flags("brute") == ("--brute",)


def test_auto_uses_the_configured_levels_and_all_excludes_brute():
    assert parse_levels("auto", ("default", "lzma")) == ("default", "lzma")
    assert parse_levels("all", ()) == ALL_LEVELS
    assert "brute" not in ALL_LEVELS and "ultra-brute" not in ALL_LEVELS


def test_comma_list_is_deduplicated_in_order():
    assert parse_levels("lzma, default,lzma", ()) == ("lzma", "default")


@pytest.mark.parametrize("text", ["fast", "default,ultra", ","])
def test_bad_level_is_one_line_with_the_choices(text):
    with pytest.raises(UserInputError) as err:
        parse_levels(text, ())
    assert "default" in (err.value.hint or "")


def test_policy_values():
    assert check_policy("off") == "off"
    assert check_policy("lzma") == "lzma"
    with pytest.raises(UserInputError, match="unknown UPX policy"):
        check_policy("max")
