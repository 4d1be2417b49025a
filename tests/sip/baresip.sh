#!/usr/bin/env bash
# Two real softphones (baresip, headless: a sine tone as microphone, a wav
# file as speaker) register at the proxy and call each other through it,
# once with record-routing and once without: the callee auto-answers,
# audio flows both ways, the caller hangs up, and the BYE passes through
# the proxy in the first variant and goes phone to phone in the second.
. "${TZ_TESTDIR}/sip/lib.sh"
need baresip

set -- $(spaced_ports 3)
P=$1 A=$2 B=$3

call_variant() { # RR: 1 record-route on, 0 off
  rr=$1 name=tz$1
  sed -e "s#@DB@#$TZ_WORK/p$rr.db#" -e "s#@RR@#$rr#" -e "s#@PORT@#$P#" -e "s#@VMPORT@#1#" \
    "$TZ_TESTDIR/sip/scripts/proxy.cfg.in" >"$TZ_WORK/p$rr.cfg"
  tz_start "$name" "$TZ_WORK/p$rr.cfg" -l "udp:127.0.0.1:$P"
  baresip_phone "bob$rr" bob "$B" auto "sip:127.0.0.1:$P;transport=udp"
  baresip_phone "alice$rr" alice "$A" manual "sip:127.0.0.1:$P;transport=udp"
  timeout 30 baresip -f "$TZ_WORK/bob$rr" -t 20 >"$TZ_WORK/bob$rr.log" 2>&1 &
  BOB=$!
  TZ_PIDS="$TZ_PIDS $BOB"
  wait_for "$TZ_WORK/bob$rr.log" "bob@example.test: .* 200 OK" ||
    fail "bob did not register: $(tail -5 "$TZ_WORK/bob$rr.log")"
  pass "rr=$rr: baresip bob registered through the registrar"

  timeout 30 baresip -f "$TZ_WORK/alice$rr" -e "/dial sip:bob@example.test" -t 5 \
    >"$TZ_WORK/alice$rr.log" 2>&1 || fail "alice's baresip failed: $(tail -5 "$TZ_WORK/alice$rr.log")"
  grep -a -q "Call established: sip:bob@example.test" "$TZ_WORK/alice$rr.log" ||
    fail "call not established: $(grep -a -E 'call|session' "$TZ_WORK/alice$rr.log" | tail -5)"
  grep -a -q "audio=[1-9][0-9]*/[1-9][0-9]*" "$TZ_WORK/alice$rr.log" || fail "no audio flowed"
  pass "rr=$rr: baresip alice -> bob: call established, audio both ways"

  wait_for "$TZ_WORK/bob$rr.log" "terminated" || fail "bob saw no hang-up"
  if [ "$rr" = 1 ]; then
    wait_for "$TZ_WORK/$name.log" "reply 200 to BYE" || fail "no 200 for the BYE at the proxy"
    grep -q "in-dialog BYE" "$TZ_WORK/$name.log" || fail "the BYE did not pass through the proxy"
    pass "rr=1: hang-up: BYE through the proxy, 200 back"
  else
    grep -q "in-dialog" "$TZ_WORK/$name.log" && fail "an in-dialog request passed through the proxy"
    pass "rr=0: hang-up: ACK and BYE went phone to phone, not through the proxy"
  fi
  kill "$BOB" 2>/dev/null
  wait "$BOB" 2>/dev/null
  tz_stop "$TZ_PID" || fail "stop: status $?"
}

call_variant 1
call_variant 0
