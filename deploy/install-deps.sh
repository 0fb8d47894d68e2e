#!/usr/bin/env bash
# Install every Debian package the build, the tests and the tools need.
# Idempotent and quiet; run as root on Debian 12 (bookworm).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git ca-certificates
  clang libclang-rt-14-dev           # libFuzzer and sanitizer runtimes
  libuv1-dev libsqlite3-dev sqlite3 libmsgpack-dev libssl-dev openssl libzstd-dev
  libinih-dev libjansson-dev libcmocka-dev libxlsxwriter-dev
  util-linux procps iproute2 python3 unzip   # setpriv/runuser, ps, ss, test helpers
  strace                             # tests/cli/test_durable.sh counts the syncs of an add
  systemd shellcheck adduser         # tests/deploy: systemd-analyze verify (no systemd
                                     # as PID 1 needed), maintainer-script lint, dpkg -i
  chromium                           # tests/report: the HTML report renders headless
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo $0)" >&2
  exit 3
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
