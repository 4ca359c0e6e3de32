import os

import pytest

from goslim.errors import UserInputError
from goslim.upx import Budget, UpxRefusedError, apply_policy, check_packable
from tests.unit.upx.conftest import describe
from tests.unit.upx.elfdata import ET_DYN, tiny_elf


def make(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    os.chmod(path, 0o755)
    return describe(path)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"#!/bin/sh\n" + b"echo hello\n" * 5000, "not an ELF executable"),
        (tiny_elf(elf_type=ET_DYN), "a PIE binary"),
        (tiny_elf(interp=True), "dynamically linked"),
        (tiny_elf()[:124] + b"UPX!" + tiny_elf()[128:], "already packed"),
    ],
)
def test_refused_before_upx_runs_and_left_unchanged(tmp_path, data, words):
    binary = make(tmp_path, "app", data)
    with pytest.raises(UpxRefusedError) as err:
        check_packable(binary)
    assert words in err.value.message and "unchanged" in err.value.message
    assert (tmp_path / "app").read_bytes() == data


def test_a_file_changed_since_it_was_described_is_refused(tmp_path):
    binary = make(tmp_path, "app", tiny_elf())
    (tmp_path / "app").write_bytes(tiny_elf(payload=b"x"))
    with pytest.raises(UserInputError, match="changed since"):
        check_packable(binary)


def test_static_exec_passes(tiny_binary):
    assert check_packable(tiny_binary).elf.goarch == "amd64"


def test_apply_policy_off_ships_the_input_untouched(tiny_binary):
    assert apply_policy(tiny_binary, "off", Budget(), None) == (tiny_binary, None)
    with pytest.raises(UserInputError, match="unknown UPX policy 'fast'"):
        apply_policy(tiny_binary, "fast", Budget(), None)
