#!/usr/bin/env bash
# Transports: a call that comes in over UDP and leaves over TCP (the
# callee registered with ;transport=tcp), and one that comes in over IPv6
# and leaves over IPv4. Each gets two Record-Route entries (RFC 5658
# r2=on), and the in-dialog ACK and BYE find their way back through both.
. "${TZ_TESTDIR}/sip/lib.sh"
need sipp

S="$TZ_TESTDIR/sip/scenarios"
set -- $(ports 4)
P=$1 U=$2 C=$3 U2=$4
P6=$(ports -6 1) || { echo "SKIP: no IPv6 loopback"; exit 77; }

sed -e "s#@DB@#$TZ_WORK/t.db#" -e "s#@RR@#1#" -e "s#@PORT@#$P#" -e "s#@VMPORT@#1#" \
  "$TZ_TESTDIR/sip/scripts/proxy.cfg.in" >"$TZ_WORK/t.cfg"
tz_start tz "$TZ_WORK/t.cfg" -l "127.0.0.1:$P" -l "[::1]:$P6"

register() { # USER CONTACT
  st=$(sip_register "$P" "$1" "$2")
  [ "$st" = 200 ] || fail "REGISTER $1 got '$st'"
}

# ---- UDP in, TCP out --------------------------------------------------------------
register tcpbob "sip:tcpbob@127.0.0.1:$U;transport=tcp"
sipp -sf "$S/call_uas_tcp.xml" -t t1 -i 127.0.0.1 -p "$U" -m 1 -nostdin -timeout 20 \
  -timeout_error -trace_msg -message_file "$TZ_WORK/tcpbob.msg" >"$TZ_WORK/tcpbob.out" 2>&1 &
UAS=$!
TZ_PIDS="$TZ_PIDS $UAS"
wait_tcp "$U"
sipp -sf "$S/call_uac_rr.xml" -s tcpbob -i 127.0.0.1 -p "$C" -m 1 -nostdin -timeout 20 \
  -timeout_error -trace_msg -message_file "$TZ_WORK/alice1.msg" "127.0.0.1:$P" \
  >"$TZ_WORK/alice1.out" 2>&1 || fail "UDP caller: $(tail -30 "$TZ_WORK/alice1.msg")"
wait "$UAS" || fail "TCP callee: $(tail -30 "$TZ_WORK/tcpbob.msg")"
grep -q "^Record-Route: <sip:127.0.0.1:$P;transport=tcp;lr;r2=on>" "$TZ_WORK/tcpbob.msg" ||
  fail "no TCP-side Record-Route at the callee: $(grep -m2 Record-Route "$TZ_WORK/tcpbob.msg")"
grep -q "^Record-Route: <sip:127.0.0.1:$P;lr;r2=on>" "$TZ_WORK/tcpbob.msg" ||
  fail "no UDP-side Record-Route at the callee"
grep -q "^BYE sip:bob@127.0.0.1:$U;transport=tcp SIP/2.0" "$TZ_WORK/tcpbob.msg" ||
  fail "the BYE did not reach the TCP callee through the proxy"
pass "UDP caller -> TCP callee: call completes, double Record-Route, BYE over TCP"

# ---- IPv6 in, IPv4 out ------------------------------------------------------------
register v4bob "sip:v4bob@127.0.0.1:$U2"
sipp -sf "$S/call_uas.xml" -i 127.0.0.1 -p "$U2" -m 1 -nostdin -timeout 20 -timeout_error \
  -trace_msg -message_file "$TZ_WORK/v4bob.msg" >"$TZ_WORK/v4bob.out" 2>&1 &
UAS=$!
TZ_PIDS="$TZ_PIDS $UAS"
wait_udp "$U2"
sipp -sf "$S/call_uac_rr.xml" -s v4bob -i ::1 -p "$C" -m 1 -nostdin -timeout 20 \
  -timeout_error -trace_msg -message_file "$TZ_WORK/alice2.msg" "[::1]:$P6" \
  >"$TZ_WORK/alice2.out" 2>&1 || fail "IPv6 caller: $(tail -30 "$TZ_WORK/alice2.msg")"
wait "$UAS" || fail "IPv4 callee: $(tail -30 "$TZ_WORK/v4bob.msg")"
grep -q "^Record-Route: <sip:\[::1\]:$P6;lr;r2=on>" "$TZ_WORK/v4bob.msg" ||
  fail "no IPv6-side Record-Route: $(grep -m2 Record-Route "$TZ_WORK/v4bob.msg")"
grep -q "^Via: SIP/2.0/UDP \[::1\]" "$TZ_WORK/v4bob.msg" || fail "caller's IPv6 Via not kept"
pass "IPv6 caller -> IPv4 callee: call completes, double Record-Route"
tz_stop "$TZ_PID" || fail "stop: status $?"
