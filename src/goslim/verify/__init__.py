"""The verify stage: run an image for real under an OCI runtime and judge it, check by check."""

from goslim.verify.catalog import CHECKS, GROUPS
from goslim.verify.image import load_image, verify_image
from goslim.verify.models import Checklist, CheckResult, CheckStatus, ProbeSettings, VerifyOptions
from goslim.verify.options import options_from_config
from goslim.verify.verify import verify_rootfs

__all__ = [
    "CHECKS",
    "GROUPS",
    "CheckResult",
    "CheckStatus",
    "Checklist",
    "ProbeSettings",
    "VerifyOptions",
    "load_image",
    "options_from_config",
    "verify_image",
    "verify_rootfs",
]
