"""UPX compression levels goslim offers, by name, and the upx flags behind each."""

from __future__ import annotations

from goslim.errors import UserInputError

# name -> upx flags; ordered from fastest to pack to slowest.
LEVEL_FLAGS: dict[str, tuple[str, ...]] = {
    "default": (),
    "best": ("--best",),
    "lzma": ("--lzma",),
    "best-lzma": ("--best", "--lzma"),
    "brute": ("--brute",),
    "ultra-brute": ("--ultra-brute",),
}
# What `--level all` means: brute modes take minutes on a service-sized binary, so only on request.
ALL_LEVELS = ("default", "best", "lzma", "best-lzma")
POLICIES = ("off", "auto", *LEVEL_FLAGS)


def level_flags(level: str) -> tuple[str, ...]:
    """The upx flags of a named level; a bad name is a one-line error listing the good ones."""
    try:
        return LEVEL_FLAGS[level]
    except KeyError:
        raise UserInputError(
            f"unknown UPX level '{level}'", hint=f"use one of: {', '.join(LEVEL_FLAGS)}"
        ) from None


def parse_levels(text: str, auto_levels: tuple[str, ...]) -> tuple[str, ...]:
    """`--level` value → the levels to evaluate: auto, all, or a comma-separated list of names."""
    if text == "auto":
        names = auto_levels
    elif text == "all":
        names = ALL_LEVELS
    else:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise UserInputError("no UPX level given", hint="use auto, all, or one of: " + ", ".join(LEVEL_FLAGS))
    for name in names:
        level_flags(name)
    return tuple(dict.fromkeys(names))


def check_policy(policy: str) -> str:
    """Validate an `--upx off|auto|LEVEL` policy value."""
    if policy not in POLICIES:
        raise UserInputError(f"unknown UPX policy '{policy}'", hint=f"use one of: {', '.join(POLICIES)}")
    return policy
