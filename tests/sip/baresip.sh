#!/usr/bin/env bash
# Two real softphones (baresip, headless: a sine tone as microphone, a wav
# file as speaker) register at the proxy and call each other through it:
# the callee auto-answers, audio flows both ways, the caller hangs up, and
# the BYE passes through the record-routing proxy.
. "${TZ_TESTDIR}/sip/lib.sh"
need baresip

# baresip also binds its SIP port + 1 (TLS): keep the three ports apart.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  set -- $(ports 3)
  P=$1 A=$2 B=$3
  d1=$((A - B)) d2=$((P - A)) d3=$((P - B))
  [ "${d1#-}" -gt 1 ] && [ "${d2#-}" -gt 1 ] && [ "${d3#-}" -gt 1 ] && break
done
sed -e "s#@DB@#$TZ_WORK/p.db#" -e "s#@RR@#1#" -e "s#@PORT@#$P#" -e "s#@VMPORT@#1#" \
  "$TZ_TESTDIR/sip/scripts/proxy.cfg.in" >"$TZ_WORK/p.cfg"
tz_start tz "$TZ_WORK/p.cfg" -l "udp:127.0.0.1:$P"

phone() { # NAME USER PORT ANSWERMODE
  d="$TZ_WORK/$1"
  mkdir -p "$d"
  cat >"$d/config" <<CFG
poll_method		epoll
sip_listen		127.0.0.1:$3
net_interface		127.0.0.1
dns_server		127.0.0.1:1
audio_player		aufile,$d/heard.wav
audio_source		ausine,440
audio_alert		aufile,$d/alert.wav
module_path		/usr/lib/baresip/modules
module			opus.so
module			ausine.so
module			aufile.so
module_app		account.so
module_app		menu.so
CFG
  echo "<sip:$2@example.test>;outbound=\"sip:127.0.0.1:$P;transport=udp\";regint=600;answermode=$4;audio_codecs=opus/48000/2" >"$d/accounts"
}

phone bob bob "$B" auto
phone alice alice "$A" manual
timeout 30 baresip -f "$TZ_WORK/bob" -t 20 >"$TZ_WORK/bob.log" 2>&1 &
BOB=$!
TZ_PIDS="$TZ_PIDS $BOB"
for _ in $(seq 1 100); do
  grep -q "bob@example.test: .* 200 OK" "$TZ_WORK/bob.log" && break
  sleep 0.1
done
grep -q "bob@example.test: .* 200 OK" "$TZ_WORK/bob.log" || fail "bob did not register: $(tail -5 "$TZ_WORK/bob.log")"
pass "baresip bob registered through the registrar"

timeout 30 baresip -f "$TZ_WORK/alice" -e "/dial sip:bob@example.test" -t 5 \
  >"$TZ_WORK/alice.log" 2>&1 || fail "alice's baresip failed: $(tail -5 "$TZ_WORK/alice.log")"
grep -q "Call established: sip:bob@example.test" "$TZ_WORK/alice.log" ||
  fail "call not established: $(grep -a -E 'call|session' "$TZ_WORK/alice.log" | tail -5)"
grep -a -q "audio=[1-9][0-9]*/[1-9][0-9]*" "$TZ_WORK/alice.log" || fail "no audio flowed"
pass "baresip alice -> bob: call established, audio both ways"

for _ in $(seq 1 50); do
  grep -q "reply 200 to BYE" "$TZ_WORK/tz.log" && break
  sleep 0.1
done
grep -q "in-dialog BYE" "$TZ_WORK/tz.log" || fail "the BYE did not pass through the proxy"
grep -q "reply 200 to BYE" "$TZ_WORK/tz.log" || fail "no 200 for the BYE"
pass "hang-up: BYE through the proxy, 200 back"
kill "$BOB" 2>/dev/null
wait "$BOB" 2>/dev/null
tz_stop "$TZ_PID" || fail "stop: status $?"
