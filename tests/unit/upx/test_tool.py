from __future__ import annotations

from pathlib import Path

import pytest

from goslim.errors import ToolError, ToolMissingError
from goslim.runner import ProcessResult
from goslim.upx.errors import UpxRefusedError
from goslim.upx.tool import Upx, refusal
from tests.fakes import ScriptedRunner


class FakeRunner(ScriptedRunner):
    """Stands in for `upx`: answers with fixed output and writes the -o file."""

    def __init__(self, *, installed: bool = True, returncode: int = 0, stderr: str = "", writes: bool = True):
        super().__init__(installed=installed)
        self.returncode, self.stderr, self.writes = returncode, stderr, writes

    def answer(self, argv: tuple[str, ...]) -> ProcessResult:
        if self.writes and "-o" in argv:
            Path(argv[argv.index("-o") + 1]).write_bytes(b"packed")
        return ProcessResult(argv, self.returncode, "", self.stderr, 0.5)


@pytest.mark.parametrize(
    ("stderr", "words"),
    [
        ("upx: app: AlreadyPackedException: already packed by UPX\n", "already packed"),
        ("upx: app: IOException: file is too small -- skipped\n", "too small"),
        ("upx: app: CantPackException: bad DT_HASH nbucket=0x2  len=0x20\n", "cannot pack"),
        ("upx: app: UnknownExecutableFormatException\n", "not an executable format"),
        ("upx: app: CantPackException: file not executable; try 'chmod +x'\n", "not marked executable"),
    ],
)
def test_refusals_become_one_line_saying_the_input_is_unchanged(stderr, words):
    err = refusal(stderr, Path("/x/app"), 2)
    assert isinstance(err, UpxRefusedError)
    assert words in err.message and "input is unchanged" in err.message
    assert "\n" not in err.message and err.hint


def test_unrecognised_failure_is_a_tool_error_with_the_stderr_tail():
    err = refusal("Segmentation fault\n", Path("app"), 139)
    assert isinstance(err, ToolError) and "Segmentation fault" in err.stderr_tail


def test_pack_writes_a_new_file_with_no_env_and_the_level_flags(tmp_path):
    runner = FakeRunner()
    run = Upx(runner).pack(tmp_path / "in", tmp_path / "out", "best-lzma")
    argv = runner.calls[0]
    assert argv[1] == "--no-env" and "--best" in argv and "--lzma" in argv
    assert argv[-1] == str(tmp_path / "in") and run.output.read_bytes() == b"packed"


def test_warning_exit_without_output_is_a_refusal(tmp_path):
    runner = FakeRunner(returncode=2, stderr="upx: in: AlreadyPackedException\n", writes=False)
    with pytest.raises(UpxRefusedError, match="already packed"):
        Upx(runner).pack(tmp_path / "in", tmp_path / "out", "default")
    assert not (tmp_path / "out").exists()


def test_missing_upx_says_how_to_install():
    with pytest.raises(ToolMissingError) as err:
        Upx(FakeRunner(installed=False)).version()
    assert "apt-get install" in (err.value.hint or "")
