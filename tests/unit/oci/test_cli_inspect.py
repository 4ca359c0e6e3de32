"""`goslim inspect` on a layout: human view, --json, and one-line errors with exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.oci import FileEntry, Image, Platform, build_layer, new_config, write_oci_layout


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Image]:
    layer = build_layer([FileEntry.file("app", b"bin", mode=0o755)])
    image = Image.build(new_config(Platform(os="linux", architecture="amd64"), entrypoint=["/app"],
                                   user="65532:65532"), [layer])
    write_oci_layout(tmp_path / "lay", image, tag="v1")
    return tmp_path / "lay", image


def test_inspect_json(layout, capsys: pytest.CaptureFixture[str]) -> None:
    path, image = layout
    assert main(["inspect", "--json", f"oci:{path}:v1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["digest"] == str(image.digest)
    assert data["platform"] == "linux/amd64"
    assert data["config"]["User"] == "65532:65532"
    assert data["layers"][0]["diff_id"] == str(image.layers[0].diff_id)


def test_inspect_human(layout, capsys: pytest.CaptureFixture[str]) -> None:
    path, image = layout
    assert main(["inspect", f"oci:{path}:v1"]) == 0
    out = capsys.readouterr().out
    assert str(image.digest) in out and "Entrypoint" in out


@pytest.mark.parametrize(
    ("arg", "words"),
    [("oci:{path}:nope", "tag 'nope' not found"), ("Bad Ref", "invalid image reference"),
     ("docker-archive:{path}/missing.tar", "does not exist"), ("dir:/x", "not supported")],
)
def test_inspect_bad_input(layout, capsys: pytest.CaptureFixture[str], arg: str, words: str) -> None:
    path, _ = layout
    assert main(["inspect", arg.format(path=path)]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
