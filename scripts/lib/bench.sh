# Shared by the benchmark scripts (sourced, not run): locating release
# binaries, generating data, and measuring a command's wall time and peak
# memory with /usr/bin/time -v.

bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench_bin="${CARGO_TARGET_DIR:-$bench_root/target}/release"

# Fails with a hint unless every named release binary exists.
require_release() {
    local name
    for name in "$@"; do
        if [[ ! -x "$bench_bin/$name" ]]; then
            echo "error: \`$bench_bin/$name\` is missing" >&2
            echo "hint: build it with \`scripts/build-release\`, or drop --no-build" >&2
            exit 1
        fi
    done
    if [[ ! -x /usr/bin/time ]]; then
        echo "error: /usr/bin/time is missing; hint: apt-get install time" >&2
        exit 1
    fi
}

# Writes DIR/bench_N_A.csv and DIR/bench_N_B.csv once per size and seed.
generate_pair() {
    local dir=$1 n=$2 seed=$3
    [[ -s "$dir/bench_${n}_A.csv" && -s "$dir/bench_${n}_B.csv" ]] && return
    "$bench_root/scripts/gen-sample" --rows "$n" --seed "$seed" --name "bench_$n" "$dir" >/dev/null
}

# Reads files once so that every contender starts with them in the page
# cache: whoever ran first would otherwise pay for the disk alone.
warm() {
    cat "$@" > /dev/null
}

# Runs a command under /usr/bin/time and prints "seconds peak_MB"; a failing
# command stops the benchmark with its error. Existing files among its
# arguments (the inputs) are read into the page cache first.
measure() {
    local report errors argument
    for argument in "$@"; do
        if [[ -f $argument && $argument != */bin/* && $argument != */release/* ]]; then
            warm "$argument"
        fi
    done
    report="$(mktemp)" errors="$(mktemp)"
    if ! /usr/bin/time -v -o "$report" "$@" 2>"$errors" >/dev/null; then
        echo "error: \`$*\` failed:" >&2
        cat "$errors" >&2
        return 1
    fi
    rm -f "$errors"
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
        /Maximum resident set size/ { kb = $2 }
        END { printf "%.2f %.0f", s, kb / 1024 }' "$report"
    rm -f "$report"
}

# `measure`, repeated $bench_repeat times (default 1): prints the fastest
# wall time and the largest peak memory of the runs. On a machine shared
# with other work the fastest run is the one least delayed by it; every
# contender gets the same number of runs. `--fresh FILE` first: FILE (a
# database the command creates) is removed before every run.
measure_best() {
    local fresh="" result seconds mb best="" peak=0 i
    if [[ $1 == --fresh ]]; then
        fresh=$2
        shift 2
    fi
    for ((i = 0; i < ${bench_repeat:-1}; i++)); do
        [[ -n $fresh ]] && rm -f "$fresh"
        result="$(measure "$@")" || return 1
        read -r seconds mb <<< "$result"
        if [[ -z $best ]] || awk -v a="$seconds" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$seconds
        fi
        (( mb > peak )) && peak=$mb
    done
    echo "$best $peak"
}
