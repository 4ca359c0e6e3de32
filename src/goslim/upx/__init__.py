"""The compress stage: UPX only when it pays on the user's own binary, and proof the packed one works.

Public API: ``evaluate(binary, levels, probe, budget) -> UpxReport`` (a row per level and
the decision), ``pack(binary, level, out_path) -> Binary`` (``upx -t`` passed), and
``apply_policy`` for the pipeline's ``--upx off|auto|LEVEL``, ``replay(binary, level, ...)`` for a
level decided earlier (goslim.lock).
"""

from goslim.upx.errors import UpxRefusedError
from goslim.upx.evaluate import apply_policy, check_packable, evaluate, pack, replay
from goslim.upx.levels import ALL_LEVELS, LEVEL_FLAGS, POLICIES, check_policy, parse_levels
from goslim.upx.models import Budget, LevelRow, Memory, Risk, UpxDecision, UpxReport
from goslim.upx.policy import Previous

__all__ = [
    "ALL_LEVELS",
    "LEVEL_FLAGS",
    "POLICIES",
    "Budget",
    "LevelRow",
    "Memory",
    "Previous",
    "Risk",
    "UpxDecision",
    "UpxRefusedError",
    "UpxReport",
    "apply_policy",
    "check_packable",
    "check_policy",
    "evaluate",
    "pack",
    "parse_levels",
    "replay",
]
