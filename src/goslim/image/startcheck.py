"""Does the image start? Unpack it with umoci, run it with runc in its own network namespace,
probe it from inside that namespace, stop it with SIGTERM and read its exit code.

A small local check for `goslim compare`; `goslim verify` is the thorough one.
"""

from __future__ import annotations

import gzip
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from goslim.errors import GoslimError
from goslim.image.runtime import Runc, Umoci
from goslim.oci import Image, Layer, mediatypes, write_oci_layout
from goslim.probe import ProbeSpec, wait_until
from goslim.runner import ProcessResult, Runner

TAG = "check"


class StartCheck(BaseModel):
    """The outcome: started (probe passed), and how it stopped."""

    model_config = ConfigDict(frozen=True)

    started: bool
    detail: str  # "200 OK", "exited 1 before answering", ...
    exit_code: int | None = None  # after SIGTERM (or on its own)
    seconds_to_ready: float | None = None
    log_tail: str = ""


def check_starts(
    image: Image,
    probe: ProbeSpec,
    *,
    runner: Runner | None = None,
    ready_timeout_s: float = 15.0,
    grace_s: float = 10.0,
) -> StartCheck:
    """Run ``image`` once and probe it; never leaves a container or a bundle behind."""
    umoci, runc = Umoci(runner), Runc(runner)
    container_id = f"goslim-{os.getpid()}-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="goslim-start-") as tmp:
        root = Path(tmp)
        try:
            write_oci_layout(root / "layout", as_gzip(image), TAG)
            bundle = umoci.unpack(root / "layout", TAG, root / "bundle")
        except GoslimError as exc:
            return StartCheck(started=False, detail=f"could not unpack: {exc.one_line()}")
        pid_file = root / "pid"
        box: dict[str, ProcessResult | GoslimError] = {}

        def run() -> None:
            try:
                limit = ready_timeout_s + grace_s + 30
                box["result"] = runc.run(bundle, container_id, pid_file, timeout=limit)
            except GoslimError as exc:
                box["error"] = exc

        thread = threading.Thread(target=run, name=container_id, daemon=True)
        thread.start()
        try:
            pid = _wait_pid(pid_file, thread, ready_timeout_s)
            if pid is None:
                thread.join(grace_s)
                return _exited(box, "exited before it started listening")
            waited = wait_until(
                probe, period_s=0.1, failure_threshold=max(1, int(ready_timeout_s / 0.1)), netns_pid=pid,
                still_running=thread.is_alive,
            )
            if not waited.ok:
                runc.kill(container_id, "KILL")
                thread.join(grace_s)
                return _exited(box, f"{probe.describe()}: {waited.last.detail}")
            runc.kill(container_id, "TERM")
            thread.join(grace_s)
            if thread.is_alive():
                runc.kill(container_id, "KILL")
                thread.join(5)
                why = f"{waited.last.detail}; ignored SIGTERM for {grace_s:g}s"
                return StartCheck(started=True, detail=why, seconds_to_ready=waited.seconds)
            result = box.get("result")
            code = result.returncode if isinstance(result, ProcessResult) else None
            return StartCheck(started=True, detail=waited.last.detail, exit_code=code,
                              seconds_to_ready=waited.seconds, log_tail=_tail(result))
        finally:
            if thread.is_alive():
                runc.kill(container_id, "KILL")
                thread.join(5)
            runc.delete(container_id)


def as_gzip(image: Image) -> Image:
    """The same filesystem and config with gzip layers (umoci cannot read zstd); diff_ids are unchanged."""
    if all(layer.compression != "zstd" for layer in image.layers):
        return image
    layers = []
    for layer in image.layers:
        if layer.compression == "zstd":
            with layer.open_uncompressed() as tar:
                blob = gzip.compress(tar.read(), compresslevel=1, mtime=0)
            layers.append(Layer.from_blob(mediatypes.OCI_LAYER_GZIP, data=blob, diff_id=layer.diff_id))
        else:
            layers.append(layer)
    return Image.build(image.config, layers, annotations=image.annotations)


def _wait_pid(pid_file: Path, thread: threading.Thread, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid_file.is_file():
            text = pid_file.read_text().strip()
            if text.isdigit():
                return int(text)
        if not thread.is_alive():
            return None
        time.sleep(0.05)
    return None


def _exited(box: dict, why: str) -> StartCheck:
    error = box.get("error")
    if isinstance(error, GoslimError):
        return StartCheck(started=False, detail=f"runc failed: {error.message}")
    result = box.get("result")
    code = result.returncode if isinstance(result, ProcessResult) else None
    detail = f"{why} (exit {code})" if code is not None else why
    return StartCheck(started=False, detail=detail, exit_code=code, log_tail=_tail(result))


def _tail(result: object, lines: int = 5) -> str:
    if not isinstance(result, ProcessResult):
        return ""
    text = (result.stdout + result.stderr).strip().splitlines()
    return "\n".join(text[-lines:])

