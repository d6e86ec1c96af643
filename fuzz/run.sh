#!/usr/bin/env bash
# Builds every cargo-fuzz target, replays every committed input, then fuzzes each target for
# SECONDS (default 20); fails if any target crashed. Stable Rust is enough (no sanitizer).
#
#   bash fuzz/run.sh [SECONDS]
#
# Inputs replayed: fuzz/seeds/<target>/ (regressions included) and, for scenario_parse, the
# bundled scenarios (../scenarios). New inputs go to fuzz/corpus/<target>/ and crashes to
# fuzz/artifacts/<target>/ (both ignored by git). Reproduce a crash with the command libFuzzer
# prints, from fuzz/, with RUSTFLAGS="--cfg madsim".
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
targets=$(cargo fuzz list)

# Build options per target. fault_schedule is built without comparison tracing, in a target
# directory of its own (the option changes every crate's flags, so sharing one directory would
# rebuild the others): its input is decoded by `arbitrary` with modular arithmetic, so there are
# no magic values for comparison tracing to solve, and the tracing cost a fifth of each
# execution. The others keep cargo fuzz's defaults (scenario_parse relies on it for keywords).
build_options() {
  case $1 in
    fault_schedule) echo "--no-trace-compares --target-dir target/fault_schedule" ;;
  esac
}
for target in $targets; do
  # shellcheck disable=SC2046 # the options are single words
  cargo fuzz build -s none $(build_options "$target") "$target"
done

work=$(mktemp -d)
failed=()

# What libFuzzer said about a crash: the panic message (for fault_schedule, the report and the
# scenario), its verdict and where it wrote the input; the log's end when none of that is there.
crash_summary() {
  local log=$1
  if grep -q -E 'panicked at|==[0-9]+== ERROR' "$log"; then
    awk '/panicked at/ { show = 1 } /^stack backtrace:/ { show = 0 } show' "$log" | head -n 150
    grep -E '==[0-9]+== ERROR|Test unit written to' "$log" | tail -n 4
  else
    grep -v -E '^#[0-9]+|NEW_FUNC' "$log" | tail -n 40
  fi
}

for target in $targets; do
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
      # An input uses up to 90 bytes (18 for the seed and topology, 18 for each of up to 4
      # faults), but libFuzzer mutates within the size of the largest seed (about 20 bytes)
      # until coverage stops growing, which it never does within a minute: no fault would
      # last more than 1 ms. One process is enough: runs free their memory (the resident set
      # stays under 60 MB over 60 s, far from libFuzzer's 2 GB limit), so no -fork.
      # -entropic=0: libFuzzer's default entropic schedule keeps a frequency per feature, and a
      # run here touches about 35,000 of them: that bookkeeping was about half of each execution.
      # With the plain schedule the target runs about twice as fast and reaches as many edges in
      # the same time (8,543 against 8,221 in 15 s from the committed seeds).
      options+=(-max_len=128 -len_control=0 -entropic=0)
      ;;
  esac
  log="$work/$target.log"
  # Every committed input (regressions included) first, then fuzzing for the time given.
  # shellcheck disable=SC2046
  if ! cargo fuzz run -s none $(build_options "$target") "$target" "${inputs[@]}" -- \
    -runs=0 -timeout=30 >"$log" 2>&1; then
    echo "FAILED $target: a committed input crashed"
    crash_summary "$log"
    failed+=("$target")
    continue
  fi
  fuzz_log="$work/$target.fuzz.log"
  # shellcheck disable=SC2046
  if cargo fuzz run -s none $(build_options "$target") "$target" "corpus/$target" "${inputs[@]}" -- \
    -max_total_time="$seconds" "${options[@]}" >"$fuzz_log" 2>&1; then
    summary=$(grep -E '^#[0-9]+:?[[:space:]]+(DONE|cov:)' "$fuzz_log" | tail -n 1)
    echo "ok     $target: ${summary:-no summary from libFuzzer}"
  else
    echo "FAILED $target: crashed while fuzzing"
    crash_summary "$fuzz_log"
    failed+=("$target")
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz targets that failed: ${failed[*]} (inputs in fuzz/artifacts/, logs in $work)" >&2
  exit 1
fi
rm -rf "$work"
