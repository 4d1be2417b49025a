#!/usr/bin/env bash
# Before and after, in one run: the call benchmark (record-route on and
# off) and the durable REGISTER benchmark, for the trapezoid of git
# revision REV and for the working tree, both optimised builds, one after
# the other on the same machine. For a change that must not make the
# server slower (a restructuring): the ratio after/before should be ~1.
# Usage: bench/compare.sh REV   (env: CALL_RATES and CALL_SECS for calls.sh,
#   REG_RATES and REG_SECS for register.sh, each script's defaults when unset;
#   AT: the call rate whose PSS and CPU per call are compared, default 2000)
set -e
. "$(dirname "$0")/lib.sh"
rev=${1:?usage: bench/compare.sh REV}
sha=$(git -C "$top" rev-parse --short "$rev")

# build DIR SRC: an optimised build of the tree SRC in DIR
build() {
  [ -f "$1/Makefile" ] || { (cd "$2" && autoreconf -fi >/dev/null 2>&1) && mkdir -p "$1" && (cd "$1" && "$2/configure" --quiet CFLAGS="-O2 -g"); } >&2
  make -C "$1" -j"$(nproc)" --quiet >&2
}
src_old="$top/_build/compare-src-$sha"
if [ ! -d "$src_old" ]; then
  mkdir -p "$src_old"
  git -C "$top" archive "$sha" | tar -x -C "$src_old"
fi
build "$top/_build/compare-$sha" "$src_old"
build "$top/_build/bench" "$top"


run() { # BUILD SCRIPT RATES SECS LOG: the trapezoid result lines of one
  # benchmark, then "drops N" for the kernel's drops on all sockets during
  # it (one server runs at a time: its and its SIPp's); steps to LOG
  before=$(bench_all_drops)
  env TZ_BENCH_BUILD="$1" BENCH_ONLY=trapezoid ${3:+"RATES=$3"} ${4:+"SECS=$4"} \
    "$top/bench/$2" 2>"$5"
  echo "drops $(($(bench_all_drops) - before))"
}
logs=$BENCH_WORK
calls() { run "$1" calls.sh "${CALL_RATES:-}" "${CALL_SECS:-}" "$2"; }
registers() { run "$1" register.sh "${REG_RATES:-}" "${REG_SECS:-}" /dev/null; }
c_old=$(calls "$top/_build/compare-$sha" "$logs/old")
c_new=$(calls "$top/_build/bench" "$logs/new")
r_old=$(registers "$top/_build/compare-$sha")
r_new=$(registers "$top/_build/bench")
pick() { printf '%s\n' "$1" | grep "$2" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) {print $i; exit}}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
printf '%-34s %10s %10s %6s\n' "benchmark" "$sha" "now" "ratio"
for k in "record-route on" "record-route off"; do
  o=$(pick "$c_old" "$k") n=$(pick "$c_new" "$k")
  printf '%-34s %10s %10s %6s\n' "calls/s, $k" "$o" "$n" "$(ratio "$n" "$o")"
done
# at LOG RR FIELD: PSS MB (9) or CPU ms per call (10) of the step at $AT
at() { awk -v rr="rr=$2:" -v r="${AT:-2000}" -v i="$3" \
  '$1 == "trapezoid" && $2 == rr && $4 == r { print $i }' "$logs/$1" | grep . || echo -; }
for rr in 1 0; do
  k="record-route $([ $rr = 1 ] && echo on || echo off)"
  printf '%-34s %10s %10s\n' "PSS MB at ${AT:-2000}/s, $k" "$(at old $rr 9)" "$(at new $rr 9)"
  printf '%-34s %10s %10s\n' "CPU ms/call at ${AT:-2000}/s, $k" "$(at old $rr 10)" "$(at new $rr 10)"
done
o=$(pick "$r_old" "trapezoid (durable") n=$(pick "$r_new" "trapezoid (durable")
printf '%-34s %10s %10s %6s\n' "durable REGISTER/s" "$o" "$n" "$(ratio "$n" "$o")"
printf '%-34s %10s %10s\n' "UdpRcvbufErrors, call ramps" "$(pick "$c_old" drops)" "$(pick "$c_new" drops)"
printf '%-34s %10s %10s\n' "UdpRcvbufErrors, REGISTER ramp" "$(pick "$r_old" drops)" "$(pick "$r_new" drops)"
