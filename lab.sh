#!/usr/bin/env bash
# The one user entry point of the IPsec conformance lab.
#   ./lab.sh conformance   set up (first run), run every scenario, write reports/out/index.html
#   ./lab.sh test          set up (first run), run the test suite (pytest -n auto)
#   ./lab.sh bench         set up, run the benchmarks
#   ./lab.sh ARGS...       python -m lab ARGS... inside the venv (up, down, ls, exec, cli, capture)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
venv="$here/.venv"
stamp="$venv/.lab-setup-stamp"

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "lab.sh: must run as root (network namespaces need CAP_SYS_ADMIN/CAP_NET_ADMIN)" >&2
    exit 2
  fi
}

setup() {
  local want
  want="$(cat setup/apt-packages.txt requirements.txt | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "lab.sh: setting up (apt packages, .venv, pip packages)..." >&2
  local pkgs missing=() keep_rc=""
  pkgs=$(grep -v '^\s*#' setup/apt-packages.txt | grep -v '^\s*$')
  for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    # Daemons from these packages must not start in the root namespace.
    [ -e /usr/sbin/policy-rc.d ] && keep_rc=1 || { printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ -n "${keep_rc:-}" ] || rm -f /usr/sbin/policy-rc.d
  fi
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
}

need_root
setup
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
py="$venv/bin/python"
cmd="${1:-help}"
case "$cmd" in
  conformance)
    shift
    exec "$py" -m reports.run "$@"
    ;;
  test)
    shift
    exec "$py" -m pytest -n auto tests "$@"
    ;;
  bench)
    shift
    exec "$py" -m pytest tests/bench --benchmark-only -p no:xdist "$@"
    ;;
  setup)
    echo "lab.sh: set up done" ;;
  *)
    exec "$py" -m lab "$@"
    ;;
esac
