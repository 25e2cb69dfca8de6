#!/usr/bin/env bash
# Fuzzes every target of lanyard-saml for a time budget each, seeded with the
# test vectors. Exits non-zero when any target finds a crash (the input is left
# in fuzz/artifacts/<target>/).
#
# Usage: fuzz/run.sh [SECONDS_PER_TARGET]   (default 30)
# Env:   FUZZ_ARGS  extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
#        FUZZ_TARGETS  space-separated subset of the targets
set -euo pipefail

budget="${1:-30}"
here="$(cd "$(dirname "$0")" && pwd)"
vectors="$here/../crates/lanyard-saml/test_vectors"

# cargo-fuzz passes -Z flags (sanitizers, coverage) to rustc; this lets a stable
# toolchain accept them. A nightly toolchain does not need it and is not hurt.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd "$here"
cargo fuzz build

declare -A seeds=(
    [redirect_decode]="redirect post"
    [post_decode]="post"
    [dsig_verify]="post response"
    [c14n]="post response metadata"
    [sp_metadata]="metadata"
)
targets="${FUZZ_TARGETS:-redirect_decode post_decode dsig_verify c14n sp_metadata}"
failed=()
for target in $targets; do
    corpus="$here/corpus/$target"
    mkdir -p "$corpus"
    dirs=()
    for sub in ${seeds[$target]}; do
        dirs+=("$vectors/$sub")
    done
    echo "=== $target: ${budget}s"
    # -max_len covers every vector but the two oversized ones (their prefixes
    # still seed the corpus); -timeout turns a hang into a failure.
    # shellcheck disable=SC2086
    if ! cargo fuzz run "$target" "$corpus" "${dirs[@]}" -- \
        -max_total_time="$budget" -rss_limit_mb=1024 -max_len=16384 -timeout=10 \
        -print_final_stats=1 ${FUZZ_ARGS:-}; then
        failed+=("$target")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz targets with findings: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "all fuzz targets ran ${budget}s without a finding"
