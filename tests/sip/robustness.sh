#!/usr/bin/env bash
# Abuse that must neither crash nor leak: random and mutated datagrams,
# every prefix of a REGISTER over UDP and TCP, oversize messages, a slow
# TCP sender, and 2000 idle TCP connections against tcp_max_connections
# and tcp_idle_timeout. Afterwards a REGISTER gets 200 and the server
# exits 0 (under ASan: without a leak report).
. "${TZ_TESTDIR}/sip/lib.sh"
. "${TZ_TESTDIR}/sip/edge.sh"

P=$(ports 1)
edge_start tz "$P" 100000 60 script 'tcp_max_connections=200\ntcp_idle_timeout=2000'
PID=$TZ_PID
S="$TZ_TOOLS/sipstress"
alive() { kill -0 "$PID" 2>/dev/null || fail "server died: $*"; }
serving() {
  st=$(sip_msg OPTIONS "$P" | "$TZ_TOOLS/sipsend" -w 2000 127.0.0.1 "$P" | status_of)
  [ "$st" = 200 ] || fail "OPTIONS after $* got '$st'"
}
REG="$TZ_WORK/register.sip"
printf 'REGISTER sip:example.test SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-rb1\nMax-Forwards: 70\nFrom: <sip:bob@example.test>;tag=t1\nTo: <sip:bob@example.test>\nCall-ID: robust-1@test\nCSeq: 1 REGISTER\nContact: <sip:bob@127.0.0.1:9>\nContent-Length: 0\n\n' |
  sed 's/$/\r/' >"$REG"

"$S" garbage -n 400 -s 4475 127.0.0.1 "$P" <"$REG" || fail "sipstress garbage"
alive "garbage"; serving "garbage"
pass "400 random and mutated datagrams"

"$S" prefixes 127.0.0.1 "$P" <"$REG" || fail "sipstress prefixes"
"$S" prefixes -t 127.0.0.1 "$P" <"$REG" || fail "sipstress prefixes -t"
alive "truncated messages"; serving "truncated messages"
pass "every prefix of a REGISTER over UDP and TCP"

out=$("$S" oversize -b 65000 127.0.0.1 "$P")
alive "a 64 KB datagram"
out=$("$S" oversize -t -b 70000 127.0.0.1 "$P")
case "$out" in "SIP/2.0 513"*) ;; *) fail "70 KB over TCP: '$out', want 513 (max_msg_size 65535)" ;; esac
out=$("$S" oversize -t -b 4000000 127.0.0.1 "$P")
alive "a 4 MB TCP message"
case "$out" in closed | silence | "SIP/2.0 4"* | "SIP/2.0 5"*) ;;
*) fail "4 MB message over TCP: '$out'" ;; esac
serving "oversize messages"
pass "oversize: 64 KB datagram, 70 KB over TCP 513, 4 MB over TCP ($out)"

out=$(sip_msg OPTIONS "$P" TCP | "$S" slow -d 3 127.0.0.1 "$P")
alive "a slow sender"
case "$out" in "SIP/2.0 200"*) ;; *) fail "slow TCP sender got '$out'" ;; esac
pass "a slow TCP sender (a byte every 3 ms) is served"

"$S" idle -n 2000 -w 3500 127.0.0.1 "$P" >"$TZ_WORK/idle.out" &
IDLE=$!
sleep 1
serving "2000 TCP connections opened"
wait "$IDLE" || fail "sipstress idle"
read -r _ connected _ open <"$TZ_WORK/idle.out"
alive "idle connections"
[ "$open" -le 200 ] ||
  fail "$open of $connected idle TCP connections still open (max 200, idle 2 s)"
pass "2000 idle TCP connections: $open left open after 3.5 s, still serving"

edge_finish "$PID" "$P"
