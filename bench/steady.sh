#!/usr/bin/env bash
# A fixed call rate held long enough to reach steady state, with what the
# server says about itself every 5 s: loop lag and stalls, kernel drops on
# its UDP socket, transactions in flight, CPU seconds used and PSS. The seed
# flow with record-routing (RR=0: without), SIPp caller and callee on the
# same machine; at the end the calls that succeeded, failed and were
# retransmitted, and the PSS range once the 32 s transaction hold is full.
# trapezoid only (bench/calls.sh has Kamailio beside it).
# With CHURN=N, every N seconds the script is reloaded and the sanity module
# unloaded and loaded again, under the load (the live-change soak).
# Usage: bench/steady.sh RATE SECONDS   (env: RR, CHURN, UDP_RCVBUF: bytes, 0 = kernel's;
#   WRAP: a command prefix for the server, e.g. "env LD_PRELOAD=...";
#   BENCH_CPU: the server's CPU budget in cores, lib.sh;
#   SETTINGS: more "name=value" lines for the server's configuration;
#   MASSIF=FILE: run the server under valgrind's massif, heap profile to FILE
#   and its peak printed by ms_print at the end -- keep RATE near 50/s there)
. "$(dirname "$0")/lib.sh"
rate=${1:?usage: bench/steady.sh RATE SECONDS}
secs=${2:?usage: bench/steady.sh RATE SECONDS}
S="$top/tests/sip/scenarios"
bench_build || exit 1
bench_budget || exit 1
cc -O2 -o "$BENCH_WORK/sipsend" "$top/tests/tools/sipsend.c"

port=$(bench_port) uas_port=$(bench_port)
{ echo "udp_rcvbuf=${UDP_RCVBUF:-4194304}"
  printf '%s\n' "${SETTINGS:-}"
  [ -n "${CHURN:-}" ] && echo 'loadmodule "sanity"'
  sed -e "s#@DB@#$BENCH_WORK/tz.db#" -e "s#@RR@#${RR:-1}#" "$top/bench/proxy-tz.cfg.in"
} >"$BENCH_WORK/tz.cfg"
wrap="${WRAP:-}"
[ -n "${MASSIF:-}" ] && wrap="valgrind --tool=massif --depth=12 --soname-synonyms=somalloc=*jemalloc* --massif-out-file=$MASSIF"
$(bench_confine) $wrap "$TZ_BIN" -D -E -f "$BENCH_WORK/tz.cfg" -L "$TZ_MODS" -l "udp:127.0.0.1:$port" \
  -s "$BENCH_WORK/ctl" >"$BENCH_WORK/tz.log" 2>&1 &
tz=$!
BENCH_PIDS="$BENCH_PIDS $tz" BENCH_SERVER=$tz
bench_wait_udp "$port" || bench_wait_udp "$port" || { echo "trapezoid did not start" >&2; exit 1; }
printf 'REGISTER sip:example.test SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-s%s\nMax-Forwards: 70\nFrom: <sip:bob@example.test>;tag=b\nTo: <sip:bob@example.test>\nCall-ID: steady-bob-%s\nCSeq: 1 REGISTER\nContact: <sip:bob@127.0.0.1:%s>\nExpires: 3600\nContent-Length: 0\n\n' \
  "$RANDOM" "$RANDOM" "$uas_port" | sed 's/$/\r/' | "$BENCH_WORK/sipsend" 127.0.0.1 "$port" |
  head -n 1 | grep -q "^SIP/2.0 200" || { echo "REGISTER failed" >&2; exit 1; }
all_drops0=$(bench_all_drops)
sipp -sf "$S/call_uas.xml" -i 127.0.0.1 -p "$uas_port" -nostdin -timeout 3600 $(bench_sipp_buf) \
  -trace_err -error_file "$BENCH_WORK/uas_errors.log" >/dev/null 2>&1 &
BENCH_PIDS="$BENCH_PIDS $!"
scen="$S/call_uac_rr.xml"
[ "${RR:-1}" = 0 ] && scen="$S/call_uac_direct.xml"
stat="$BENCH_WORK/stat"
bench_callers "$stat" "$rate" $((rate * secs)) $((secs + 60)) "$scen" "127.0.0.1:$port" -s bob &
uac=$!
BENCH_PIDS="$BENCH_PIDS $uac"

# CPU seconds the server has used (user + system), from /proc
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$tz/stat"; }
# the server's own counters, as JSON
tzctl() { "$(dirname "$TZ_BIN")/../tools/tzctl" -s "$BENCH_WORK/ctl" "$@"; }
sample() { tzctl --json stats; }
# One live change: a reload and a module unload/load; prints the refusals.
churn() {
  tzctl script reload >/dev/null || echo "churn: reload refused at t=${t}s"
  tzctl module unload sanity >/dev/null || echo "churn: unload refused at t=${t}s"
  tzctl module load sanity >/dev/null || echo "churn: load refused at t=${t}s"
}
changes=0 pss_lo="" pss_hi=0
echo "rate $rate/s for ${secs}s, record-route ${RR:-1}, udp_rcvbuf ${UDP_RCVBUF:-4194304}"
# Sampling goes on 35 s past the load: the transactions' 32 s hold ends then.
# t is wall-clock seconds since the load began (a sample itself takes time).
t=0 start=$SECONDS next_churn=${CHURN:-0}
while kill -0 "$uac" 2>/dev/null || [ "$t" -lt $((secs + 35)) ]; do
  sleep 5
  t=$((SECONDS - start))
  s=$(sample | tr ',{}' '\n\n\n')
  g() { printf '%s\n' "$s" | sed -n "s/.*\"$1\":\([0-9-]*\).*/\1/p"; }
  p=$(bench_pss_mb)
  echo "t=${t}s loop_lag_ms=$(g core.loop_lag_ms) stalls=$(g core.loop_stalls)" \
    "udp_drops=$(g sip.udp.drops) inflight=$(g tm.inflight)" \
    "cpu_s=$(cpu_s) pss_mb=$p" \
    "requests_per_worker=$(printf '%s\n' "$s" | sed -n 's/.*"core.worker.[0-9]*.requests":\([0-9]*\).*/\1/p' | paste -sd/)"
  # PSS under load: from 45 s (the 32 s hold is full) while the callers run.
  if [ "$t" -ge 45 ] && kill -0 "$uac" 2>/dev/null; then
    { [ -z "$pss_lo" ] || [ "$p" -lt "$pss_lo" ]; } && pss_lo=$p
    [ "$p" -gt "$pss_hi" ] && pss_hi=$p
  fi
  if [ "${CHURN:-0}" -gt 0 ] && [ "$t" -ge "$next_churn" ] && kill -0 "$uac" 2>/dev/null; then
    churn
    changes=$((changes + 1)) next_churn=$((next_churn + CHURN))
  fi
done
[ -n "$pss_lo" ] || pss_lo=- pss_hi=-
echo "PSS from 45 s while the callers ran: $pss_lo to $pss_hi MB; live changes: $changes"
read -r ok bad rtx <<<"$(bench_sum "$stat")"
echo "calls ok $ok failed $bad retransmissions $rtx ($BENCH_CALLERS callers)"
echo "kernel receive-buffer drops: server $(bench_drops), all UDP sockets $(($(bench_all_drops) - all_drops0))"
# Why calls failed, as caller and callee saw it: their error lines with
# the Call-IDs taken out, counted; KEEP=DIR keeps both logs and the server's.
[ -z "${KEEP:-}" ] || cp "$BENCH_WORK/tz.log" "$KEEP/"
cat "$stat".*.err >"$BENCH_WORK/uac_errors.log" 2>/dev/null
for side in uac uas; do
  sed -E "s/'[^']*'/'...'/g; s/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+//" \
    "$BENCH_WORK/${side}_errors.log" 2>/dev/null | grep -E "call|message|timeout" |
    sort | uniq -c | sort -rn | head -n 4 | sed "s/^/$side: /"
  [ -z "${KEEP:-}" ] || cp "$BENCH_WORK/${side}_errors.log" "$KEEP/" 2>/dev/null
done
if [ -n "${MASSIF:-}" ]; then
  kill -TERM "$tz"
  wait "$tz"
  ms_print "$MASSIF" | sed -n '/^ *n *time/,$p' | head -n 120
fi
