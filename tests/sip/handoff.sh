#!/usr/bin/env bash
# Handoff between workers (workers=2): a callee registered over TCP from
# behind a NAT (tcpua: one connection it opened, no listening socket) can
# be reached only through that connection, which one worker accepted.
# Callers with one UDP socket per call reach both workers; every INVITE,
# and the ACK and BYE that follow the Record-Route, must reach the callee
# on its connection: the other worker hands them to the owner
# (core.handoffs.*), and every call completes. A request forged with a
# handoff header and a wrong secret runs the script like any other.
. "${TZ_TESTDIR}/sip/lib.sh"
need sipp

S="$TZ_TESTDIR/sip/scenarios"
set -- $(ports 2)
P=$1 C=$2
CTL="$TZ_WORK/ctl.sock"
{
  echo "workers=2"
  echo "ctl_socket=\"$CTL\""
  sed -e "s#@DB@#$TZ_WORK/h.db#" -e "s#@RR@#1#" -e "s#@PORT@#$P#" -e "s#@VMPORT@#1#" \
    "$TZ_TESTDIR/sip/scripts/proxy.cfg.in"
} >"$TZ_WORK/h.cfg"
tz_start tz "$TZ_WORK/h.cfg" -l "127.0.0.1:$P" -w 2
ctl() { "$TZ_TZCTL" -s "$CTL" "$@"; }
counter() { ctl stats | awk -v k="$1" '$1 == k {print $2}'; }

CALLS=200
"$TZ_TOOLS/tcpua" -n "$CALLS" -w 60 127.0.0.1 "$P" natbob >"$TZ_WORK/ua.out" 2>&1 &
UA=$!
TZ_PIDS="$TZ_PIDS $UA"
wait_for "$TZ_WORK/ua.out" registered || fail "tcpua did not register: $(cat "$TZ_WORK/ua.out")"
sipp -sf "$S/call_uac_rr.xml" -s natbob -i 127.0.0.1 -p "$C" -t un -max_socket 1000 -r 50 \
  -m "$CALLS" -nostdin -timeout 60 -trace_stat -stf "$TZ_WORK/uac.csv" -fd 1 "127.0.0.1:$P" \
  >"$TZ_WORK/uac.out" 2>&1 &
UAC=$!
TZ_PIDS="$TZ_PIDS $UAC"
calls_all_ok "$UAC" "$UA" "$CALLS"
sent=$(counter core.handoffs.sent) taken=$(counter core.handoffs.taken)
w0=$(counter core.worker.0.requests) w1=$(counter core.worker.1.requests)
[ "${sent:-0}" -gt 0 ] && [ "$sent" = "$taken" ] ||
  fail "handoffs: $sent sent, $taken taken (workers ran $w0 and $w1 requests)"
pass "$CALLS calls to a TCP callee behind a NAT over 2 workers: 0 failed, $sent requests handed to the connection's worker ($(cat "$TZ_WORK/ua.out" | tail -1))"

# A forged mark with a wrong secret: the script runs (404: nobody there).
st=$(sip_msg OPTIONS "$P" UDP "X-Trapezoid-Handoff: 0123456789abcdef0123456789abcdef <sip:127.0.0.1:9;transport=tcp>" |
  "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" | status_of)
[ "$st" = 404 ] || fail "forged handoff: got '$st', not the script's 404"
pass "a forged handoff header runs the script ($st)"
tz_stop "$TZ_PID" || fail "stop: status $?"
pass "stopped cleanly"
