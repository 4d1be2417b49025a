#!/usr/bin/env bash
# Before and after, in one run: the call benchmark (record-route on and
# off) and the durable REGISTER benchmark, for the trapezoid of git
# revision REV and for the working tree, both optimised builds, one after
# the other on the same machine. For a change that must not make the
# server slower (a restructuring): the ratio after/before should be ~1.
# Usage: bench/compare.sh REV   (env: RATES, SECS as for calls.sh/register.sh)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tools/deps.sh"
rev=${1:?usage: bench/compare.sh REV}
sha=$(git -C "$top" rev-parse --short "$rev")

# build DIR SRC: an optimised build of the tree SRC in DIR
build() {
  [ -f "$1/Makefile" ] || { (cd "$2" && autoreconf -fi >/dev/null 2>&1) && tz_configure "$1" --quiet CFLAGS="-O2 -g"; } >&2
  make -C "$1" -j"$(nproc)" --quiet >&2
}
src_old="$top/_build/compare-src-$sha"
if [ ! -d "$src_old" ]; then
  mkdir -p "$src_old"
  git -C "$top" archive "$sha" | tar -x -C "$src_old"
fi
build "$top/_build/compare-$sha" "$src_old"
build "$top/_build/bench" "$top"

# The kernel's count of datagrams dropped for a full receive buffer, all
# sockets (only one server runs at a time, so a delta is its run's).
rcvbuf_errors() { awk '/^Udp:/ { if (!n) { for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; n = 1 } else print $c }' /proc/net/snmp; }

run() { # BUILD SCRIPT: the trapezoid result lines of one benchmark, then
  # "drops N" for the kernel drops during it
  before=$(rcvbuf_errors)
  TZ_BENCH_BUILD=$1 BENCH_ONLY=trapezoid "$top/bench/$2" 2>/dev/null
  echo "drops $(($(rcvbuf_errors) - before))"
}
c_old=$(run "$top/_build/compare-$sha" calls.sh)
c_new=$(run "$top/_build/bench" calls.sh)
r_old=$(run "$top/_build/compare-$sha" register.sh)
r_new=$(run "$top/_build/bench" register.sh)
pick() { printf '%s\n' "$1" | grep "$2" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) {print $i; exit}}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
printf '%-34s %10s %10s %6s\n' "benchmark" "$sha" "now" "ratio"
for k in "record-route on" "record-route off"; do
  o=$(pick "$c_old" "$k") n=$(pick "$c_new" "$k")
  printf '%-34s %10s %10s %6s\n' "calls/s, $k" "$o" "$n" "$(ratio "$n" "$o")"
done
o=$(pick "$r_old" "trapezoid (durable") n=$(pick "$r_new" "trapezoid (durable")
printf '%-34s %10s %10s %6s\n' "durable REGISTER/s" "$o" "$n" "$(ratio "$n" "$o")"
printf '%-34s %10s %10s\n' "UdpRcvbufErrors, call ramps" "$(pick "$c_old" drops)" "$(pick "$c_new" drops)"
printf '%-34s %10s %10s\n' "UdpRcvbufErrors, REGISTER ramp" "$(pick "$r_old" drops)" "$(pick "$r_new" drops)"
