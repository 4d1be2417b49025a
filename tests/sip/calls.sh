#!/usr/bin/env bash
# The seed call flow through the stateful proxy with real SIPp peers, in
# both record-route variants, and the RFC 3261 section 16 cases around it:
# CANCEL while ringing, Timer C, silent callee (408), unknown user (404),
# Max-Forwards 0 (483), a loop (482), parallel forking, serial forking
# through a failure route.
. "${TZ_TESTDIR}/sip/lib.sh"
need sipp

S="$TZ_TESTDIR/sip/scenarios"
set -- $(ports 6)
P=$1 U1=$2 U2=$3 VM=$4 C=$5 DEAD=$6

start_proxy() { # NAME RR [SETTING]
  { [ -z "${3:-}" ] || echo "$3"
    sed -e "s#@DB@#$TZ_WORK/$1.db#" -e "s#@RR@#$2#" -e "s#@PORT@#$P#" -e "s#@VMPORT@#$VM#" \
      "$TZ_TESTDIR/sip/scripts/proxy.cfg.in"; } >"$TZ_WORK/$1.cfg"
  tz_start "$1" "$TZ_WORK/$1.cfg" -l "udp:127.0.0.1:$P"
}

register() { # USER PORT [CALLID]
  st=$(sip_register "$P" "$1" "sip:$1@127.0.0.1:$2" "${3:-reg-$1-$2}")
  [ "$st" = 200 ] || fail "REGISTER $1 at :$2 got '$st'"
}

uas() { # NAME SCENARIO PORT [SIPP-ARGS...]: a callee in the background, one call
  n=$1 sf=$2 port=$3
  shift 3
  sipp -sf "$S/$sf" -i 127.0.0.1 -p "$port" -m 1 -nostdin -timeout 20 -timeout_error \
    -trace_msg -message_file "$TZ_WORK/$n.msg" "$@" >"$TZ_WORK/$n.out" 2>&1 &
  eval "PID_$n=$!"
  TZ_PIDS="$TZ_PIDS $!"
  wait_udp "$port"
}

uac() { # NAME SCENARIO USER
  sipp -sf "$S/$2" -s "$3" -i 127.0.0.1 -p "$C" -m 1 -nostdin -timeout 20 -timeout_error \
    -trace_msg -message_file "$TZ_WORK/$1.msg" "127.0.0.1:$P" >"$TZ_WORK/$1.out" 2>&1
}

wait_uas() { # NAME
  pid=$(eval echo "\$PID_$1")
  wait "$pid" || fail "callee $1 failed: $(tail -5 "$TZ_WORK/$1.out"; tail -30 "$TZ_WORK/$1.msg")"
}

in_dialog_count() { grep -c "in-dialog $1" "$TZ_WORK/$2.log"; }

# ---- record-route on: ACK and BYE pass through the proxy ----------------------
start_proxy rr 1
register bob "$U1"
uas bob1 call_uas.xml "$U1"
uac alice1 call_uac_rr.xml bob || fail "caller (record-route): $(tail -30 "$TZ_WORK/alice1.msg")"
wait_uas bob1
[ "$(in_dialog_count BYE rr)" = 1 ] || fail "BYE did not pass through the proxy"
[ "$(in_dialog_count ACK rr)" = 1 ] || fail "ACK did not pass through the proxy"
grep -q "^Record-Route: <sip:127.0.0.1:$P;lr>" "$TZ_WORK/bob1.msg" || fail "callee saw no Record-Route"
pass "record-route: INVITE/100/180/200/ACK/BYE/200 with ACK and BYE through the proxy"

# ---- CANCEL while ringing -------------------------------------------------------
uas bob2 cancel_uas.xml "$U1"
uac alice2 cancel_uac.xml bob || fail "caller (CANCEL): $(tail -30 "$TZ_WORK/alice2.msg")"
wait_uas bob2
pass "CANCEL during ringing: 200 for CANCEL, 487 for INVITE, ACK hop by hop"

# ---- 404, 483, 482, 408 ------------------------------------------------------------
st=$(sip_msg INVITE "$P" | sed 's#^INVITE sip:bob@127.0.0.1:[0-9]* #INVITE sip:nobody@example.test #' |
  "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" | status_of)
[ "$st" = 404 ] || fail "unknown user: got '$st'"
pass "unknown user -> 404"

st=$(sip_msg INVITE "$P" | sed -e 's#^INVITE sip:bob@127.0.0.1:[0-9]* #INVITE sip:bob@example.test #' \
  -e 's/^Max-Forwards: 70/Max-Forwards: 0/' | "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" | status_of)
[ "$st" = 483 ] || fail "Max-Forwards 0: got '$st'"
pass "Max-Forwards: 0 -> 483"

out=$(sip_msg INVITE "$P" | sed 's#^INVITE sip:bob@127.0.0.1:[0-9]* #INVITE sip:loop@example.test #' |
  "$TZ_TOOLS/sipsend" -w 3000 127.0.0.1 "$P")
st=$(printf '%s\n' "$out" | grep '^SIP/2.0 [2-6]' | head -1 | awk '{print $2}')
[ "$st" = 482 ] || fail "loop: got '$st': $out"
pass "a request looping back unchanged -> 482"

register slow "$U2"
uas slow silent_uas.xml "$U2"
st=$(sip_msg INVITE "$P" | sed 's#^INVITE sip:bob@127.0.0.1:[0-9]* #INVITE sip:slow@example.test #' |
  "$TZ_TOOLS/sipsend" -w 4000 127.0.0.1 "$P" | grep '^SIP/2.0 [2-6]' | head -1 | awk '{print $2}')
[ "$st" = 408 ] || fail "silent callee: got '$st'"
kill "$PID_slow" 2>/dev/null
pass "silent callee -> 408 after fr_timer"

# fails_fast USER WHAT: an INVITE to USER ends in nta's 503, relayed as
# 500, long before fr_timer (2 s).
fails_fast() {
  t0=$(date +%s%N)
  st=$(sip_msg INVITE "$P" | sed "s#^INVITE sip:bob@127.0.0.1:[0-9]* #INVITE sip:$1@example.test #" |
    "$TZ_TOOLS/sipsend" -w 4000 127.0.0.1 "$P" | grep '^SIP/2.0 [2-6]' | head -1 | awk '{print $2}')
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ "$st" = 500 ] && [ "$ms" -lt 1500 ] || fail "$2: got '$st' after $ms ms"
  pass "$2 -> 500 in $ms ms"
}

# Nobody on the callee's port: the kernel's ICMP error ends the branch at
# once; the pending error must not fail the next send on the socket
# (udpio.c), as the calls after this one show.
register gone "$DEAD"
fails_fast gone "unreachable callee (ICMP port unreachable)"

# A next hop the kernel refuses to send to at all (the script's broadcast
# $du; the socket has no SO_BROADCAST): the datagram waits in udpio.c's
# send queue until the loop rests, so the send's error reaches nta from
# there, as an ICMP error's does.
fails_fast bcast "a next hop the kernel cannot send to (EACCES)"

# ---- parallel forking: two contacts, one answers, the other is cancelled -----------
register fork "$U1" fork-a
register fork "$U2" fork-b
uas forka call_uas.xml "$U1"
uas forkb cancel_uas.xml "$U2"
uac alice3 call_uac_rr.xml fork || fail "caller (fork): $(tail -30 "$TZ_WORK/alice3.msg")"
wait_uas forka
wait_uas forkb
pass "parallel fork: both contacts ring, the first 200 wins, the other gets CANCEL"

# ---- serial forking: busy, then the failure route sends to voicemail --------------
register busy "$U1"
uas busy reject_uas.xml "$U1" -key status "SIP/2.0 486 Busy Here" -key hdr "X-Callee: busy"
uas vm call_uas.xml "$VM"
uac alice4 call_uac_rr.xml busy || fail "caller (voicemail): $(tail -30 "$TZ_WORK/alice4.msg")"
wait_uas busy
wait_uas vm
pass "486 from the callee -> failure_route relays to voicemail, call completes"

# A rejection after a provisional: the proxy's own INVITE transaction
# (ict.c) ACKs it with the INVITE's branch, and the failure route runs.
k=6
for ring in "180 Ringing" "100 Trying"; do
  uas busy$k ring_reject_uas.xml "$U1" -key ring "SIP/2.0 $ring" \
    -key status "SIP/2.0 486 Busy Here" -key hdr "X-Callee: busy"
  uas vm$k call_uas.xml "$VM"
  uac alice$k call_uac_rr.xml busy || fail "caller ($ring, busy): $(tail -30 "$TZ_WORK/alice$k.msg")"
  wait_uas busy$k
  wait_uas vm$k
  inv=$(grep -m1 -A1 "^INVITE" "$TZ_WORK/busy$k.msg" | sed -n 's/^Via: .*branch=//p')
  ack=$(grep -m1 -A1 "^ACK" "$TZ_WORK/busy$k.msg" | sed -n 's/^Via: .*branch=//p')
  [ -n "$inv" ] && [ "$inv" = "$ack" ] || fail "ACK for the 486 has branch '$ack', INVITE '$inv'"
  pass "$ring then 486 -> ACK on the INVITE's branch, failure_route to voicemail"
  k=$((k + 1))
done
tz_stop "$TZ_PID" || fail "stop: status $?"

# ---- Timer C: a call that rings past fr_inv_timer is cancelled ---------------------
start_proxy timerc 1 fr_inv_timer=1000
register bob "$U1"
uas bob8 cancel_uas.xml "$U1"
t0=$(date +%s%N)
uac alice8 ring_uac.xml bob || fail "caller (Timer C): $(tail -30 "$TZ_WORK/alice8.msg")"
ms=$((($(date +%s%N) - t0) / 1000000))
wait_uas bob8
[ "$ms" -ge 1000 ] && [ "$ms" -lt 3000 ] || fail "Timer C fired after $ms ms, fr_inv_timer 1000"
pass "ringing past fr_inv_timer (1 s): the proxy CANCELs the callee, the caller gets 487 ($ms ms)"
tz_stop "$TZ_PID" || fail "stop: status $?"

# ---- record-route off: ACK and BYE bypass the proxy -------------------------------
start_proxy norr 0
register bob "$U1"
uas bob5 call_uas.xml "$U1"
uac alice5 call_uac_direct.xml bob || fail "caller (direct): $(tail -30 "$TZ_WORK/alice5.msg")"
wait_uas bob5
[ "$(in_dialog_count BYE norr)" = 0 ] || fail "BYE went through the proxy without record-route"
[ "$(in_dialog_count ACK norr)" = 0 ] || fail "ACK went through the proxy without record-route"
grep -q "^Record-Route" "$TZ_WORK/bob5.msg" && fail "Record-Route present without the toggle"
pass "no record-route: ACK and BYE go UA to UA, bypassing the proxy"
tz_stop "$TZ_PID" || fail "stop: status $?"
