"""Labels from VCS info, the creation time, options from goslim.yaml, and the tz pricing."""

from __future__ import annotations

import os

import pytest
from tests.reports import make_report

from goslim.config import ImageConfig
from goslim.contract import RunContract
from goslim.errors import UserInputError
from goslim.image import ImageOptions
from goslim.image.metadata import created_epoch, image_version, source_url
from goslim.image.tzchoice import compare_tz


def test_created_prefers_source_date_epoch_then_vcs_time(monkeypatch) -> None:
    facts = make_report("amd64", settings={"vcs.time": "2024-05-01T12:00:00Z"})
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert created_epoch(facts) == 1714564800
    assert created_epoch(make_report("amd64")) == 0
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "42")
    assert created_epoch(facts) == 42
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(UserInputError, match="SOURCE_DATE_EPOCH"):
        created_epoch(facts)


def test_version_from_x_stamp_or_module() -> None:
    facts = make_report("amd64", main_version="v1.4.0")
    assert image_version(facts, ["-trimpath", "-ldflags=-s -w -X=main.version=2.0.1"]) == "2.0.1"
    assert image_version(facts, []) == "v1.4.0"
    assert image_version(make_report("amd64", main_version="(devel)"), []) is None


def test_source_from_git_origin_without_credentials(tmp_path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(
        '[remote "origin"]\n\turl = https://user:token@github.com/acme/svc.git\n')
    (tmp_path / "cmd").mkdir()
    facts = make_report("amd64", main_path="github.com/acme/svc")
    assert source_url(tmp_path / "cmd", facts) == "https://github.com/acme/svc.git"


def test_source_from_module_path_when_no_checkout(tmp_path) -> None:
    hosted = make_report("amd64", main_path="github.com/acme/svc")
    assert source_url(None, hosted) == "https://github.com/acme/svc"
    assert source_url(None, make_report("amd64", main_path="example.com/svc")) is None


def test_options_from_config_and_flags() -> None:
    cfg = ImageConfig(user="1000:1000", tz="files", compression="zstd", app_dir="/ko-app")
    contract = RunContract(name="svc", ports=(8080,))
    opts = ImageOptions.from_config(cfg, contract, user=None, compression="gzip", tz=None)
    assert opts.user == "1000:1000" and opts.compression == "gzip" and opts.ports == [8080]
    assert opts.static.tz == "files" and opts.app_dir == "/ko-app"
    assert ImageOptions.from_config(cfg, tz="embed").static.tz == "embed"


def test_tz_pricing_measures_both_ways(tmp_path) -> None:
    plain = tmp_path / "plain"
    embedded = tmp_path / "embedded"
    body = os.urandom(4096)
    plain.write_bytes(body)
    embedded.write_bytes(body + os.urandom(200_000))  # incompressible growth: embed must lose
    choice = compare_tz(plain, embedded, "gzip", "files")
    assert choice.files_bytes > 0 and choice.embed_bytes > 190_000
    assert choice.smaller == "files" and choice.saving == choice.embed_bytes - choice.files_bytes
