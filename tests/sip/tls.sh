#!/usr/bin/env bash
# TLS transport: listen=tls with a self-signed certificate made here.
# A raw OPTIONS over TLS (openssl s_client, verifying the certificate) gets
# its answer with $pr "tls"; a baresip softphone registers over TLS and
# calls a UDP softphone through the record-routing proxy (Record-Route
# names the TLS side with ;transport=tls); ACK and BYE come back through.
. "${TZ_TESTDIR}/sip/lib.sh"
need openssl baresip

set -- $(spaced_ports 4)
P=$1 PT=$2 A=$3 B=$4
T="$TZ_WORK/tls"
tls_cert "$T"

sed -e "s#@DB@#$TZ_WORK/p.db#" -e "s#@RR@#1#" -e "s#@PORT@#$P#" -e "s#@VMPORT@#1#" \
  "$TZ_TESTDIR/sip/scripts/proxy.cfg.in" | sed "1i tls_dir=\"$T\"" >"$TZ_WORK/p.cfg"
sed -i 's/^    if (is_method("CANCEL")) {/    if (is_method("OPTIONS")) { sl_reply(200, "Over $pr"); exit; }\n&/' "$TZ_WORK/p.cfg"
tz_start tz "$TZ_WORK/p.cfg" -l "udp:127.0.0.1:$P" -l "tls:127.0.0.1:$PT"

out=$( (sip_msg OPTIONS "$PT" TLS; sleep 1) |
  timeout 10 openssl s_client -connect "127.0.0.1:$PT" -quiet -verify_return_error \
    -CAfile "$T/cafile.pem" 2>/dev/null | head -n 1 | tr -d '\r')
[ "$out" = "SIP/2.0 200 Over tls" ] || fail "OPTIONS over TLS: '$out'"
pass "OPTIONS over TLS (certificate verified) -> 200, \$pr is tls"

baresip_phone bob bob "$B" auto "sip:127.0.0.1:$P;transport=udp"
baresip_phone alice alice "$A" manual "sip:127.0.0.1:$PT;transport=tls" "$T/cafile.pem"
timeout 30 baresip -f "$TZ_WORK/bob" -t 20 >"$TZ_WORK/bob.log" 2>&1 &
BOB=$!
TZ_PIDS="$TZ_PIDS $BOB"
wait_for "$TZ_WORK/bob.log" "bob@example.test: .* 200 OK" || fail "bob did not register"
timeout 30 baresip -f "$TZ_WORK/alice" -e "/dial sip:bob@example.test" -t 5 \
  >"$TZ_WORK/alice.log" 2>&1 || fail "alice's baresip failed: $(tail -5 "$TZ_WORK/alice.log")"
grep -a -q "alice@example.test: {0/TLS/v4} 200 OK" "$TZ_WORK/alice.log" || fail "alice did not register over TLS"
grep -a -q "Call established" "$TZ_WORK/alice.log" ||
  fail "TLS call not established: $(grep -a -E 'call|session' "$TZ_WORK/alice.log" | tail -5)"
wait_for "$TZ_WORK/tz.log" "reply 200 to BYE" || fail "no 200 for the BYE"
grep -q "in-dialog ACK" "$TZ_WORK/tz.log" || fail "ACK did not come through the proxy"
pass "baresip over TLS calls baresip over UDP through the proxy; ACK and BYE through it"
kill "$BOB" 2>/dev/null
wait "$BOB" 2>/dev/null
tz_stop "$TZ_PID" || fail "stop: status $?"
