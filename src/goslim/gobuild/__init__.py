"""The build stage: Go module → ``Binary``, and the per-technique size ablation."""

from goslim.gobuild.ablation import Ablation, AblationRow, run_ablation
from goslim.gobuild.build import build_binaries
from goslim.gobuild.flags import BuildOptions, BuildPlan, Profile, plan_build
from goslim.gobuild.models import Binary
from goslim.gobuild.toolchain import GoToolchain

__all__ = [
    "Ablation",
    "AblationRow",
    "Binary",
    "BuildOptions",
    "BuildPlan",
    "GoToolchain",
    "Profile",
    "build_binaries",
    "plan_build",
    "run_ablation",
]
