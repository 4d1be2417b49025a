# lib.sh - shared by the benchmarks: build, free ports, SIPp rate steps,
# the servers' CPU budget, and cleanup.
set -u
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$top/tools/deps.sh"

# shellcheck disable=SC2086
tz_install_packages $TZ_BUILD_PKGS sip-tester kamailio kamailio-sqlite-modules \
  kamailio-postgres-modules postgresql >&2

BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/tzbench.XXXXXX")
BENCH_PIDS=""
bench_cleanup() {
  for p in $BENCH_PIDS; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.5
  for p in $BENCH_PIDS; do kill -KILL "$p" 2>/dev/null; done
  bench_budget_end
  rm -rf "$BENCH_WORK"
}
trap bench_cleanup EXIT

# BENCH_CPU=C (e.g. 0.4): the server under test gets C cores' worth of CPU
# time and no more, enforced by the kernel's CFS bandwidth control in a
# cgroup of its own (10 ms periods), and the harness keeps the rest of the
# machine. Then a step fails when the server runs out of its budget, not
# when SIPp and the server together run out of cores: how two servers'
# capacity per core compares on a box that also carries the load
# generator. Every server a benchmark starts gets the same budget.
BENCH_CG=""
bench_budget() {
  [ -n "${BENCH_CPU:-}" ] || return 0
  quota=$(awk -v c="$BENCH_CPU" 'BEGIN { printf "%d", c * 10000 }')
  [ "$quota" -ge 1000 ] || { echo "BENCH_CPU=$BENCH_CPU: at least 0.1 cores" >&2; return 1; }
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then # cgroup v2
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control ||
      echo +cpu >/sys/fs/cgroup/cgroup.subtree_control || return 1
    BENCH_CG=/sys/fs/cgroup/tzbench.$$
    mkdir "$BENCH_CG" && echo "$quota 10000" >"$BENCH_CG/cpu.max" || return 1
  else
    BENCH_CG=/sys/fs/cgroup/cpu/tzbench.$$
    mkdir "$BENCH_CG" && echo 10000 >"$BENCH_CG/cpu.cfs_period_us" &&
      echo "$quota" >"$BENCH_CG/cpu.cfs_quota_us" || return 1
  fi
  printf '#!/bin/sh\necho $$ >"%s/cgroup.procs" && exec "$@"\n' "$BENCH_CG" \
    >"$BENCH_WORK/confine"
  chmod +x "$BENCH_WORK/confine"
  echo "server CPU budget: $BENCH_CPU cores ($BENCH_CG)" >&2
}
# The budget's end: whatever still runs in it (a server the bench lost track
# of, or one still dying) is killed, then the cgroup removed.
bench_budget_end() {
  [ -n "$BENCH_CG" ] || return 0
  for _ in $(seq 1 50); do
    xargs -r kill -KILL <"$BENCH_CG/cgroup.procs" 2>/dev/null
    rmdir "$BENCH_CG" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: could not remove $BENCH_CG" >&2
}
# bench_confine: the command prefix that starts a server inside the budget
# (nothing without one); Kamailio's children inherit it.
bench_confine() { [ -z "$BENCH_CG" ] || echo "$BENCH_WORK/confine"; }
# Periods in which the budgeted server was throttled, of all periods so far:
# "THROTTLED PERIODS" (0 0 without a budget).
bench_throttled() {
  [ -n "$BENCH_CG" ] || { echo "0 0"; return; }
  awk '$1 == "nr_periods" { p = $2 } $1 == "nr_throttled" { t = $2 }
    END { printf "%d %d", t, p }' "$BENCH_CG/cpu.stat"
}

# An optimised build of our own, separate from the test builds; with
# TZ_BENCH_BUILD set, that (already built) build directory instead.
bench_build() {
  b="${TZ_BENCH_BUILD:-$top/_build/bench}"
  if [ -z "${TZ_BENCH_BUILD:-}" ] && [ ! -f "$b/Makefile" ]; then
    tz_configure "$b" --quiet CFLAGS="-O2 -g" >&2 || return 1
  fi
  [ -n "${TZ_BENCH_BUILD:-}" ] || make -C "$b" -j"$(nproc)" --quiet >&2 || return 1
  TZ_BIN="$b/core/trapezoid"
  TZ_MODS="$b/modules"
  (cd "$top/tests/tools" && cc -O2 -o "$BENCH_WORK/freeport" freeport.c)
}

bench_port() { "$BENCH_WORK/freeport" 1; }

# bench_wait_udp PORT: until something answers OPTIONS there (10 s).
bench_wait_udp() {
  for _ in $(seq 1 100); do
    sipsak -s "sip:ping@127.0.0.1:$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# The server under test and its child processes (Kamailio forks workers).
# bench_step measures them when BENCH_SERVER holds the main PID.
BENCH_SERVER=""
# (Several PIDs: the nodes of a farm, measured together.)
bench_procs() { for s in $BENCH_SERVER; do echo "$s"; pgrep -P "$s"; done; }
# Proportional set size, MB: shared memory counted once over all processes.
bench_pss_mb() {
  for p in $(bench_procs); do cat "/proc/$p/smaps_rollup" 2>/dev/null; done |
    awk '/^Pss:/ { kb += $2 } END { printf "%d", kb / 1024 }'
}
# CPU time used so far, in clock ticks, by all of them.
bench_cpu_ticks() {
  for p in $(bench_procs); do cat "/proc/$p/stat" 2>/dev/null; echo; done |
    awk 'NF > 15 { t += $14 + $15 } END { printf "%d", t }'
}
# SIPp's own sockets ask for 4 MB buffers (the kernel caps them at
# net.core.rmem_max): with SIPp's 64 KB default, a callee descheduled for
# a few ms on this 2-core box lost datagrams the server had sent, and calls
# failed on the harness's losses. SIPP_BUF=0 keeps SIPp's default.
bench_sipp_buf() { [ "${SIPP_BUF:-4194304}" = 0 ] || echo "-buff_size ${SIPP_BUF:-4194304}"; }
# The kernel's receive-buffer drops so far on every UDP socket.
bench_all_drops() {
  awk '/^Udp:/ { if (!n) { for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; n = 1 }
    else print $c }' /proc/net/snmp
}

# Datagrams the kernel dropped so far on the server's own UDP sockets: the
# drops column of /proc/net/udp{,6} for the sockets its processes hold
# (SIPp's losses are not the server's).
bench_drops() {
  for p in $(bench_procs); do ls -l "/proc/$p/fd" 2>/dev/null; done |
    sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' | sort -u >"$BENCH_WORK/inodes"
  cat /proc/net/udp /proc/net/udp6 2>/dev/null | awk 'NR == FNR { want[$1] = 1; next }
    ($10 in want) { d += $NF } END { printf "%d", d }' "$BENCH_WORK/inodes" -
}

# Callers: BENCH_CALLERS SIPp processes (4 by default), each from its own
# port at RATE/BENCH_CALLERS. A server whose workers share the port with
# SO_REUSEPORT (trapezoid; Kamailio's children read one socket) gets one
# worker per source address, and a phone network has many sources; one
# caller would measure one worker.
BENCH_CALLERS=${BENCH_CALLERS:-4}

# bench_callers STATPREFIX RATE CALLS TIMEOUT SCENARIO TARGET [SIPP-ARGS...]:
# runs the callers to the end; their statistics go to STATPREFIX.N.csv, their
# errors to STATPREFIX.N.err.
bench_callers() {
  prefix=$1 rate=$2 n=$3 tmo=$4 scen=$5 target=$6
  shift 6
  pids=""
  for i in $(seq 1 "$BENCH_CALLERS"); do
    rm -f "$prefix.$i.csv"
    # BENCH_TARGET2: the even callers send there, the odd ones to TARGET
    # (two nodes of a farm, half the rate each with an even BENCH_CALLERS).
    t=$target
    [ -n "${BENCH_TARGET2:-}" ] && [ $((i % 2)) -eq 0 ] && t=$BENCH_TARGET2
    # SIPp's own -timeout did not end a stuck step once (30 min at 3000/s
    # against a saturated server): a hard limit as well.
    timeout -s KILL $((tmo + 45)) \
    sipp -sf "$scen" -i 127.0.0.1 -p "$(bench_port)" -r "$(bench_share "$rate" "$i")" \
      -m "$(bench_share "$n" "$i")" -l $((rate * 3 / BENCH_CALLERS + 1)) -nostdin \
      -timeout "$tmo" -trace_stat -stf "$prefix.$i.csv" -fd 1 -trace_err \
      -error_file "$prefix.$i.err" $(bench_sipp_buf) "$@" \
      "$t" >/dev/null 2>&1 &
    pids="$pids $!"
  done
  BENCH_PIDS="$BENCH_PIDS $pids"
  for p in $pids; do wait "$p"; done
}
# caller I's part of TOTAL (the first ones take the remainder)
bench_share() { echo $(($1 / BENCH_CALLERS + ($2 <= $1 % BENCH_CALLERS ? 1 : 0))); }

# bench_sum STATPREFIX [PARITY]: "SUCCESSFUL FAILED RETRANSMISSIONS" over
# the callers' last statistics lines (columns picked by name); with PARITY
# (1 or 0), only the odd or even callers' (node 1's or node 2's).
bench_sum() {
  for f in "$1".*.csv; do
    [ -f "$f" ] || continue
    if [ -n "${2:-}" ]; then
      i=${f%.csv} i=${i##*.}
      [ $((i % 2)) -eq "$2" ] || continue
    fi
    hdr=$(head -n 1 "$f") last=$(tail -n 1 "$f")
    col() { echo "$hdr" | tr ';' '\n' | grep -n "^$1\$" | head -1 | cut -d: -f1; }
    echo "$last" | cut -d';' -f"$(col 'SuccessfulCall(C)'),$(col 'FailedCall(C)'),$(col 'Retransmissions(C)')"
  done | awk -F';' '{ ok += $1; bad += $2; rtx += $3 } END { printf "%d %d %d", ok, bad, rtx }'
}

# bench_step PORT RATE SECONDS SCENARIO [SIPP-ARGS...]: prints "RATE
# SUCCESSFUL FAILED RETRANSMISSIONS PASS|FAIL PSS-MB CPU-MS-PER-CALL DROPS".
# A step passes with at most 0.1% failed calls and retransmissions of at
# most 1% of the calls (more means answers take over T1 = 500 ms: the
# target is saturated). PSS is sampled 5 s before the step's end, when every
# transaction the step made is still held; CPU is the server's over the step,
# and so are the kernel's receive-buffer drops. Then what says whether the
# machine, the harness or the budget, not the server alone, may have failed
# the step: idle=N%, the machine's idle time over the step (of all its
# cores); others=MS, the CPU time per call everything but the server spent
# (the SIPp peers, kernel work not charged to the server, the bench's own
# sampling; anything else running would count too); peer_drops=N,
# the drops on every other UDP socket (SIPp's); and under a CPU budget
# (BENCH_CPU) throttled=N%, the share of its periods in which the server
# used all of its budget.
bench_step() {
  port=$1 rate=$2 secs=$3 scen=$4
  shift 4
  stat="$BENCH_WORK/stat.$port.$rate"
  rm -f "$BENCH_WORK/pss"
  n=$((rate * secs))
  read -r cpu0 drops0 all0 idle0 busy0 t0 thr0 per0 <<<"$(bench_counters)"
  (sleep $((secs - 5)); bench_pss_mb >"$BENCH_WORK/pss") &
  sampler=$!
  bench_callers "$stat" "$rate" "$n" $((secs + 15)) "$scen" "127.0.0.1:$port" "$@"
  read -r cpu1 drops1 all1 idle1 busy1 t1 thr1 per1 <<<"$(bench_counters)"
  wait "$sampler"
  read -r ok bad rtx <<<"$(bench_sum "$stat")"
  verdict=FAIL nodes=""
  bench_pass "$ok" "$bad" "$rtx" "$n" && verdict=PASS
  # Two nodes: each must pass on its own callers, not only the sum.
  if [ -n "${BENCH_TARGET2:-}" ]; then
    for par in 1 0; do
      want=0
      for i in $(seq 1 "$BENCH_CALLERS"); do
        [ $((i % 2)) -eq "$par" ] && want=$((want + $(bench_share "$n" "$i")))
      done
      read -r o b r <<<"$(bench_sum "$stat" "$par")"
      bench_pass "$o" "$b" "$r" "$want" || verdict=FAIL
      nodes="$nodes $o/$b/$r"
    done
  fi
  ms=$(awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v n="$ok" \
    'BEGIN { if (n > 0) printf "%.3f", t * 1000 / hz / n; else print "-" }')
  # (Two nodes: each one's SUCCESSFUL/FAILED/RETRANSMISSIONS at the end.)
  read -r idle others <<<"$(awk -v t=$((idle1 - idle0)) -v a="$t0" -v b="$t1" -v c="$(nproc)" \
    -v hz="$(getconf CLK_TCK)" -v o=$((busy1 - busy0 - (cpu1 - cpu0))) -v n="$ok" 'BEGIN {
      if (b <= a) { print "- -"; exit }
      printf "%d %s\n", t * 100 / hz / (b - a) / c, (n > 0 ? sprintf("%.3f", o * 1000 / hz / n) : "-") }')"
  thr=""
  [ -z "$BENCH_CG" ] || thr=" throttled=$(awk -v t=$((thr1 - thr0)) -v p=$((per1 - per0)) \
    'BEGIN { if (p > 0) printf "%d", t * 100 / p; else print "-" }')%"
  echo "$rate $ok $bad $rtx $verdict $(cat "$BENCH_WORK/pss" 2>/dev/null || echo -) $ms" \
    "$((drops1 - drops0)) idle=$idle% others=$others peer_drops=$((all1 - all0 - (drops1 - drops0)))$thr$nodes"
}
# The counters a step takes the difference of, so far: "SERVER-CPU-TICKS
# SERVER-DROPS ALL-DROPS IDLE-TICKS BUSY-TICKS UPTIME THROTTLED PERIODS" --
# the machine's idle time over all CPUs is measured, not sampled, on a
# tickless kernel; busy is user, nice, system, irq and softirq time (not
# iowait, nor the time the hypervisor gave to others).
bench_counters() {
  echo "$(bench_cpu_ticks) $(bench_drops) $(bench_all_drops)" \
    "$(awk '$1 == "cpu" { print $5, $2 + $3 + $4 + $7 + $8; exit }' /proc/stat)" \
    "$(cut -d' ' -f1 /proc/uptime) $(bench_throttled)"
}
# bench_pass OK BAD RTX CALLS: the step's criteria (bench_step) hold.
bench_pass() {
  [ "$1" -gt 0 ] && [ $(($2 * 1000)) -le "$1" ] && [ $(($3 * 100)) -le "$1" ] &&
    [ $(($1 + $2)) -ge $(($4 * 99 / 100)) ]
}

# bench_ramp LABEL PORT SECONDS SCENARIO "RATES" [SIPP-ARGS...]: runs the
# steps in order, keeps their lines in $BENCH_WORK/steps.LABEL (spaces as
# _) and prints the highest passing step's line ("0" if none passed).
bench_ramp() {
  label=$1 port=$2 secs=$3 scen=$4 rates=$5
  shift 5
  log="$BENCH_WORK/steps.$(echo "$label" | tr ' =' '__')"
  best=0
  for r in $rates; do
    line=$(bench_step "$port" "$r" "$secs" "$scen" "$@")
    echo "$line" >>"$log"
    echo "  $label: rate $line" >&2
    case "$line" in *PASS*) best=$line ;; *) break ;; esac
  done
  echo "$best"
}

bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
