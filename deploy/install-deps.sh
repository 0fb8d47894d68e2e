#!/usr/bin/env bash
# Install every Debian package the build, the tests and the tools need.
# Idempotent and quiet; run as root on Debian 12 (bookworm).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git ca-certificates
  clang libclang-rt-14-dev           # libFuzzer and sanitizer runtimes
  clang-format                       # the style check (tests/run.sh, .clang-format)
  libuv1-dev libsqlite3-dev sqlite3 libmsgpack-dev libssl-dev openssl libzstd-dev
  libinih-dev libjansson-dev libcmocka-dev libxlsxwriter-dev
  util-linux procps iproute2 python3 unzip   # setpriv/runuser, ps, ss, test helpers
  strace                             # tests/cli/test_durable.sh counts the syncs of an add
  systemd shellcheck adduser         # tests/deploy: systemd-analyze verify (no systemd
                                     # as PID 1 needed), maintainer-script lint, dpkg -i
  chromium                           # tests/report: the HTML report renders headless
  ninja-build                        # tests/bench/run.sh builds its Release tree with Ninja
  libh2o-dev libargon2-dev           # qianshou-web: HTTP (libh2o on libuv + OpenSSL), argon2id
  chromium-driver python3-selenium   # tests/web: the browser interface driven by WebDriver
  fonts-noto-cjk                     # Chinese glyphs in headless Chromium's screenshots
  libpq-dev postgresql               # the aggregator's store on PostgreSQL (store/pg*.c);
                                     # tests/pg/pgtest.sh runs a private server from it
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
# Progress on stderr: a fresh machine needs a few hundred MB, which takes minutes.
echo "install-deps: ${#missing[@]} packages to install: ${missing[*]}" >&2
echo "install-deps: apt-get update" >&2
apt-get update -qq
echo "install-deps: apt-get install (a few minutes on a fresh machine)" >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
