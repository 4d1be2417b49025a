#!/usr/bin/env bash
# Workers (workers=2): every worker binds the listen port (SO_REUSEPORT)
# and a port of its own for its Via, so the kernel spreads callers over
# them and each callee's responses come back to the worker that holds the
# transaction. A caller with one socket per call (many source ports) must
# reach both workers, every call must complete, also across two script
# reloads while calls are in flight, and a second server on the same port
# must be refused as a plain bind would be.
. "${TZ_TESTDIR}/sip/lib.sh"
need sipp

S="$TZ_TESTDIR/sip/scenarios"
set -- $(ports 3)
P=$1 U=$2 C=$3
CTL="$TZ_WORK/ctl.sock"
CFG="$TZ_WORK/w.cfg"
workers_cfg() {
  cat >"$CFG" <<CFG
workers=2
debug=2
ctl_socket="$CTL"
request_route {
    if (is_method("ACK")) exit;
    \$du = "sip:127.0.0.1:$U";
    t_relay();
}
reply_route { log("$1 \$rs"); }
CFG
}
ctl() { "$TZ_TZCTL" -s "$CTL" "$@"; }
counter() { ctl stats | awk -v k="$1" '$1 == k {print $2}'; }

workers_cfg A
tz_start tz "$CFG" -l "udp:127.0.0.1:$P"
grep -q "2 workers" "$TZ_WORK/tz.log" || fail "not serving with 2 workers"
[ "$(grep -c "0100007F:$(printf '%04X' "$P") " /proc/net/udp)" = 2 ] ||
  fail "the listen port is not bound once per worker"

# A second server on the same port: refused, not silently sharing it.
"$TZ_BIN" -D -E -f "$CFG" -L "$TZ_MODDIR" -s "$TZ_WORK/ctl2.sock" \
  -l "udp:127.0.0.1:$P" >"$TZ_WORK/second.log" 2>&1 &
SECOND=$!
TZ_PIDS="$TZ_PIDS $SECOND"
wait "$SECOND" && fail "a second server bound the same port"
grep -q "Address already in use" "$TZ_WORK/second.log" ||
  fail "second server: $(tail -2 "$TZ_WORK/second.log")"
pass "a second server on the port is refused: $(grep -o 'cannot listen.*' "$TZ_WORK/second.log")"

CALLS=400
sipp -sf "$S/call_uas.xml" -i 127.0.0.1 -p "$U" -m "$CALLS" -nostdin -timeout 60 \
  >"$TZ_WORK/uas.out" 2>&1 &
UAS=$!
TZ_PIDS="$TZ_PIDS $UAS"
wait_udp "$U"
sipp -sf "$S/call_uac_direct.xml" -s bob -i 127.0.0.1 -p "$C" -t un -max_socket 1000 -r 80 -m "$CALLS" \
  -nostdin -timeout 60 -trace_stat -stf "$TZ_WORK/uac.csv" -fd 1 "127.0.0.1:$P" \
  >"$TZ_WORK/uac.out" 2>&1 &
UAC=$!
TZ_PIDS="$TZ_PIDS $UAC"
sleep 1.5
workers_cfg B
ctl script reload >/dev/null || fail "reload to B"
sleep 1.5
workers_cfg A
ctl script reload >/dev/null || fail "reload back to A"

calls_all_ok "$UAC" "$UAS" "$CALLS"
w0=$(counter core.worker.0.requests) w1=$(counter core.worker.1.requests)
[ "${w0:-0}" -gt 0 ] && [ "${w1:-0}" -gt 0 ] ||
  fail "the kernel did not spread callers: worker 0 ran $w0 requests, worker 1 $w1"
grep -q " B 200" "$TZ_WORK/tz.log" || fail "no call ran under the reloaded script"
pass "$CALLS calls over 2 workers ($w0 and $w1 requests) across two reloads: 0 failed"
tz_stop "$TZ_PID" || fail "stop: status $?"
pass "stopped cleanly"
