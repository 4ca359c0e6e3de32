"""Where the key password comes from: COSIGN_PASSWORD (as cosign), else a prompt on a terminal."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping

from goslim.errors import UserInputError

PASSWORD_ENV = "COSIGN_PASSWORD"


def read_password(
    *,
    confirm: bool = False,
    environ: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
    interactive: bool | None = None,
) -> bytes:
    """The password from COSIGN_PASSWORD (may be empty), else asked on the terminal."""
    env = os.environ if environ is None else environ
    if PASSWORD_ENV in env:
        return env[PASSWORD_ENV].encode()
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        raise UserInputError(
            f"no password: {PASSWORD_ENV} is not set and there is no terminal to ask on",
            hint=f"export {PASSWORD_ENV}=... (it may be empty)",
        )
    ask = prompt or getpass.getpass
    first = ask("Enter password for private key: ")
    if confirm and ask("Enter password for private key again: ") != first:
        raise UserInputError("the two passwords differ", hint="run the command again")
    return first.encode()
