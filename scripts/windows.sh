#!/usr/bin/env bash
# The Windows build of oqsbot, from Linux: cross-builds the release .exe and
# the library's test binary for x86_64-pc-windows-gnu, lint-checks the
# Windows-only code with clippy, then runs under Wine the offline commands
# (same inputs and verdicts as on Linux) and every library test.
# Needs the mingw compiler and Wine from scripts/setup-system.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-pc-windows-gnu
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac

started=$EPOCHREALTIME
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
part() { # NAME COMMAND...: runs the command and says how long it took
  local name=$1 t0=$EPOCHREALTIME
  shift
  "$@"
  echo "windows.sh: $name took $(since "$t0") s"
}

add_target() {
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
}

test_exe=""
build_tests() {
  local log
  # In the release profile, so it shares every dependency with the release build.
  log=$(cargo test --release --lib --target "$target" --no-run 2>&1) || {
    echo "$log"
    return 1
  }
  echo "$log" | grep -v '^ *Executable'
  # "Executable unittests src/lib.rs (…/deps/oqsbot-HASH.exe)"
  test_exe=$(echo "$log" | sed -n 's/^ *Executable unittests src\/lib.rs (\(.*\.exe\))$/\1/p' | tail -n 1)
  [ -n "$test_exe" ] || {
    echo "windows.sh: cannot find the library's test binary in cargo's output" >&2
    return 1
  }
  case "$test_exe" in /*) ;; *) test_exe="$PWD/$test_exe" ;; esac
}

part "rustup target" add_target
part "release build" cargo build --release --target "$target"
part "test build" build_tests
part "clippy (Windows)" cargo clippy --target "$target" --all-targets --quiet -- -D warnings

# --- Wine -------------------------------------------------------------------
work=$(mktemp -d)
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  # -k does not wait: the server may still hold the prefix when rm starts.
  wineserver -k 2>/dev/null || true
  wineserver -w 2>/dev/null || true
  rm -rf "$work" || true
}
trap cleanup EXIT

prepare_wine() {
  # Wine has no file access lists of its own: it maps them to Unix mode bits, so
  # files its server creates must be owner-only on the Unix side too.
  umask 077
  # The shim DLL sits beside the copies of the .exe files run here, nowhere else.
  mkdir -p "$work/bin" "$work/run"
  x86_64-w64-mingw32-gcc -shared -O2 -s -o "$work/bin/bcryptprimitives.dll" \
    scripts/wine-shim/processprng.c scripts/wine-shim/bcryptprimitives.def -ladvapi32
  cp "$target_dir/$target/release/oqsbot.exe" "$work/bin/oqsbot.exe"
  cp "$test_exe" "$work/bin/oqsbot-lib-tests.exe"
  wineboot --init >/dev/null 2>&1 || true
  # The Linux build gives the verdicts to compare with, and makes the PDF and .p12.
  cargo build --quiet --bin oqsbot --example windows_fixtures
  "$target_dir/debug/examples/windows_fixtures" "$work/run" >/dev/null
}
part "Wine prefix and fixtures" prepare_wine

linux_exe="$target_dir/debug/oqsbot"
windows_exe="$work/bin/oqsbot.exe"
failures=0
checks=0

# expect CODE NEEDLE STDIN -- ARGS...: runs ARGS with the Linux and the Windows
# build in the same folder; each must exit CODE and print NEEDLE (stdout or stderr).
expect() {
  local want=$1 needle=$2 input=$3
  shift 4
  local side out code
  for side in linux windows; do
    if [ "$side" = linux ]; then
      set +e
      out=$(cd "$work/run" && printf '%s' "$input" | "$linux_exe" "$@" 2>&1)
      code=$?
      set -e
    else
      set +e
      out=$(cd "$work/run" && printf '%s' "$input" | wine "$windows_exe" "$@" 2>&1)
      code=$?
      set -e
      out=${out//$'\r'/}
    fi
    checks=$((checks + 1))
    if [ "$code" != "$want" ] || [[ "$out" != *"$needle"* ]]; then
      failures=$((failures + 1))
      echo "FAIL ($side) oqsbot $*: exit $code (want $want), output should contain '$needle':"
      echo "$out" | sed 's/^/    /'
    fi
  done
}

# same NAME -- ARGS...: the two builds print the same standard output.
same() {
  local name=$1
  shift 2
  local a b
  a=$(cd "$work/run" && "$linux_exe" "$@" 2>/dev/null || true)
  b=$(cd "$work/run" && wine "$windows_exe" "$@" 2>/dev/null || true)
  b=${b//$'\r'/}
  checks=$((checks + 1))
  if [ "$a" != "$b" ] || [ -z "$a" ]; then
    failures=$((failures + 1))
    echo "FAIL $name: Linux and Windows differ"
    diff <(echo "$a") <(echo "$b") | sed 's/^/    /' || true
  fi
}

offline_commands() {
  expect 0 "大阪府" "" -- code check 2714206386
  expect 0 "医科" "" -- code check 2714206386
  expect 1 "should be 7" "" -- code check 1234567890
  expect 0 "never expires" $'OnsAdmin@00369\n' -- password check
  expect 1 "upper-case" $'staff123\n' -- password check
  expect 2 "" "" -- password generate --length 30
  local generated
  generated=$(wine "$windows_exe" password generate --length 16 | tr -d '\r\n')
  checks=$((checks + 1))
  if [ "${#generated}" != 16 ]; then
    failures=$((failures + 1))
    echo "FAIL (windows) password generate --length 16 gave '${#generated}' characters"
  fi
  expect 0 "never expires" "$generated"$'\n' -- password check

  export PW='OnsAdmin@00369'
  expect 0 "FOFACE01, R0RENK01" "" -- csv build --kind 医科歯科 --start 2026/11/25 --password-env PW -o accounts.csv
  (cd "$work/run" && "$linux_exe" csv build --kind 医科歯科 --start 2026/11/25 --password-env PW -o linux.csv >/dev/null)
  checks=$((checks + 1))
  if ! cmp -s "$work/run/linux.csv" "$work/run/accounts.csv"; then
    failures=$((failures + 1))
    echo "FAIL the Windows build wrote another CSV than the Linux build"
  fi
  expect 0 '"valid":true' "" -- csv check accounts.csv --json
  expect 0 '"rows":2' "" -- csv check accounts.csv --json
  export PW=weak
  expect 1 "no file was written" "" -- csv build --kind 薬局 --start 2026/11/25 --password-env PW -o weak.csv
  expect 2 "NOPE is not set" "" -- csv build --kind 薬局 --start 2026/11/25 --password-env NOPE -o nope.csv
  printf '権限区分,ユーザID\r\n' >"$work/run/utf8.csv"
  expect 1 "UTF-8" "" -- csv check utf8.csv
  unset PW

  expect 0 '"institution_code":"1310100126"' "" -- pdf master.pdf --json
  expect 0 '"issued":"2026-11-25"' "" -- pdf master.pdf --json
  same "pdf --json" -- pdf master.pdf --json
  printf '%%PDF-1.4 nonsense' >"$work/run/nonsense.pdf"
  expect 1 "" "" -- pdf nonsense.pdf --json

  export CP=8024
  expect 0 "1342304563" "" -- cert check cert.p12 --code 1342304563 --password-env CP
  expect 1 "not 1312304569" "" -- cert check cert.p12 --code 1312304569 --password-env CP
  expect 2 "" "" -- cert check cert.p12 --code 1234567890 --password-env CP
  export CP=1111
  expect 1 "does not open" "" -- cert check cert.p12 --code 1342304563 --password-env CP
  unset CP

  echo "offline commands: $((checks - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}
part "offline commands under Wine" offline_commands

lib_tests() {
  local log code
  set +e
  log=$(cd "$work/run" && wine "$work/bin/oqsbot-lib-tests.exe" 2>&1)
  code=$?
  set -e
  log=${log//$'\r'/}
  echo "$log" | grep -E '^test result:|FAILED|panicked' || true
  if [ "$code" -ne 0 ]; then
    echo "$log" | tail -n 60
    echo "windows.sh: the library's tests failed under Wine (exit $code)" >&2
    return 1
  fi
}
part "library tests under Wine" lib_tests

echo "windows.sh: everything took $(since "$started") s"
