from pathlib import Path

import pytest

from goslim.config import load_config, parse_config
from goslim.errors import ConfigError


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    cfg = load_config(tmp_path)
    assert cfg.build.profile == "slim"
    assert cfg.image.base == "static"


def test_valid_file(tmp_path: Path) -> None:
    (tmp_path / "goslim.yaml").write_text(
        "build:\n  profile: default\n  tags: [netgo]\nimage:\n  ports: [8080]\n"
    )
    cfg = load_config(tmp_path)
    assert cfg.build.profile == "default"
    assert cfg.build.tags == ["netgo"]
    assert cfg.service.ports == [8080]  # image.ports is the older name of service.ports


def test_service_section_and_the_older_keys() -> None:
    cfg = parse_config(
        "service:\n  name: api\n  args: [serve]\n  env: {A: b}\n  ports: [9090]\n  health: /-/healthy\n"
        "  readiness: /ready\n  writable: [/var/cache/api]\n",
        where="goslim.yaml",
    )
    assert (cfg.service.name, cfg.service.args, cfg.service.ports) == ("api", ["serve"], [9090])
    assert cfg.service.writable == ["/var/cache/api"]
    old = parse_config(
        "image:\n  ports: [8080, 9090]\n  args: [-v]\nverify:\n  port: 9090\n  health: /h\n", where="g"
    )
    # verify.port was the probe port: it comes first.
    assert (old.service.ports, old.service.args, old.service.health) == ([9090, 8080], ["-v"], "/h")


def test_one_fact_set_twice_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("service:\n  ports: [9090]\nverify:\n  port: 8080\n", where="goslim.yaml")
    assert "'verify.port' and 'service.ports' both set" in err.value.one_line()
    assert "keep only service.ports" in (err.value.hint or "")


def test_unknown_top_level_key_names_key_and_file() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("biuld:\n  profile: slim\n", where="/m/goslim.yaml")
    assert err.value.one_line() == "/m/goslim.yaml: unknown key 'biuld'"
    assert err.value.hint == "did you mean 'build'?"


def test_mistyped_nested_key_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("image:\n  bsae: scratch\n", where="goslim.yaml")
    assert "unknown key 'image.bsae'" in err.value.one_line()
    assert err.value.hint == "did you mean 'base'?"


def test_wrong_value_type() -> None:
    with pytest.raises(ConfigError, match=r"invalid value for 'build\.profile'"):
        parse_config("build:\n  profile: tiny\n", where="goslim.yaml")


def test_malformed_yaml_and_non_mapping() -> None:
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        parse_config("build: [\n", where="goslim.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        parse_config("- a\n- b\n", where="goslim.yaml")


def test_empty_file_is_defaults() -> None:
    assert parse_config("", where="goslim.yaml").build.profile == "slim"


def test_bundled_example_config_is_valid() -> None:
    cfg = load_config(Path(__file__).resolve().parents[2] / "examples" / "hello-api")
    assert cfg.build.x == {"main.version": "1.0.0"}
