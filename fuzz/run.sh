#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for SECONDS (default 20) from its committed seeds
# (fuzz/seeds/<target>/); fails if any target crashed. Stable Rust is enough (no sanitizer).
#
#   bash fuzz/run.sh [SECONDS]
#
# New inputs go to fuzz/corpus/<target>/ and crashes to fuzz/artifacts/<target>/ (both ignored
# by git). Reproduce a crash with the command libFuzzer prints, from fuzz/, with
# RUSTFLAGS="--cfg madsim".
set -euo pipefail

seconds=${1:-20}
case $seconds in
  '' | *[!0-9]*)
    echo "usage: bash fuzz/run.sh [SECONDS]" >&2
    exit 2
    ;;
esac
cd "$(dirname "$0")"

# z0sim is always a simulation build; RUSTFLAGS replaces .cargo/config.toml's rustflags.
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }--cfg madsim"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
cargo fuzz build -s none

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=()
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target" "seeds/$target"
  inputs=("seeds/$target")
  # An input that runs 30 s is a hang: the slowest target needs milliseconds per input.
  options=(-timeout=30)
  case $target in
    scenario_parse)
      inputs+=(../scenarios)
      options+=(-dict=scenario_parse.dict)
      ;;
    fault_schedule)
      # Every run leaks its simulated world (tests/fuzz_regressions.rs, runs_free_their_memory),
      # so one process reaches libFuzzer's 2 GB limit within seconds: fork mode fuzzes in
      # short-lived child processes. Drop -fork once runs free their memory.
      options+=(-fork=1)
      ;;
  esac
  log="$logs/$target.log"
  # Every committed input (regressions included) first, then fuzzing for the time given.
  if cargo fuzz run -s none "$target" "${inputs[@]}" -- -runs=0 -timeout=30 >"$log" 2>&1 &&
    cargo fuzz run -s none "$target" "corpus/$target" "${inputs[@]}" -- \
      -max_total_time="$seconds" "${options[@]}" >>"$log" 2>&1; then
    summary=$(grep -E '^#[0-9]+:?[[:space:]]+(DONE|cov:)' "$log" | tail -n 1)
    echo "ok     $target: ${summary:-see $log}"
  else
    echo "FAILED $target:"
    grep -v -E '^#[0-9]+|NEW_FUNC' "$log" | tail -n 60
    failed+=("$target")
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz targets that crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
