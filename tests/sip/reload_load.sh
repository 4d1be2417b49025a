#!/usr/bin/env bash
# Live changes under load: while SIPp runs a steady call load through the
# proxy (the callee rings 300 ms, so transactions are always in flight),
# the script is swapped twice and a module is unloaded and loaded back.
# Every call must succeed: no failed call, no lost transaction.
. "${TZ_TESTDIR}/sip/lib.sh"
need sipp

S="$TZ_TESTDIR/sip/scenarios"
set -- $(ports 4)
P=$1 HP=$2 U=$3 C=$4
CTL="$TZ_WORK/ctl.sock"
CFG="$TZ_WORK/ctl.cfg"

control_cfg A
tz_start tz "$CFG" -l "udp:127.0.0.1:$P"
st=$(sip_register "$P" bob "sip:bob@127.0.0.1:$U")
[ "$st" = 200 ] || fail "REGISTER: $st"

CALLS=300
sipp -sf "$S/call_uas_slow.xml" -i 127.0.0.1 -p "$U" -m "$CALLS" -nostdin -timeout 60 \
  >"$TZ_WORK/uas.out" 2>&1 &
UAS=$!
TZ_PIDS="$TZ_PIDS $UAS"
wait_udp "$U"
sipp -sf "$S/call_uac_rr.xml" -s bob -i 127.0.0.1 -p "$C" -r 30 -m "$CALLS" -nostdin \
  -timeout 60 -trace_stat -stf "$TZ_WORK/uac.csv" -fd 1 "127.0.0.1:$P" >"$TZ_WORK/uac.out" 2>&1 &
UAC=$!
TZ_PIDS="$TZ_PIDS $UAC"

sleep 2
control_cfg B '/# testmod$/d'
ctl script reload >/dev/null || fail "reload to B"
sleep 1.5
ctl module unload testmod >/dev/null || fail "unload testmod under load"
sleep 1.5
ctl module load testmod >/dev/null || fail "load testmod under load"
sleep 1.5
control_cfg A
ctl script reload >/dev/null || fail "reload back to A"
gen=$(ctl --json version | sed 's/.*"generation":\([0-9]*\).*/\1/')
[ "$gen" = 5 ] || fail "expected generation 5 after four changes, got $gen"

calls_all_ok "$UAC" "$UAS" "$CALLS"
pass "$CALLS calls under two script swaps and a module unload/load: 0 failed"
tz_stop "$TZ_PID" || fail "stop: status $?"
