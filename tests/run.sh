#!/usr/bin/env bash
# The whole test suite, installs and builds included:
#   quick  (unit + integration) in a plain build and in an ASan/UBSan build
#   fault  in the plain build
#   fuzz   corpus replay + a fixed number of seeded mutations (clang libFuzzer)
# Exits non-zero on any failure. Budget: see README "Tests".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)

bash deploy/install-deps.sh

step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

# The checked-in .clang-format, applied: any file that differs fails the run
# (fix with: git ls-files '*.c' '*.h' | xargs clang-format -i).
step "style: clang-format"
fmt_rc=0
git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror || fmt_rc=1

step "build: plain"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQS_WERROR=ON >/dev/null
cmake --build build -j"$JOBS"

# The sanitizer tree is built with clang, so every file is compiled -Werror by
# both gcc (plain) and clang (asan).
step "build: asan+ubsan (clang)"
if [ -f build-asan/CMakeCache.txt ] && ! grep -q '^CMAKE_C_COMPILER:.*clang' build-asan/CMakeCache.txt; then
  rm -rf build-asan   # configured with another compiler before
fi
CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DQS_SANITIZE=ON -DQS_WERROR=ON >/dev/null
cmake --build build-asan -j"$JOBS"

step "build: fuzz (clang)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQS_FUZZ=ON \
  -DQS_WERROR=ON >/dev/null
cmake --build build-fuzz -j"$JOBS" --target fuzz_decode fuzz_csv fuzz_ctl fuzz_web   # only the harnesses

rc=$fmt_rc
step "tier quick (plain)"
ctest --test-dir build -L quick --output-on-failure -j"$JOBS" || rc=1
step "tier quick (asan+ubsan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L quick --output-on-failure -j"$JOBS" || rc=1
step "tier fault (plain)"
ctest --test-dir build -L fault --output-on-failure --no-tests=ignore || rc=1
step "tier fuzz"
ctest --test-dir build-fuzz -L fuzz --output-on-failure --no-tests=ignore || rc=1

if [ "$rc" -ne 0 ]; then
  echo "tests/run.sh: FAILED" >&2
fi
exit "$rc"
