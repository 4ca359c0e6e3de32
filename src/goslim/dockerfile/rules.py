"""The Dockerfile rules: each a small function from a parsed Dockerfile to findings.

The rules encode what goslim does itself (static build, slim flags, nonroot,
exec-form entrypoint, cache-friendly dependency layer) so a hand-written Dockerfile
can be checked against the same bar.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from goslim.dockerfile.findings import Finding, Severity
from goslim.dockerfile.parser import Dockerfile, Instruction, Stage


@dataclass(frozen=True)
class LintContext:
    """What a rule may look at besides the file: its build context (for .dockerignore)."""

    context_dir: Path | None = None


@dataclass(frozen=True)
class Rule:
    rule: str
    name: str
    severity: Severity
    summary: str
    check: Callable[[Dockerfile, LintContext], Iterator[tuple[Instruction | int, str, str | None]]]

    def findings(self, df: Dockerfile, ctx: LintContext) -> Iterator[Finding]:
        for where, message, hint in self.check(df, ctx):
            line = where if isinstance(where, int) else where.line
            yield Finding(
                rule=self.rule, name=self.name, severity=self.severity, line=line, message=message, hint=hint
            )


_GO_BUILD_RE = re.compile(r"\bgo\s+build\b")
_DEP_DOWNLOAD_RE = re.compile(
    r"\bgo\s+mod\s+download\b|\bnpm\s+(ci|install)\b|\byarn\s+install\b|\bpip3?\s+install\s+-r\b"
    r"|\bbundle\s+install\b|\bcargo\s+fetch\b"
)
_LDFLAGS_RE = re.compile(r"-ldflags(?:=|\s+)(\"[^\"]*\"|'[^']*'|\S+)")
_SECRET_NAME_RE = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?)", re.IGNORECASE
)
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_SHELL_LESS_BASES = ("gcr.io/distroless/", "cgr.dev/chainguard/static")


# --- helpers over the parsed file ---------------------------------------------------------


def global_args(df: Dockerfile) -> dict[str, str]:
    """ARG defaults declared before the first FROM (usable in FROM lines)."""
    first_from = df.stages[0].from_instruction.line if df.stages else 10**9
    args: dict[str, str] = {}
    for ins in df.instructions:
        if ins.keyword == "ARG" and ins.line < first_from:
            name, _, value = ins.rest.partition("=")
            args[name.strip()] = value.strip().strip("\"'")
    return args


def expand(text: str, variables: dict[str, str]) -> str:
    """Substitute ``$X``/``${X}``/``${X:-d}`` from ``variables``; unknown ones stay as written."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        value = variables.get(name, "")
        if value:
            return value
        if match.group(2) in ("-", ":-"):
            return match.group(3)
        return match.group(0)

    return _VAR_RE.sub(sub, text)


def root_base(df: Dockerfile, stage: Stage) -> str:
    """The image a stage ultimately starts from, following ``FROM <earlier stage>`` chains."""
    seen = set()
    while True:
        parent = df.stage_named(stage.base)
        if parent is None or parent.index >= stage.index or parent.index in seen:
            return expand(stage.base, global_args(df))
        seen.add(parent.index)
        stage = parent


def lineage(df: Dockerfile, stage: Stage) -> list[Stage]:
    """The stage and the earlier stages it is built FROM, nearest first."""
    chain = [stage]
    while (parent := df.stage_named(chain[-1].base)) is not None and parent.index < chain[-1].index:
        chain.append(parent)
    return chain


def is_scratch(image: str) -> bool:
    return image.lower() == "scratch"


def is_shell_less(image: str) -> bool:
    """scratch, distroless and chainguard static have no /bin/sh (distroless :debug tags do)."""
    low = image.lower()
    return is_scratch(low) or (low.startswith(_SHELL_LESS_BASES) and ":debug" not in low)


def is_static_only(image: str) -> bool:
    """Bases without a C library: a cgo (dynamically linked) binary cannot start there."""
    low = image.lower()
    return is_scratch(low) or "distroless/static" in low or "chainguard/static" in low


def copy_sources(ins: Instruction) -> list[str]:
    if ins.json_args is not None:
        return ins.json_args[:-1]
    words = ins.words()
    return words[:-1]


def is_copy_all(ins: Instruction) -> bool:
    """``COPY . .`` (or ``ADD ./ /src``): the whole build context, no --from."""
    if ins.keyword not in ("COPY", "ADD") or "from" in ins.flags:
        return False
    return any(src in (".", "./", "*") for src in copy_sources(ins))


def stage_env(df: Dockerfile, stage: Stage, before_line: int) -> dict[str, str]:
    """ENV and ARG defaults visible to an instruction at ``before_line``, inherited stages included."""
    env: dict[str, str] = {}
    for st in reversed(lineage(df, stage)):
        for ins in st.instructions:
            if ins.line >= before_line:
                break
            if ins.keyword in ("ENV", "ARG"):
                env.update(_assignments(ins.rest))
    return env


def _assignments(text: str) -> dict[str, str]:
    # ENV A=1 B="2 3" | ENV A 1 (legacy form) | ARG A=1 | ARG A
    pairs: dict[str, str] = {}
    words = Instruction("ENV", text, 0, 0, rest=text).words()
    if len(words) >= 2 and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    for word in words:
        name, _, value = word.partition("=")
        pairs[name] = value
    return pairs


def go_build_runs(df: Dockerfile) -> Iterator[tuple[Stage, Instruction]]:
    for stage in df.stages:
        for ins in stage.of("RUN"):
            if _GO_BUILD_RE.search(ins.script):
                yield stage, ins


def final_user(df: Dockerfile, stage: Stage) -> tuple[str | None, Instruction | None]:
    """The last USER in effect for a stage (inherited from earlier stages it is built on)."""
    for st in lineage(df, stage):
        users = st.of("USER")
        if users:
            return users[-1].rest.strip(), users[-1]
    return None, None


# --- the rules ------------------------------------------------------------------------------


def _dependency_layer_after_copy_all(df: Dockerfile, _ctx: LintContext):
    for stage in df.stages:
        copied_all: Instruction | None = None
        for ins in stage.instructions:
            if is_copy_all(ins):
                copied_all = copied_all or ins
            elif ins.keyword == "RUN" and copied_all and (m := _DEP_DOWNLOAD_RE.search(ins.script)):
                yield (
                    ins,
                    f"`{m.group(0)}` runs after `COPY` of the whole context (line {copied_all.line}): "
                    "any source change re-downloads every dependency",
                    "copy go.mod and go.sum first, run `go mod download` with a cache mount, then `COPY . .`",
                )


def _no_dependency_layer(df: Dockerfile, _ctx: LintContext):
    for stage, ins in go_build_runs(df):
        before = [i for i in stage.instructions if i.line < ins.line]
        copy_all = next((i for i in before if is_copy_all(i)), None)
        mod_first = any(
            i.keyword == "COPY" and any(Path(s).name == "go.mod" for s in copy_sources(i)) for i in before
        )
        downloads = any(i.keyword == "RUN" and "go mod download" in i.script for i in before)
        if copy_all and not mod_first and not downloads:
            yield (
                ins,
                "`go build` downloads modules in the same layer as the sources: no dependency cache layer",
                "add `COPY go.mod go.sum ./` and `RUN go mod download` before `COPY . .`",
            )


def _missing_user(df: Dockerfile, _ctx: LintContext):
    final = df.final_stage
    if final is None:
        return
    user, ins = final_user(df, final)
    base = root_base(df, final)
    if user is None:
        if base.endswith(":nonroot") or "-nonroot" in base or ":nonroot-" in base:
            return  # the base image already sets a nonroot user
        yield (
            final.from_instruction,
            "the final stage has no USER: the container runs as root",
            "add `USER 65532:65532` (nonroot) before ENTRYPOINT",
        )
        return
    name = user.split(":")[0].strip()
    if name in ("root", "0"):
        yield (ins, f"the final stage runs as root (USER {user})", "use `USER 65532:65532` (nonroot)")


def _shell_form_entrypoint(df: Dockerfile, _ctx: LintContext):
    final = df.final_stage
    if final is None:
        return
    for ins in final.instructions:
        if ins.keyword in ("ENTRYPOINT", "CMD") and ins.rest and not ins.is_exec_form:
            yield (
                ins,
                f"shell-form {ins.keyword}: the program runs under /bin/sh -c, which does not pass "
                "SIGTERM on, so graceful shutdown never happens",
                f'write it in exec form: {ins.keyword} ["/app", "arg"]',
            )


def _shell_on_shell_less_base(df: Dockerfile, _ctx: LintContext):
    for stage in df.stages:
        base = root_base(df, stage)
        if not is_shell_less(base):
            continue
        for ins in stage.instructions:
            shell_healthcheck = (
                ins.keyword == "HEALTHCHECK" and " CMD " in f" {ins.rest} " and "[" not in ins.rest
            )
            if (ins.keyword == "RUN" and not ins.is_exec_form) or shell_healthcheck:
                yield (
                    ins,
                    f"{ins.keyword} needs /bin/sh, which {base} does not have",
                    "do this work in the build stage and COPY the result, or use exec form",
                )


def _apk_no_cache(df: Dockerfile, _ctx: LintContext):
    for ins in df.instructions:
        if ins.keyword != "RUN":
            continue
        for cmd in re.split(r"&&|;|\|\|", ins.script):
            if (
                re.search(r"\bapk\s+(\S+\s+)*add\b", cmd)
                and "--no-cache" not in cmd
                and "/var/cache/apk" not in ins.script
                and "/var/cache/apk" not in ins.flags.get("mount", "")
            ):
                yield (
                    ins,
                    "`apk add` without --no-cache keeps the package index in the layer",
                    "use `apk add --no-cache ...`",
                )


def _apt_lists_not_cleaned(df: Dockerfile, _ctx: LintContext):
    for ins in df.instructions:
        if ins.keyword != "RUN" or not re.search(r"\bapt(-get)?\s+(\S+\s+)*install\b", ins.script):
            continue
        if "/var/lib/apt/lists" not in ins.script and "/var/lib/apt" not in ins.flags.get("mount", ""):
            yield (
                ins,
                "`apt-get install` without removing /var/lib/apt/lists leaves the package lists in the layer",
                "end the same RUN with `&& rm -rf /var/lib/apt/lists/*`",
            )


def _apt_recommends(df: Dockerfile, _ctx: LintContext):
    for ins in df.instructions:
        if (
            ins.keyword == "RUN"
            and re.search(r"\bapt(-get)?\s+(\S+\s+)*install\b", ins.script)
            and "--no-install-recommends" not in ins.script
        ):
            yield (ins, "`apt-get install` pulls in recommended packages too", "add --no-install-recommends")


def _dynamic_build_on_static_base(df: Dockerfile, _ctx: LintContext):
    final = df.final_stage
    if final is None:
        return
    base = root_base(df, final)
    if not is_static_only(base):
        return
    sources = {
        ins.flags["from"] for ins in final.instructions if ins.keyword == "COPY" and "from" in ins.flags
    }
    # The stages copied from, and the stages those are built FROM (a build may sit in a parent stage).
    feeding = {
        parent.index
        for ref in sources
        if (st := df.stage_named(ref)) is not None
        for parent in lineage(df, st)
    }
    for stage, ins in go_build_runs(df):
        if feeding and stage.index not in feeding:
            continue
        env = stage_env(df, stage, ins.line)
        if re.search(r"\bCGO_ENABLED=0\b", ins.script) or env.get("CGO_ENABLED", "").strip("\"'") == "0":
            continue
        yield (
            ins,
            f"`go build` without CGO_ENABLED=0 may link dynamically against libc, which {base} "
            'does not have: the binary fails to start ("no such file or directory")',
            "build with CGO_ENABLED=0 (ENV CGO_ENABLED=0 or inline before go build)",
        )


def _add_url(df: Dockerfile, _ctx: LintContext):
    for ins in (i for i in df.instructions if i.keyword == "ADD"):
        urls = [s for s in copy_sources(ins) if re.match(r"^(https?|git)://|^git@", s)]
        if urls and "checksum" not in ins.flags:
            yield (
                ins,
                f"ADD downloads {urls[0]} unverified and outside the build cache's control",
                "download with curl and check a sha256, or use ADD --checksum=sha256:...",
            )


def _add_local(df: Dockerfile, _ctx: LintContext):
    for ins in df.instructions:
        if ins.keyword != "ADD":
            continue
        sources = copy_sources(ins)
        if (
            sources
            and not any(re.match(r"^(https?|git)://|^git@", s) for s in sources)
            and not any(re.search(r"\.(tar|tgz|tar\.\w+|txz|tbz2?)$", s) for s in sources)
        ):
            yield (
                ins,
                "ADD of local files: COPY does the same without ADD's archive and URL magic",
                "use COPY",
            )


def _latest_tag(df: Dockerfile, _ctx: LintContext):
    variables = global_args(df)
    names = {st.name for st in df.stages if st.name}
    for stage in df.stages:
        image = expand(stage.base, variables)
        if not image or is_scratch(image) or image.lower() in names or "$" in image or "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        if ":" not in last:
            yield (
                stage.from_instruction,
                f"{image} has no tag, so it means :latest and changes under you",
                "pin a version tag (and ideally @sha256: digest)",
            )
        elif last.split(":", 1)[1] == "latest":
            yield (
                stage.from_instruction,
                f"{image} uses the :latest tag, which changes under you",
                "pin a version tag (and ideally @sha256: digest)",
            )


def _no_trimpath(df: Dockerfile, _ctx: LintContext):
    for stage, ins in go_build_runs(df):
        env = stage_env(df, stage, ins.line)
        if "-trimpath" not in ins.script and "-trimpath" not in env.get("GOFLAGS", ""):
            yield (
                ins,
                "`go build` without -trimpath embeds the builder's file paths in the binary",
                "add -trimpath (reproducible, smaller, no leaked paths)",
            )


def _not_stripped(df: Dockerfile, _ctx: LintContext):
    for stage, ins in go_build_runs(df):
        env = stage_env(df, stage, ins.line)
        text = ins.script + " " + env.get("GOFLAGS", "")
        values = [m.group(1).strip("\"'") for m in _LDFLAGS_RE.finditer(text)]
        tokens = {t for v in values for t in v.split()}
        if not {"-s", "-w"} <= tokens:
            yield (
                ins,
                '`go build` without -ldflags "-s -w" keeps the symbol table and DWARF debug data '
                "in the binary (`goslim build --ablation` measures what that costs yours)",
                'add -ldflags="-s -w" (stack traces and pprof still work: pclntab is kept)',
            )


def _no_dockerignore(df: Dockerfile, ctx: LintContext):
    if ctx.context_dir is None or (ctx.context_dir / ".dockerignore").exists():
        return
    for ins in df.instructions:
        if is_copy_all(ins):
            yield (
                ins,
                "the whole context is copied and there is no .dockerignore: .git, build outputs and "
                "local secrets go into the build",
                "add a .dockerignore (`goslim dockerfile` writes one)",
            )
            return


def _secret_in_env(df: Dockerfile, _ctx: LintContext):
    for ins in df.instructions:
        if ins.keyword not in ("ENV", "ARG"):
            continue
        for name, value in _assignments(ins.rest).items():
            if _SECRET_NAME_RE.search(name) and value and not value.startswith("$"):
                yield (
                    ins,
                    f"{ins.keyword} {name} puts a secret value into the image metadata and history",
                    "pass secrets with RUN --mount=type=secret, or at run time",
                )


def _toolchain_in_final_image(df: Dockerfile, _ctx: LintContext):
    final = df.final_stage
    if final is None:
        return
    base = root_base(df, final)
    image = base.rsplit("/", 1)[-1].split(":")[0].lower()
    if image in ("golang", "go"):
        yield (
            final.from_instruction,
            f"the final image is based on {base}: it ships the whole Go toolchain",
            "build in a `golang` stage and copy the binary into scratch or distroless static",
        )


def _duplicate_stage_name(df: Dockerfile, _ctx: LintContext):
    seen: dict[str, int] = {}
    for stage in df.stages:
        if stage.name and stage.name in seen:
            yield (
                stage.from_instruction,
                f"stage name '{stage.name}' is already used on line {seen[stage.name]}",
                "give each stage its own name",
            )
        elif stage.name:
            seen[stage.name] = stage.from_instruction.line


def _repeated_entrypoint(df: Dockerfile, _ctx: LintContext):
    final = df.final_stage
    if final is None:
        return
    for keyword in ("ENTRYPOINT", "CMD"):
        found = final.of(keyword)
        for ins in found[:-1]:
            yield (
                ins,
                f"{keyword} is set again on line {found[-1].line}; only the last one takes effect",
                f"keep one {keyword}",
            )


def _go_build_cache(df: Dockerfile, _ctx: LintContext):
    for _stage, ins in go_build_runs(df):
        if "go-build" not in ins.flags.get("mount", "") and "GOCACHE" not in ins.flags.get("mount", ""):
            yield (
                ins,
                "`go build` has no build cache mount: every build compiles everything again",
                "add --mount=type=cache,target=/root/.cache/go-build",
            )


def _parse_problems(df: Dockerfile, _ctx: LintContext):
    for problem in df.problems:
        yield (problem.line, problem.message, None)
    if not df.stages:
        yield (1, "no FROM instruction: this is not a Dockerfile Docker can build", "start with FROM <image>")


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
RULES: tuple[Rule, ...] = (
    Rule("GS000", "parse-error", E, "the file cannot be read as a Dockerfile", _parse_problems),
    Rule(
        "GS001",
        "dependency-layer-after-copy-all",
        E,
        "dependency download after COPY . (cache busting)",
        _dependency_layer_after_copy_all,
    ),
    Rule(
        "GS002",
        "no-dependency-layer",
        INFO,
        "go build with no separate module download layer",
        _no_dependency_layer,
    ),
    Rule("GS010", "missing-user", E, "final stage runs as root", _missing_user),
    Rule(
        "GS011",
        "shell-form-entrypoint",
        E,
        "shell-form ENTRYPOINT/CMD breaks signal delivery",
        _shell_form_entrypoint,
    ),
    Rule(
        "GS012",
        "shell-on-shell-less-base",
        E,
        "RUN or shell HEALTHCHECK on a base without /bin/sh",
        _shell_on_shell_less_base,
    ),
    Rule("GS020", "apk-no-cache", W, "apk add without --no-cache", _apk_no_cache),
    Rule(
        "GS021",
        "apt-lists-not-cleaned",
        W,
        "apt-get install without removing the package lists",
        _apt_lists_not_cleaned,
    ),
    Rule("GS022", "apt-recommends", INFO, "apt-get install without --no-install-recommends", _apt_recommends),
    Rule(
        "GS030",
        "dynamic-build-on-static-base",
        E,
        "cgo build copied into scratch/distroless static",
        _dynamic_build_on_static_base,
    ),
    Rule("GS040", "add-url", E, "ADD of a URL without --checksum", _add_url),
    Rule("GS041", "add-local", INFO, "ADD where COPY does", _add_local),
    Rule("GS050", "latest-tag", W, "base image untagged or :latest", _latest_tag),
    Rule("GS060", "go-build-no-trimpath", W, "go build without -trimpath", _no_trimpath),
    Rule("GS061", "go-build-not-stripped", W, 'go build without -ldflags "-s -w"', _not_stripped),
    Rule("GS062", "go-build-no-cache-mount", INFO, "go build without a build cache mount", _go_build_cache),
    Rule("GS070", "no-dockerignore", W, "COPY . with no .dockerignore", _no_dockerignore),
    Rule("GS071", "secret-in-env", E, "a secret value in ENV/ARG", _secret_in_env),
    Rule("GS072", "toolchain-in-final-image", W, "final image based on golang", _toolchain_in_final_image),
    Rule("GS073", "duplicate-stage-name", E, "two stages with the same name", _duplicate_stage_name),
    Rule(
        "GS074", "repeated-entrypoint", W, "ENTRYPOINT/CMD set twice in the final stage", _repeated_entrypoint
    ),
)
