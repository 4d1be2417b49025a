#!/usr/bin/env bash
# Call throughput at steady state, one run, side by side: the seed flow
# (INVITE, 100, 180, 200, ACK, BYE, 200) through trapezoid and through
# Kamailio (tm t_relay, usrloc lookup), with record-routing on (ACK and BYE
# through the proxy) and off (they go UA to UA). SIPp caller and callee run
# on the same two cores as the proxy. Each target is ramped through RATES
# (calls/s), SECS seconds a step: 75 by default, longer than the 32 s both
# servers hold a finished transaction (RFC 3261 Timer D), so each step's
# second half is steady state. A step passes with at most 0.1% failed calls
# and retransmissions of at most 1% of the calls. For each step: the
# server's PSS (all its processes) 5 s before the step's end and its CPU
# time per call.
# Kamailio, at its best here: ramped once per number of UDP children in
# KAM_CHILDREN (default "1 N", N the machine's cores) and the best of those
# counts -- with SIPp on the same cores one child beat two without
# record-routing (6,000 calls/s against 4,000-5,000) --, 1 GB shared memory
# (-m 1024: the default 64 MB runs out near 2,000 calls/s), the same 4 MB UDP
# receive buffer trapezoid asks for (maxbuffer, bench/kamailio), no logging.
# trapezoid runs its defaults; the kernel's settings are untouched (BENCH_CPU
# makes a cgroup).
# Usage: bench/calls.sh   (env: RATES, SECS, KAM_CHILDREN="1 4", BENCH_ONLY=trapezoid|kamailio, BENCH_RR=0|1,
# TZ_BENCH_BUILD; TZ_SETTINGS: "name=value" lines for trapezoid, e.g.
# workers=1; BENCH_CALLERS, BENCH_CPU: a CPU budget for each server, lib.sh)
. "$(dirname "$0")/lib.sh"
RATES=${RATES:-"1000 1500 2000 2500 3000 3500"}
SECS=${SECS:-75}
KAM_CHILDREN=${KAM_CHILDREN:-$(printf '%s\n' 1 "$(nproc)" | sort -un)}
S="$top/tests/sip/scenarios"

bench_build || exit 1
bench_budget || exit 1
cc -O2 -o "$BENCH_WORK/sipsend" "$top/tests/tools/sipsend.c"

register_bob() { # PROXY-PORT CALLEE-PORT
  printf 'REGISTER sip:example.test SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-b%s\nMax-Forwards: 70\nFrom: <sip:bob@example.test>;tag=b\nTo: <sip:bob@example.test>\nCall-ID: bench-bob-%s\nCSeq: 1 REGISTER\nContact: <sip:bob@127.0.0.1:%s>\nExpires: 3600\nContent-Length: 0\n\n' \
    "$RANDOM" "$RANDOM" "$2" | sed 's/$/\r/' | "$BENCH_WORK/sipsend" 127.0.0.1 "$1" |
    head -n 1 | grep -q "^SIP/2.0 200"
}

# run_target LABEL RR PORT: the server is up on PORT; ramp one variant.
run_target() {
  label=$1 rr=$2 port=$3
  uas_port=$(bench_port)
  register_bob "$port" "$uas_port" || { echo "$label: REGISTER failed" >&2; echo 0; return; }
  sipp -sf "$S/call_uas.xml" -i 127.0.0.1 -p "$uas_port" -nostdin -timeout 3600 $(bench_sipp_buf) \
    >/dev/null 2>&1 &
  uas=$!
  BENCH_PIDS="$BENCH_PIDS $uas"
  scen="$S/call_uac_direct.xml"
  [ "$rr" = 1 ] && scen="$S/call_uac_rr.xml"
  bench_ramp "$label" "$port" "$SECS" "$scen" "$RATES" -s bob
  kill -TERM "$uas" 2>/dev/null; wait "$uas" 2>/dev/null
}

trapezoid() { # RR
  port=$(bench_port)
  { printf '%s\n' "${TZ_SETTINGS:-}"
    sed -e "s#@DB@#$BENCH_WORK/tz$1.db#" -e "s#@RR@#$1#" "$top/bench/proxy-tz.cfg.in"
  } >"$BENCH_WORK/tz$1.cfg"
  $(bench_confine) "$TZ_BIN" -D -E -f "$BENCH_WORK/tz$1.cfg" -L "$TZ_MODS" -l "udp:127.0.0.1:$port" \
    >"$BENCH_WORK/tz$1.log" 2>&1 &
  pid=$!
  BENCH_PIDS="$BENCH_PIDS $pid" BENCH_SERVER=$pid
  bench_wait_udp "$port" || { echo "trapezoid did not start" >&2; kill -KILL "$pid"; echo 0; return; }
  run_target "trapezoid rr=$1" "$1" "$port"
  kill -TERM "$pid"; wait "$pid"
}

kamailio_proxy() { # RR CHILDREN
  port=$(bench_port)
  sed -e "s#@PORT@#$port#" -e "s#@RR@#$1#" -e "s#@CHILDREN@#$2#" \
    "$top/bench/kamailio/proxy.cfg.in" \
    >"$BENCH_WORK/kam$1.cfg"
  $(bench_confine) kamailio -f "$BENCH_WORK/kam$1.cfg" -DD -E -m 1024 -M 64 -P "$BENCH_WORK/kam$1.pid" \
    >"$BENCH_WORK/kam$1.log" 2>&1 &
  pid=$!
  BENCH_PIDS="$BENCH_PIDS $pid" BENCH_SERVER=$pid
  bench_wait_udp "$port" || {
    echo "kamailio did not start" >&2; cat "$BENCH_WORK/kam$1.log" >&2; kill -KILL "$pid"; echo 0; return
  }
  run_target "kamailio rr=$1 children=$2" "$1" "$port"
  kill -TERM "$pid"; wait "$pid"
}

# kamailio_best RR: Kamailio's ramp for each count of children; prints the
# highest result line and keeps its count in kam_children.RR (on a tie, the
# first count in KAM_CHILDREN).
kamailio_best() {
  best=0
  for c in $KAM_CHILDREN; do
    line=$(kamailio_proxy "$1" "$c")
    line=${line:-0}
    if [ "${line%% *}" -gt "${best%% *}" ]; then best=$line; echo "$c" >"$BENCH_WORK/kam_children.$1"; fi
  done
  echo "$best"
}

echo "calls/s at <= 0.1% failures, ${SECS}s steps over: $RATES" >&2
# BENCH_ONLY=trapezoid: our side only (bench/compare.sh runs two builds);
# BENCH_ONLY=kamailio: Kamailio's only (a ramp that must start lower).
# BENCH_RR=0 or 1: only record-routing off, or only on.
only() {
  if { [ -n "${BENCH_ONLY:-}" ] && [ "$BENCH_ONLY" != "$1" ]; } ||
     { [ -n "${BENCH_RR:-}" ] && [ "$BENCH_RR" != "$3" ]; }; then
    echo 0
  else "$2" "$3"; fi
}
t1=$(only trapezoid trapezoid 1)
k1=$(only kamailio kamailio_best 1)
t0=$(only trapezoid trapezoid 0)
k0=$(only kamailio kamailio_best 0)
# A ramp's result line: RATE OK FAILED RETRANS VERDICT PSS-MB CPU-MS DROPS.
f() { echo "$1" | awk -v i="$2" '{ print (NF >= i) ? $i : "-" }'; }
# trapezoid's PSS at the rate Kamailio reached (the same step of its ramp).
pss_at() { # RR RATE
  awk -v r="$2" '$1 == r { print $6 }' "$BENCH_WORK/steps.trapezoid_rr_$1" 2>/dev/null | grep . || echo -
}
row() { # LABEL TZ-LINE KAM-LINE RR
  printf '%-22s %9s %9s %6s | %7s %7s %9s | %6s %6s | %6s %6s\n' "$1" "$(f "$2" 1)" "$(f "$3" 1)" \
    "$(bench_ratio "$(f "$2" 1)" "$(f "$3" 1)")" "$(f "$2" 6)" "$(f "$3" 6)" \
    "$(pss_at "$4" "$(f "$3" 1)")" "$(f "$2" 7)" "$(f "$3" 7)" "$(f "$2" 8)" "$(f "$3" 8)"
}
printf '%-22s %9s %9s %6s | %7s %7s %9s | %6s %6s | %6s %6s\n' "calls/s, steady" "trapezoid" "kamailio" \
  "ratio" "PSS MB" "(kam)" "(tz@kam)" "ms/call" "(kam)" "drops" "(kam)"
if [ "${BENCH_RR:-1}" = 1 ]; then row "record-route on" "$t1" "$k1" 1; fi
if [ "${BENCH_RR:-0}" = 0 ]; then row "record-route off" "$t0" "$k0" 0; fi
# What the harness leaves for a ratio per box, a model: if each ramp ends
# with the box's cores full, a server's rate is about cores / (others +
# server) per call, each with the others= measured beside it, so the ratio
# is about (Kamailio's others + ms) / (trapezoid's others + ms), and 1.5x
# needs trapezoid at (Kamailio's others + ms) / 1.5 - trapezoid's others.
# An estimate: others= per call falls a little as the rate rises (part of
# SIPp's cost is per second), and a ramp may end before the cores are full.
others() { printf '%s\n' "$1" | sed -n 's/.* others=\(-\{0,1\}[0-9][0-9.]*\) .*/\1/p'; }
ceiling() { # LABEL TZ-LINE KAM-LINE
  ot=$(others "$2") ok=$(others "$3")
  [ -n "$ot" ] && [ -n "$ok" ] && [ "$(f "$2" 7)" != - ] && [ "$(f "$3" 7)" != - ] || return 0
  awk -v l="$1" -v ot="$ot" -v ok="$ok" -v t="$(f "$2" 7)" -v k="$(f "$3" 7)" 'BEGIN {
    need = (ok + k) / 1.5 - ot
    printf "per box, %s: everything but the server %.3f ms/call beside trapezoid, %.3f beside " \
      "Kamailio; both filling the cores, ratio ~ %.2f; ", l, ot, ok, (ok + k) / (ot + t)
    if (need > 0) printf "1.5x needs trapezoid at <= %.3f ms/call\n", need
    else print "1.5x is out of reach whatever trapezoid costs" }'
}
if [ -z "${BENCH_CPU:-}" ]; then
  if [ "${BENCH_RR:-1}" = 1 ]; then ceiling "record-route on" "$t1" "$k1"; fi
  if [ "${BENCH_RR:-0}" = 0 ]; then ceiling "record-route off" "$t0" "$k0"; fi
fi
for rr in 1 0; do
  [ -f "$BENCH_WORK/kam_children.$rr" ] &&
    echo "Kamailio's best with record-route $rr: children=$(cat "$BENCH_WORK/kam_children.$rr")"
done
