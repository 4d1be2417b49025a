#!/usr/bin/env bash
# The SIP trapezoid with two proxies and a real DNS server (RFC 3263):
# alice@atlanta.test calls bob@biloxi.test through atlanta's outbound
# proxy (scripts/outbound.cfg, dns_relay()) and biloxi's inbound proxy
# (scripts/inbound.cfg, lookup), found by NAPTR -> SRV -> A in dnsmasq.
# The first SRV target is dead, so every call also exercises failover.
# Last, proxy 1 again with the same records in its static zone instead
# (dns.zone_only, filled with tzctl dns zone add): DNS is never asked.
# With record-routing on, ACK and BYE pass both proxies; with it off, they
# bypass both. A domain that does not exist gets the script's 604 at once.
#
# DNS is dnsmasq (Debian's dnsmasq-base, no service) on a free loopback
# port, serving only *.test from command-line records; the dns module's
# nameserver parameter points at it. No root, netns or port 53 needed.
. "${TZ_TESTDIR}/sip/lib.sh"
PATH=$PATH:/usr/sbin # dnsmasq's home, outside a normal user's PATH
need sipp dnsmasq

S="$TZ_TESTDIR/sip/scenarios"
EX="$TZ_SRCDIR/scripts"
set -- $(ports 6)
DNS=$1 P1=$2 P2=$3 DEAD=$4 UB=$5 UA=$6

# ---- DNS: biloxi.test -> _sip._udp -> (10) a dead port, (20) proxy 2 ------------
# gone.test has no NAPTR, and its only SRV target is the dead port.
dnsmasq --keep-in-foreground --conf-file=/dev/null --pid-file="$TZ_WORK/dnsmasq.pid" \
  --user="$(id -un)" --port="$DNS" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --local=/test/ --log-queries --log-facility="$TZ_WORK/dnsmasq.log" \
  --naptr-record=biloxi.test,10,10,S,SIP+D2U,,_sip._udp.biloxi.test \
  --srv-host=_sip._udp.biloxi.test,dead.biloxi.test,"$DEAD",10,0 \
  --srv-host=_sip._udp.biloxi.test,p2.biloxi.test,"$P2",20,0 \
  --host-record=dead.biloxi.test,127.0.0.1 \
  --host-record=p2.biloxi.test,127.0.0.1 \
  --host-record=p1.atlanta.test,127.0.0.1 \
  --srv-host=_sip._udp.atlanta.test,p1.atlanta.test,"$P1",10,0 \
  --host-record=gone.test,127.0.0.1 \
  --srv-host=_sip._udp.gone.test,dead.biloxi.test,"$DEAD",10,0 &
TZ_PIDS="$TZ_PIDS $!"
wait_udp "$DNS"

start_proxies() { # RR [P1-ARGS...]: the two example scripts, as shipped, on our ports
  tz_start p1 "$EX/outbound.cfg" -l "udp:127.0.0.1:$P1" -o "location.db_path=$TZ_WORK/atlanta.db" \
    -o "rr.always=$1" -o "dns.nameserver=127.0.0.1:$DNS" "${@:2}"
  PID1=$TZ_PID
  tz_start p2 "$EX/inbound.cfg" -l "udp:127.0.0.1:$P2" -o "location.db_path=$TZ_WORK/biloxi.db" \
    -o "rr.always=$1"
  PID2=$TZ_PID
}

stop_proxies() {
  tz_stop "$PID1" || fail "stop proxy 1: status $?"
  tz_stop "$PID2" || fail "stop proxy 2: status $?"
}

register() { # USER DOMAIN PROXY_PORT CONTACT_PORT: as doc/trapezoid.md does
  sipp -sf "$S/trapezoid_register.xml" -s "$1" -key domain "$2" -i 127.0.0.1 -p "$4" -m 1 \
    -nostdin -timeout 10 -timeout_error "127.0.0.1:$3" >"$TZ_WORK/reg-$1.out" 2>&1 ||
    fail "REGISTER $1@$2 at :$3: $(tail -5 "$TZ_WORK/reg-$1.out")"
}

uas() { # NAME: bob's phone in the background, one call
  sipp -sf "$S/call_uas.xml" -i 127.0.0.1 -p "$UB" -m 1 -nostdin -timeout 20 -timeout_error \
    -trace_msg -message_file "$TZ_WORK/$1.msg" >"$TZ_WORK/$1.out" 2>&1 &
  PID_UAS=$!
  TZ_PIDS="$TZ_PIDS $PID_UAS"
  wait_udp "$UB"
}

uac() { # NAME SCENARIO: alice's phone calls bob@biloxi.test through proxy 1
  sipp -sf "$S/$2" -s bob -i 127.0.0.1 -p "$UA" -m 1 -nostdin -timeout 20 -timeout_error \
    -trace_msg -message_file "$TZ_WORK/$1.msg" "127.0.0.1:$P1" >"$TZ_WORK/$1.out" 2>&1 ||
    fail "caller $1: $(tail -30 "$TZ_WORK/$1.msg")"
  wait "$PID_UAS" || fail "callee: $(tail -5 "$TZ_WORK/bob.out"; tail -30 "$TZ_WORK/bob.msg")"
}

in_dialog() { grep -c "in-dialog $1" "$TZ_WORK/$2.log"; }

# ---- record-route on both: ACK and BYE traverse proxy 1 and proxy 2 ------------
start_proxies 1
register bob biloxi.test "$P2" "$UB"
register alice atlanta.test "$P1" "$UA"
uas bob
uac alice1 trapezoid_uac_rr.xml
for p in p1 p2; do
  [ "$(in_dialog ACK $p)" = 1 ] || fail "ACK did not pass $p"
  [ "$(in_dialog BYE $p)" = 1 ] || fail "BYE did not pass $p"
done
# From proxy 1's listen port, or with workers from the port of the worker
# that relayed it (the one in its Via): one of proxy 1's own.
src=$(sed -n 's/.*inbound sip:bob@biloxi.test from 127.0.0.1:\([0-9]*\)$/\1/p' "$TZ_WORK/p2.log" | head -1)
[ -n "$src" ] && { [ "$src" = "$P1" ] || grep -q "own port .*:$src;" "$TZ_WORK/p1.log"; } ||
  fail "proxy 2 did not get the INVITE from proxy 1 (from port ${src:-none})"
for p in "$P1" "$P2"; do
  grep -q "^Record-Route:.*<sip:127.0.0.1:$p;lr>" "$TZ_WORK/bob.msg" ||
    fail "callee saw no Record-Route of the proxy on :$p"
done
pass "trapezoid with record-route: INVITE via DNS to proxy 2, ACK and BYE through both"

# ---- the dead first SRV target was failed over, within the same call ----------
grep -q "dns: sip:bob@biloxi.test: sip:127.0.0.1:$DEAD;transport=udp failed with 503" "$TZ_WORK/p1.log" ||
  fail "proxy 1 did not try the dead target first"
grep -q "dns: sip:bob@biloxi.test: trying sip:127.0.0.1:$P2;transport=udp" "$TZ_WORK/p1.log" ||
  fail "proxy 1 did not fail over to proxy 2"
grep -q "query\[NAPTR\] biloxi.test" "$TZ_WORK/dnsmasq.log" ||
  fail "proxy 1 did not ask DNS for NAPTR"
pass "SRV failover: the priority-10 target is dead (ICMP -> 503), the call went to priority 20"

# ---- no SIP anywhere: NXDOMAIN gets the script's 604, every target dead a 500 ------
final_of() { # USER@DOMAIN: the final status of an INVITE sent to proxy 1
  sip_msg INVITE "$P1" | sed "s#^INVITE sip:bob@127.0.0.1:[0-9]* #INVITE sip:$1 #" |
    "$TZ_TOOLS/sipsend" -w 3000 127.0.0.1 "$P1" | grep '^SIP/2.0 [2-6]' | head -1 | awk '{print $2}'
}
quick() { # EXPECTED USER@DOMAIN WHAT
  t0=$(date +%s%N)
  st=$(final_of "$2")
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ "$st" = "$1" ] || fail "$3: got '$st'"
  [ "$ms" -lt 2000 ] || fail "$3: answered after $ms ms"
}
quick 604 x@nowhere.test "NXDOMAIN"
quick 604 x@nowhere.test "NXDOMAIN again"
[ "$(grep -c 'query\[NAPTR\] nowhere.test' "$TZ_WORK/dnsmasq.log")" = 1 ] ||
  fail "NXDOMAIN was not cached: $(grep nowhere "$TZ_WORK/dnsmasq.log")"
sipp -sf "$S/trapezoid_uac_reject.xml" -s x -key domain nowhere.test -i 127.0.0.1 -p "$UA" -m 1 \
  -nostdin -timeout 10 -timeout_error -trace_msg -message_file "$TZ_WORK/reject.msg" \
  "127.0.0.1:$P1" >"$TZ_WORK/reject.out" 2>&1 || fail "SIPp caller to nowhere.test: $(tail -20 "$TZ_WORK/reject.msg")"
pass "NXDOMAIN -> 604 from the failure route, no hang; the second try came from the negative cache"

quick 500 x@gone.test "every target dead"
grep -q "query\[SRV\] _sip._udp.gone.test" "$TZ_WORK/dnsmasq.log" ||
  fail "no SRV query after the empty NAPTR answer"
pass "no NAPTR -> SRV; its only target dead -> 500 (RFC 3261 16.7: 503 becomes 500)"
stop_proxies

# ---- record-route off on both: ACK and BYE go UA to UA ------------------------------
start_proxies 0
register bob biloxi.test "$P2" "$UB"
uas bob
uac alice2 trapezoid_uac_direct.xml
for p in p1 p2; do
  [ "$(in_dialog ACK $p)" = 0 ] || fail "ACK went through $p without record-route"
  [ "$(in_dialog BYE $p)" = 0 ] || fail "BYE went through $p without record-route"
done
grep -q "^Record-Route" "$TZ_WORK/bob.msg" && fail "Record-Route present with record-routing off"
pass "trapezoid without record-route: ACK and BYE bypass both proxies"
stop_proxies

# ---- the static zone alone: the same call, DNS never asked -------------------------
CTL=$TZ_WORK/p1.sock
start_proxies 1 -o dns.zone_only=1 -s "$CTL"
queries=$(grep -c 'query\[' "$TZ_WORK/dnsmasq.log")
ctl dns zone add naptr Biloxi.Test. 10 10 s SIP+D2U '' _sip._udp.biloxi.test >/dev/null &&
  ctl dns zone add SRV _sip._udp.biloxi.test 10 0 "$DEAD" dead.biloxi.test >/dev/null &&
  ctl dns zone add SRV _sip._udp.biloxi.test 20 0 "$P2" p2.biloxi.test >/dev/null &&
  ctl dns zone add A dead.biloxi.test 127.0.0.1 >/dev/null &&
  ctl dns zone add A p2.biloxi.test 127.0.0.1 ttl=60 >/dev/null &&
  ctl dns zone add NXDOMAIN gone.test >/dev/null || fail "tzctl dns zone add failed"
ctl dns zone add SRV x.test 1 2 >/dev/null 2>&1 && fail "tzctl took an SRV without port and target"
ctl script reload >/dev/null || fail "script reload failed"
[ "$(ctl dns zone show | grep -c .)" = 7 ] || fail "zone after reload: $(ctl dns zone show)"
register bob biloxi.test "$P2" "$UB"
uas bob
uac alice3 trapezoid_uac_rr.xml
grep -q "dns: sip:bob@biloxi.test: trying sip:127.0.0.1:$P2;transport=udp" "$TZ_WORK/p1.log" ||
  fail "proxy 1 did not relay to proxy 2 from the zone"
quick 604 x@gone.test "NXDOMAIN from the zone"
quick 604 x@nowhere.test "a name not in the zone"
[ "$(grep -c 'query\[' "$TZ_WORK/dnsmasq.log")" = "$queries" ] ||
  fail "zone_only asked DNS: $(tail -3 "$TZ_WORK/dnsmasq.log")"
[ "$(ctl dns zone clear)" = "removed 6" ] || fail "dns zone clear"
quick 604 x@biloxi.test "a cleared zone"
pass "zone_only: tzctl dns zone add steers dns_relay (NAPTR, SRV failover, A), kept over a reload; DNS never asked"
stop_proxies
