#!/usr/bin/env bash
# OPTIONS answered by the script's sl_reply(200) over UDP, TCP and IPv6,
# seen by real peers (sipsak, SIPp) and raw sockets; other methods get the
# script's 501; malformed input gets 400 or silence and the server lives on.
. "${TZ_TESTDIR}/sip/lib.sh"
need sipsak sipp

set -- $(ports 2)
P=$1 P6=$2
CFG="$TZ_TESTDIR/sip/scripts/options.cfg"
v6=""
if "$TZ_TOOLS/freeport" -6 >/dev/null 2>&1; then v6="-l [::1]:$P6"; fi
tz_start tz "$CFG" -l "127.0.0.1:$P" $v6
PID=$TZ_PID

sipsak -v -s "sip:ping@127.0.0.1:$P" >"$TZ_WORK/sipsak-udp.out" 2>&1 ||
  fail "sipsak OPTIONS over UDP: $(cat "$TZ_WORK/sipsak-udp.out")"
grep -q "200 OK" "$TZ_WORK/sipsak-udp.out" || fail "no 200 over UDP"
pass "sipsak OPTIONS over UDP -> 200"

sipsak -v -E tcp -s "sip:ping@127.0.0.1:$P" >"$TZ_WORK/sipsak-tcp.out" 2>&1 ||
  fail "sipsak OPTIONS over TCP: $(cat "$TZ_WORK/sipsak-tcp.out")"
grep -q "200 OK" "$TZ_WORK/sipsak-tcp.out" || fail "no 200 over TCP"
pass "sipsak OPTIONS over TCP -> 200"

if [ -n "$v6" ]; then
  st=$(sip_msg OPTIONS "$P6" | "$TZ_TOOLS/sipsend" -6 ::1 "$P6" | status_of)
  [ "$st" = 200 ] || fail "OPTIONS over IPv6 UDP got '$st'"
  st=$(sip_msg OPTIONS "$P6" TCP | "$TZ_TOOLS/sipsend" -6 -t ::1 "$P6" | status_of)
  [ "$st" = 200 ] || fail "OPTIONS over IPv6 TCP got '$st'"
  pass "OPTIONS over IPv6 UDP and TCP -> 200"
fi

# SIPp as the client: 20 OPTIONS, every one must get its 200.
sipp -sf "$TZ_TESTDIR/sip/scenarios/options_uac.xml" -i 127.0.0.1 -p "$(ports 1)" \
  -m 20 -r 50 -timeout 10 -timeout_error -nostdin \
  "127.0.0.1:$P" >"$TZ_WORK/sipp.out" 2>&1 </dev/null ||
  fail "SIPp OPTIONS run failed: $(tail -5 "$TZ_WORK/sipp.out")"
pass "SIPp: 20 OPTIONS -> 20 x 200"

out=$(sip_msg INVITE "$P" | "$TZ_TOOLS/sipsend" 127.0.0.1 "$P")
st=$(printf '%s\n' "$out" | status_of)
[ "$st" = 501 ] || fail "INVITE got '$st', wanted the script's 501"
printf '%s\n' "$out" | head -n 1 | grep -q "Not Implemented Here" || fail "reason phrase not the script's"
printf '%s\n' "$out" | grep -qi '^To:.*;tag=' || fail "final reply has no To tag"
pass "INVITE -> script's 501 with To tag"

st=$(sip_msg MESSAGE "$P" UDP "X-Test: drop-me" | "$TZ_TOOLS/sipsend" -w 600 127.0.0.1 "$P" | status_of)
[ -z "$st" ] || fail "dropped request was answered with '$st'"
pass "drop sends nothing"

# Malformed: no CSeq, garbage, a truncated request. 400 or silence, never a crash.
printf 'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: bad1\r\nContent-Length: 0\r\n\r\n' |
  "$TZ_TOOLS/sipsend" -w 500 127.0.0.1 "$P" >"$TZ_WORK/bad1.out"
st=$(status_of <"$TZ_WORK/bad1.out")
[ -z "$st" ] || [ "$st" = 400 ] || fail "request without CSeq got '$st'"
head -c 3000 /dev/urandom | "$TZ_TOOLS/sipsend" -w 300 127.0.0.1 "$P" >/dev/null
printf 'INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0' | "$TZ_TOOLS/sipsend" -w 300 127.0.0.1 "$P" >/dev/null
head -c 3000 /dev/urandom | "$TZ_TOOLS/sipsend" -t -w 300 127.0.0.1 "$P" >/dev/null
kill -0 "$PID" || fail "server died on malformed input"
st=$(sip_msg OPTIONS "$P" | "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" | status_of)
[ "$st" = 200 ] || fail "OPTIONS after malformed input got '$st'"
pass "malformed input: no crash, still serving"

tz_stop "$PID" || fail "exit status $? after SIGTERM"
pass "clean exit on SIGTERM"
