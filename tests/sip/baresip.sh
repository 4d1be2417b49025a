#!/usr/bin/env bash
# Two real softphones (baresip, headless: a sine tone as microphone, a wav
# file as speaker) register at the proxy and call each other through it:
# the callee auto-answers, audio flows both ways, the caller hangs up, and
# the BYE passes through the record-routing proxy.
. "${TZ_TESTDIR}/sip/lib.sh"
need baresip

set -- $(spaced_ports 3)
P=$1 A=$2 B=$3
sed -e "s#@DB@#$TZ_WORK/p.db#" -e "s#@RR@#1#" -e "s#@PORT@#$P#" -e "s#@VMPORT@#1#" \
  "$TZ_TESTDIR/sip/scripts/proxy.cfg.in" >"$TZ_WORK/p.cfg"
tz_start tz "$TZ_WORK/p.cfg" -l "udp:127.0.0.1:$P"

baresip_phone bob bob "$B" auto "sip:127.0.0.1:$P;transport=udp"
baresip_phone alice alice "$A" manual "sip:127.0.0.1:$P;transport=udp"
timeout 30 baresip -f "$TZ_WORK/bob" -t 20 >"$TZ_WORK/bob.log" 2>&1 &
BOB=$!
TZ_PIDS="$TZ_PIDS $BOB"
wait_for "$TZ_WORK/bob.log" "bob@example.test: .* 200 OK" ||
  fail "bob did not register: $(tail -5 "$TZ_WORK/bob.log")"
pass "baresip bob registered through the registrar"

timeout 30 baresip -f "$TZ_WORK/alice" -e "/dial sip:bob@example.test" -t 5 \
  >"$TZ_WORK/alice.log" 2>&1 || fail "alice's baresip failed: $(tail -5 "$TZ_WORK/alice.log")"
grep -q "Call established: sip:bob@example.test" "$TZ_WORK/alice.log" ||
  fail "call not established: $(grep -a -E 'call|session' "$TZ_WORK/alice.log" | tail -5)"
grep -a -q "audio=[1-9][0-9]*/[1-9][0-9]*" "$TZ_WORK/alice.log" || fail "no audio flowed"
pass "baresip alice -> bob: call established, audio both ways"

wait_for "$TZ_WORK/tz.log" "reply 200 to BYE"
grep -q "in-dialog BYE" "$TZ_WORK/tz.log" || fail "the BYE did not pass through the proxy"
grep -q "reply 200 to BYE" "$TZ_WORK/tz.log" || fail "no 200 for the BYE"
pass "hang-up: BYE through the proxy, 200 back"
kill "$BOB" 2>/dev/null
wait "$BOB" 2>/dev/null
tz_stop "$TZ_PID" || fail "stop: status $?"
