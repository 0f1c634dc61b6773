#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of outside input (cargo-fuzz).
# Not part of CI (scripts/test.sh): runs take minutes each.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]     default: all, 600 s each
#
# Targets: pdf p12 job_file flow_file bulk_result bulk_csv_check.
# One single-job fuzz process at a time, niced, so the machine stays usable.
# Findings land in fuzz/artifacts/TARGET/ (cargo-fuzz's default); the corpus grows in fuzz/corpus/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
here=$(pwd)

target=${1:-all}
seconds=${2:-600}
all=(pdf p12 job_file flow_file bulk_result bulk_csv_check)

if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz
fi
# cargo-fuzz needs nightly flags; stable does with RUSTC_BOOTSTRAP.
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi

if [[ $target == all ]]; then
    targets=("${all[@]}")
elif [[ " ${all[*]} " == *" $target "* ]]; then
    targets=("$target")
else
    echo "unknown target $target; one of: ${all[*]} all" >&2
    exit 2
fi

# Safe Rust: no sanitizer (several times the executions); overflow checks on.
build_flags=(-s none -a)
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    echo "== $t for $seconds s"
    RUST_BACKTRACE=1 nice -n 10 cargo "${toolchain[@]}" fuzz run "${build_flags[@]}" "$t" "$here/corpus/$t" -- \
        -max_total_time="$seconds" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -print_final_stats=1
done
