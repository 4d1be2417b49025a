#!/usr/bin/env bash
# MUSTs that peers and interop suites check, against the running server:
# Proxy-Require -> 420 listing every unsupported tag (never forwarded);
# append_to_reply() on stateless, module and suspended replies; RFC 3581
# received with rport on our replies and on relayed responses; messages
# over max_msg_size (TCP 513 and close, UDP dropped); RFC 3261 10.3 step 7
# (only a retransmission may repeat a CSeq); use_domain 0 (a call to
# bob@<proxy IP> finds bob@example.test); best-response selection (6xx
# wins, lowest class, 503 -> 500) and merged 401/407 challenges from two
# forked branches, with SIPp callees; header text kept from the wire (a Via
# line with two values; append_hf extending a Supported list).
. "${TZ_TESTDIR}/sip/lib.sh"
need sipp

S="$TZ_TESTDIR/sip/scenarios"
set -- $(ports 3)
P=$1 UA=$2 UB=$3
CTL="$TZ_WORK/ctl.sock"
sed -e "s#@DB@#$TZ_WORK/c.db#" "$TZ_TESTDIR/sip/scripts/conformance.cfg.in" >"$TZ_WORK/c.cfg"
tz_start tz "$TZ_WORK/c.cfg" -l "127.0.0.1:$P" -s "$CTL"
send() { "$TZ_TOOLS/sipsend" -w 3000 "$@" 127.0.0.1 "$P" | tr -d '\r'; }
first_line() { head -n 1; }

# ---- 1. Proxy-Require ---------------------------------------------------------
out=$(sip_msg OPTIONS "$P" UDP 'Proxy-Require: foo, sec-agree
Proxy-Require: bar' | send)
printf '%s\n' "$out" | first_line | grep -q '^SIP/2.0 420 Bad Extension' ||
  fail "Proxy-Require foo, bar: $out"
printf '%s\n' "$out" | grep -q '^Unsupported: foo, bar$' || fail "420 without 'Unsupported: foo, bar': $out"
out=$(sip_msg OPTIONS "$P" UDP 'Proxy-Require: sec-agree' | send | first_line)
[ "$out" = "SIP/2.0 200 OK" ] || fail "a supported Proxy-Require tag got '$out'"
out=$(sip_msg OPTIONS "$P" UDP 'Require: foo' | send | first_line)
[ "$out" = "SIP/2.0 200 OK" ] || fail "Require (end to end) at the proxy got '$out'"
pass "Proxy-Require: 420 with every unsupported tag in Unsupported; supported tags and Require pass"

# ---- 2. append_to_reply ---------------------------------------------------------
out=$(sip_msg OPTIONS "$P" | sed 's/sip:bob@/sip:hdr@/' | send)
printf '%s\n' "$out" | grep -q '^X-Test: one$' || fail "append_to_reply: no X-Test: $out"
printf '%s\n' "$out" | grep -q '^X-Other: OPTIONS for 127.0.0.1$' || fail "append_to_reply: no X-Other: $out"
out=$(sip_msg INVITE "$P" | sed 's/sip:bob@/sip:nobody@/' | send)
printf '%s\n' "$out" | grep -q '^X-Lookup: none$' || fail "404 without the appended header: $out"

# ---- 3. RFC 3581: received even when it equals sent-by --------------------------
via=$(sip_msg OPTIONS "$P" | sed 's/127.0.0.1:9;rport/127.0.0.1;rport/' | send | grep '^Via:')
case "$via" in
*"received=127.0.0.1"*) ;; *) fail "our reply's Via has no received: $via" ;; esac
printf '%s\n' "$via" | grep -q 'rport=[0-9]' || fail "our reply's Via has no rport value: $via"
pass "append_to_reply on sl_reply; our replies carry rport=PORT and received=IP"

# ---- 5 and 6. the registrar: CSeq (10.3 step 7), use_domain 0 ---------------------
reg() { # CALLID CSEQ BRANCH [EXPIRES]: a REGISTER of bob@example.test, prints its response
  printf 'REGISTER sip:example.test SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-%s\nMax-Forwards: 70\nFrom: <sip:bob@example.test>;tag=r1\nTo: <sip:bob@example.test>\nCall-ID: %s\nCSeq: %s REGISTER\nContact: <sip:bob@127.0.0.1:%s>;expires=%s\nContent-Length: 0\n\n' \
    "$3" "$1" "$2" "$UA" "${4:-300}" | sed 's/$/\r/' | send
}
out=$(reg cseq-1 5 b1)
printf '%s\n' "$out" | first_line | grep -q '^SIP/2.0 200' || fail "REGISTER CSeq 5: $out"
printf '%s\n' "$out" | grep -q '^X-Registrar: conformance$' || fail "the registrar's (suspended) 200 lacks the appended header: $out"
pass "append_to_reply on a module's reply after the database commit"
out=$(reg cseq-1 5 b1 | first_line)
[ "$out" = "SIP/2.0 200 OK" ] || fail "a retransmission (same branch, same CSeq) got '$out'"
out=$(reg cseq-1 5 b2 0 | first_line)
case "$out" in "SIP/2.0 500"*) ;; *) fail "a new REGISTER with an equal CSeq got '$out'" ;; esac
out=$(reg cseq-1 4 b3 0 | first_line)
case "$out" in "SIP/2.0 500"*) ;; *) fail "a new REGISTER with a lower CSeq got '$out'" ;; esac
"$TZ_TZCTL" -s "$CTL" location show bob | grep -q "sip:bob@127.0.0.1:$UA" ||
  fail "the binding changed after refused REGISTERs: $("$TZ_TZCTL" -s "$CTL" location show)"
out=$(reg cseq-1 6 b4 | first_line)
[ "$out" = "SIP/2.0 200 OK" ] || fail "a higher CSeq got '$out'"
pass "10.3 step 7: retransmission 200; equal CSeq in a new transaction 500, lower 500, nothing changed; higher 200"

# ---- best response, merged challenges, received on relayed responses -------------
uas() { # NAME PORT "STATUS REASON" HDR
  sipp -sf "$S/reject_uas.xml" -i 127.0.0.1 -p "$2" -m 1 -nostdin -timeout 15 -timeout_error \
    -key status "SIP/2.0 $3" -key hdr "$4" >"$TZ_WORK/$1.out" 2>&1 &
  TZ_PIDS="$TZ_PIDS $!"
  eval "PID_$1=$!"
  wait_udp "$2"
}
ringing() { # NAME PORT: rings until cancelled
  sipp -sf "$S/cancel_uas.xml" -i 127.0.0.1 -p "$2" -m 1 -nostdin -timeout 15 -timeout_error \
    >"$TZ_WORK/$1.out" 2>&1 &
  TZ_PIDS="$TZ_PIDS $!"
  eval "PID_$1=$!"
  wait_udp "$2"
}
wait_uas() { pid=$(eval echo "\$PID_$1"); wait "$pid" || fail "callee $1: $(tail -5 "$TZ_WORK/$1.out")"; }
register2() { # USER: contacts at UA and UB
  for port in $UA $UB; do
    st=$(sip_register "$P" "$1" "sip:$1@127.0.0.1:$port" "reg-$1-$port")
    [ "$st" = 200 ] || fail "REGISTER $1 at :$port got '$st'"
  done
}
# use_domain 0: the Request-URI names the proxy's address, not example.test
invite() { sip_msg INVITE "$P" | sed "s/sip:bob@/sip:$1@/" | send -w 8000; }
final_of() { grep '^SIP/2.0 [2-6]' | tail -n 1 | awk '{print $2}'; }

register2 six
uas six_a "$UA" "603 Decline" "X-Callee: a"
ringing six_b "$UB"
out=$(invite six)
[ "$(printf '%s\n' "$out" | final_of)" = 603 ] || fail "603 vs a ringing branch: $out"
via=$(printf '%s\n' "$out" | grep -m1 '^Via:')
case "$via" in *"received=127.0.0.1"*rport=[0-9]* | *rport=[0-9]*"received=127.0.0.1"*) ;;
*) fail "relayed response's Via lacks received/rport: $via" ;; esac
wait_uas six_a
wait_uas six_b
pass "6xx wins: 603 relayed, the ringing branch cancelled; relayed responses carry received and rport"

register2 low
uas low_a "$UA" "503 Unavailable" "X-Callee: a"
uas low_b "$UB" "486 Busy Here" "X-Callee: b"
st=$(invite low | final_of)
[ "$st" = 486 ] || fail "503 and 486: got '$st', want 486 (the lowest class)"
wait_uas low_a
wait_uas low_b
"$TZ_TZCTL" -s "$CTL" location remove low >/dev/null
st=$(sip_register "$P" one "sip:one@127.0.0.1:$UA" reg-one)
uas one_a "$UA" "503 Unavailable" "X-Callee: a"
st=$(invite one | final_of)
[ "$st" = 500 ] || fail "a lone 503: got '$st', want 500"
wait_uas one_a
pass "lowest class wins (486 over 503); a 503 goes upstream as 500"

# Header text kept as received (core/tportio.c): in a line "Via: ours, far"
# the proxy changes the first value (received, rport); neither value may be
# lost in its 100 Trying or in the relayed final response.
uas one_v "$UA" "486 Busy Here" "X-Callee: a"
out=$(sip_msg INVITE "$P" | sed -e 's/sip:bob@/sip:one@/' \
  -e 's#^\(Via: .*\)\r$#\1, SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK-far\r#' | send -w 8000)
for st in 100 486; do
  vias=$(printf '%s\n' "$out" | sed -n "/^SIP\/2.0 $st /,/^\$/p" | grep -i '^Via:')
  case "$vias" in *received=127.0.0.1*"192.0.2.7:5062;branch=z9hG4bK-far"*) ;;
  *) fail "the $st lost a value of the line 'Via: ours, far': $vias" ;; esac
done
wait_uas one_v
pass "a Via line with two values keeps both in the 100 Trying and in a relayed response"

# append_hf of a token list the request already has, on one line and on two:
# Sofia merges the new item into the received header without clearing its
# text, so trapezoid must print it again (sip/hdr.c); the callee echoes the
# Supported it got.
st=$(sip_register "$P" sup "sip:sup@127.0.0.1:$UA" reg-sup)
[ "$st" = 200 ] || fail "REGISTER sup got '$st'"
for lines in 'Supported: 100rel' 'Supported: 100rel
Supported: path'; do
  sipp -sf "$S/echo_supported_uas.xml" -i 127.0.0.1 -p "$UA" -m 1 -nostdin -timeout 15 \
    -timeout_error >"$TZ_WORK/sup.out" 2>&1 &
  TZ_PIDS="$TZ_PIDS $!" PID_sup=$!
  wait_udp "$UA"
  out=$(sip_msg INVITE "$P" UDP "$lines" | sed 's/sip:bob@/sip:sup@/' | send -w 8000)
  got=$(printf '%s\n' "$out" | sed -n '/^SIP\/2.0 486 /,/^$/p' | grep -i '^Supported:' | tr '\n' ' ')
  for item in 100rel timer; do
    [ "$(printf '%s' "$got" | grep -o "$item" | wc -l)" = 1 ] ||
      fail "append_hf(\"Supported: timer\") to '$lines': the callee got '$got'"
  done
  case "$lines" in *path*) [ "$(printf '%s' "$got" | grep -o path | wc -l)" = 1 ] ||
    fail "append_hf to two Supported lines: the callee got '$got'" ;; esac
  wait_uas sup
done
pass "append_hf adds to a Supported list on one line and on two: every item forwarded once"

register2 auth
uas auth_a "$UA" "401 Unauthorized" 'WWW-Authenticate: Digest realm="a.test", nonce="na"'
uas auth_b "$UB" "407 Proxy Authentication Required" 'Proxy-Authenticate: Digest realm="b.test", nonce="nb"'
out=$(invite auth)
st=$(printf '%s\n' "$out" | final_of)
case "$st" in 401 | 407) ;; *) fail "401 and 407: got '$st'" ;; esac
printf '%s\n' "$out" | grep -q '^WWW-Authenticate: Digest realm="a.test"' || fail "merged response lacks the 401's challenge: $out"
printf '%s\n' "$out" | grep -q '^Proxy-Authenticate: Digest realm="b.test"' || fail "merged response lacks the 407's challenge: $out"
wait_uas auth_a
wait_uas auth_b
pass "401 and 407 from two branches: one $st upstream with both challenges"

# ---- 4. messages over max_msg_size (16384 here) -------------------------------------
out=$("$TZ_TOOLS/sipstress" oversize -t -b 10000 127.0.0.1 "$P")
case "$out" in "SIP/2.0 200"*) ;; *) fail "a 10 KB OPTIONS over TCP got '$out'" ;; esac
out=$("$TZ_TOOLS/sipstress" oversize -t -b 20000 127.0.0.1 "$P")
case "$out" in "SIP/2.0 513"*"[closed]") ;; *) fail "a 20 KB OPTIONS over TCP got '$out', want 513" ;; esac
out=$("$TZ_TOOLS/sipstress" oversize -b 20000 127.0.0.1 "$P")
[ "$out" = silence ] || fail "a 20 KB datagram got '$out', want silence (dropped)"
n=$("$TZ_TZCTL" -s "$CTL" --json stats | tr ',' '\n' | grep -A1 '"sip.too_large"' | grep -o '[0-9]*' | head -n 1)
[ "${n:-0}" -ge 2 ] || fail "sip.too_large is '${n:-}', want >= 2"
st=$(sip_msg OPTIONS "$P" | "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" | status_of)
[ "$st" = 200 ] || fail "OPTIONS after oversize messages got '$st'"
pass "max_msg_size: 10 KB served, 20 KB over TCP 513, over UDP dropped; counted in sip.too_large"

tz_stop "$TZ_PID" || fail "stop: status $?"

# use_domain 1 (the default): bob@<proxy IP> is another AOR than bob@example.test
tz_start tz1 "$TZ_WORK/c.cfg" -l "127.0.0.1:$P" -o registrar.use_domain=1 \
  -o "location.db_path=$TZ_WORK/d1.db"
st=$(sip_register "$P" dom "sip:dom@127.0.0.1:$UA" reg-dom)
[ "$st" = 200 ] || fail "REGISTER with use_domain 1 got '$st'"
out=$(invite dom)
printf '%s\n' "$out" | grep -q '^X-Lookup: none$' || fail "use_domain 1 found dom@example.test for dom@127.0.0.1: $out"
tz_stop "$TZ_PID" || fail "stop: status $?"
pass "use_domain 0 finds bob@example.test for a call to bob@<proxy IP>; use_domain 1 does not"
pass "clean exits"
