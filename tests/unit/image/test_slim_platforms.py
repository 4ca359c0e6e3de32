"""`goslim slim --platform`: which platform runs the whole pipeline and which join the index."""

from __future__ import annotations

from goslim.cli.slim import _slim_platforms
from goslim.oci.layout import default_platform


def test_one_platform_is_no_index() -> None:
    first, more = _slim_platforms("linux/arm64", "linux/amd64", "static")
    assert str(first) == "linux/arm64" and more == ()
    first, more = _slim_platforms(None, "linux/amd64", "static")
    assert str(first) == "linux/amd64" and more == ()


def test_this_machine_runs_the_pipeline_and_the_rest_join_in_order() -> None:
    here = str(default_platform())
    others = [p for p in ("linux/s390x", "linux/arm64", "linux/amd64") if p != here]
    first, more = _slim_platforms(",".join([*others, here]), "linux/amd64", "static")
    assert str(first) == here
    assert [str(p) for p in more] == others


def test_all_on_a_builtin_base() -> None:
    first, more = _slim_platforms("all", "linux/amd64", "static")
    assert len(more) == 5 and str(first) == str(default_platform())
