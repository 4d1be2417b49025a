#!/usr/bin/env bash
# HEP capture (modules/hep): SIPp calls through the record-routing proxy
# while a collector on loopback (tests/tools/heprecv) keeps every HEP
# packet it gets in a pcap file. An independent HEP decoder (sngrep's, the
# Homer project's EEP code: Debian 12's Wireshark 4.0 has no HEP dissector)
# turns them back into SIP, which tshark reads; the result must be exactly
# the messages SIPp's traces say it sent and received, each once, with the
# ports of caller, proxy and callee. Then: trapezoid -c names a bad dest,
# tzctl hep off stops capture and on resumes it, a reload captures nothing
# twice, module unload stops it and load resumes it, a full queue drops
# and counts (hep.dropped), a collector that is not there slows no
# call, calls over TCP on both legs are captured message by message, and
# an OPTIONS over TLS and its answer are captured decrypted.
. "${TZ_TESTDIR}/sip/lib.sh"
need sipp tshark sngrep openssl

S="$TZ_TESTDIR/sip/scenarios"
set -- $(ports 6)
P=$1 U=$2 C=$3 H=$4 DEAD=$5 PT=$6
CTL="$TZ_WORK/ctl.sock"
CFG="$TZ_WORK/hep.cfg"
PCAP="$TZ_WORK/hep.pcap"

hep_cfg() { # DEST: the proxy test script with the hep module in front
  { echo "ctl_socket=\"$CTL\""
    echo 'loadmodule "hep"'
    echo "modparam(\"hep\", \"dest\", \"$1\")"
    sed -e "s#@DB@#$TZ_WORK/l.db#" -e "s#@RR@#1#" -e "s#@PORT@#$P#" -e "s#@VMPORT@#$DEAD#" \
      "$TZ_TESTDIR/sip/scripts/proxy.cfg.in"; } >"$CFG"
}

stat() { ctl stats | awk -v k="$1" '$1 == k {print $2}'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

calls() { # N NAME: N calls caller -> proxy -> callee, traced; all must succeed
  sipp -sf "$S/call_uas.xml" -i 127.0.0.1 -p "$U" -m "$1" -nostdin -timeout 30 -timeout_error \
    -trace_msg -message_file "$TZ_WORK/$2.uas.msg" >"$TZ_WORK/uas.out" 2>&1 &
  uas=$!
  TZ_PIDS="$TZ_PIDS $uas"
  wait_udp "$U"
  sipp -sf "$S/call_uac_rr.xml" -s bob -i 127.0.0.1 -p "$C" -r 20 -m "$1" -nostdin \
    -timeout 30 -timeout_error -trace_msg -message_file "$TZ_WORK/$2.uac.msg" \
    -trace_stat -stf "$TZ_WORK/uac.csv" -fd 1 "127.0.0.1:$P" >"$TZ_WORK/uac.out" 2>&1 &
  uac=$!
  TZ_PIDS="$TZ_PIDS $uac"
  calls_all_ok "$uac" "$uas" "$1"
}

hep_count() { tshark -r "$PCAP" -Y "udp.dstport == $H" 2>/dev/null | wc -l; }

# settle N: waits (5 s) until the collector has N packets (the sender is a
# thread of its own); prints how many it has.
settle() {
  for _ in $(seq 1 50); do
    n=$(hep_count)
    [ "$n" -ge "$1" ] && break
    sleep 0.1
  done
  sleep 0.3 # and no more than that
  hep_count
}

# sipp_wire FILE PEER PROXY: the messages of a SIPp -trace_msg file as
# SRC|DST|LENGTH|START-LINE|CALL-ID|CSEQ; PEER is SIPp's port, PROXY the
# proxy's ("via": the port of the message's top Via, which for the callee
# is the proxy worker's own port that sent the request or gets the reply).
sipp_wire() {
  tr -d '\r' <"$1" | awk -v peer="$2" -v proxy="$3" '
    function out() {
      if (!start) return
      pp = proxy == "via" ? via : proxy
      print (sent ? peer "|" pp : pp "|" peer) "|" len "|" start "|" cid "|" cseq
      start = ""
    }
    /^-----------------------------------------------/ { out(); inmsg = 0; next }
    /^(UDP|TCP) message (sent|received)/ { inmsg = 1; sent = $3 == "sent"; len = $4; gsub(/[^0-9]/, "", len)
                                     cid = cseq = via = ""; body = 0; next }
    !inmsg { next } # SIPp logs more than messages there (a TCP EAGAIN)
    start == "" && NF { start = $0; next }
    /^$/ && start != "" { body = 1 }
    body { next }
    /^Call-ID:/ { cid = $2 }
    /^CSeq:/ { cseq = $2 " " $3 }
    /^Via:/ && via == "" { via = $0; sub(/;.*/, "", via); sub(/.*:/, "", via) }
    END { out() }'
}

# hep_wire: the captured packets as sngrep decodes them, in sipp_wire's
# form. sngrep 1.6 writes each SIP packet it decodes from a file twice, as
# two identical frames (same HEP timestamp): the second is left out, and
# what is left must be as many as the collector got. tshark is told every
# UDP port carries SIP: the test's random ports (20000-32767) and the
# workers' own ports can be one Wireshark gives to another protocol by
# default (27960 is quake3's), and those frames would decode as no SIP.
hep_wire() {
  rm -f "$TZ_WORK/sip.pcap"
  timeout 60 sngrep -N -q -F -E -I "$PCAP" -O "$TZ_WORK/sip.pcap" </dev/null >"$TZ_WORK/sngrep.out" 2>&1 ||
    fail "sngrep: $(cat "$TZ_WORK/sngrep.out")"
  tshark -r "$TZ_WORK/sip.pcap" -d udp.port==1-65535,sip -T fields -E separator='|' -e frame.time_epoch -e udp.srcport \
    -e udp.dstport -e udp.length -e sip.Request-Line -e sip.Status-Line -e sip.Call-ID \
    -e sip.CSeq 2>/dev/null |
    awk -F'|' -v hep="$(hep_count)" '
      { if ($0 == prev && $5 $6 != "" && !again) { again = 1; next }
        again = 0; prev = $0
        line[++k] = $2 "|" $3 "|" ($4 - 8) "|" $5 $6 "|" $7 "|" $8 }
      END {
        if (k != hep) { print "sngrep decoded " k " of " hep " packets"; exit 1 }
        for (i = 1; i <= k; i++) print line[i]
      }'
}

# check_calls NAME N: the captured messages of the calls traced as NAME are
# exactly what caller and callee sent and received (N calls: 13 each).
check_calls() {
  { sipp_wire "$TZ_WORK/$1.uac.msg" "$C" "$P"
    sipp_wire "$TZ_WORK/$1.uas.msg" "$U" via; } | sort >"$TZ_WORK/$1.sipp"
  hep_wire >"$TZ_WORK/hep.all" || fail "$(cat "$TZ_WORK/hep.all")"
  cids=$(cut -d'|' -f5 "$TZ_WORK/$1.sipp" | sort -u | paste -sd'|')
  awk -F'|' -v c="^($cids)\$" '$5 ~ c' "$TZ_WORK/hep.all" | sort >"$TZ_WORK/$1.hep"
  [ "$(wc -l <"$TZ_WORK/$1.sipp")" = $((13 * $2)) ] ||
    fail "SIPp traced $(wc -l <"$TZ_WORK/$1.sipp") messages for $2 calls, expected $((13 * $2))"
  diff "$TZ_WORK/$1.sipp" "$TZ_WORK/$1.hep" >"$TZ_WORK/$1.diff" ||
    fail "captured != SIPp's messages (< SIPp, > HEP): $(head -20 "$TZ_WORK/$1.diff")"
}

# ---- trapezoid -c names a bad destination ---------------------------------------
for bad in "tcp:127.0.0.1:$H" "udp:127.0.0.1:99999" ""; do
  hep_cfg "$bad"
  out=$("$TZ_BIN" -c -f "$CFG" -L "$TZ_MODDIR" 2>&1) && fail "trapezoid -c accepted dest '$bad'"
  echo "$out" | grep -q "hep.cfg:2:[0-9]*: error: hep: .*dest" ||
    fail "trapezoid -c, dest '$bad': $out"
done
pass "trapezoid -c: a bad hep dest is an error at the script's loadmodule line"

# ---- a call load, captured ----------------------------------------------------------
"$TZ_TOOLS/heprecv" "$H" "$PCAP" &
TZ_PIDS="$TZ_PIDS $!"
wait_udp "$H"
hep_cfg "udp:127.0.0.1:$H"
tz_start tz "$CFG" -l "udp:127.0.0.1:$P"
st=$(sip_register "$P" bob "sip:bob@127.0.0.1:$U")
[ "$st" = 200 ] || fail "REGISTER: $st"
N=20
t0=$(now_ms)
calls $N load
base=$(($(now_ms) - t0))
n=$(settle $((13 * N + 2)))
check_calls load $N
# Every datagram is captured: also Sofia's 4-byte self-test from start-up
# when another worker reads it (transport.c), which is no SIP.
sip=$(awk -F'|' '$4 != ""' "$TZ_WORK/hep.all" | wc -l)
[ "$sip" = $((13 * N + 2)) ] || fail "captured $sip SIP messages, expected $((13 * N + 2)) (REGISTER, 200, 13 per call)"
[ "$(stat hep.sent)" = "$n" ] && [ "$(stat hep.dropped)" = 0 ] ||
  fail "hep.sent $(stat hep.sent), hep.dropped $(stat hep.dropped), collector got $n"
pass "$N calls: $sip SIP messages in $n HEP packets, each SIPp message once (start line, Call-ID, CSeq, length, ports), as sngrep+tshark decode them"

# ---- tzctl hep off / on -----------------------------------------------------------
ctl hep off | grep -qx "capturing false" || fail "hep off: $(ctl hep status)"
calls 3 off
sleep 0.5
[ "$(hep_count)" = "$n" ] || fail "captured while off: $(hep_count) packets, had $n"
ctl hep on | grep -qx "capturing true" || fail "hep on"
calls 3 on
n=$(settle $((n + 39)))
check_calls on 3
pass "tzctl hep off: nothing captured; on: the next 3 calls' 39 messages"

# ---- a reload makes a new instance: nothing twice ------------------------------
ctl script reload >/dev/null || fail "reload"
calls 2 reload
m=$(settle $((n + 26)))
[ "$m" = $((n + 26)) ] || fail "after a reload, 2 calls gave $((m - n)) packets, expected 26"
check_calls reload 2
n=$m
pass "after a reload: 2 calls, 26 packets (the old instance no longer captures)"

# ---- unloaded: its tap goes with it; loaded again: it captures ------------------
ctl module unload hep >/dev/null || fail "module unload hep"
calls 2 unloaded
sleep 0.5
[ "$(hep_count)" = "$n" ] || fail "captured after module unload: $(hep_count) packets, had $n"
ctl module load hep >/dev/null || fail "module load hep"
calls 2 loaded
n=$(settle $((n + 26)))
check_calls loaded 2
pass "module unload hep: nothing captured; module load hep: 26 packets for 2 calls"

# ---- a collector that is not there ------------------------------------------------
for dest in "udp:127.0.0.1:$DEAD" "udp:198.51.100.1:9060"; do
  hep_cfg "$dest"
  ctl script reload >/dev/null || fail "reload to $dest"
  t0=$(now_ms)
  calls $N "gone"
  took=$(($(now_ms) - t0))
  [ "$took" -le $((base * 3 / 2 + 1000)) ] ||
    fail "$N calls took $took ms with dest $dest, $base ms with the collector there"
  [ "$(hep_count)" = "$n" ] || fail "the collector got packets meant for $dest"
  pass "dest $dest (nobody there): $N calls in $took ms ($base ms with the collector)"
done
tz_stop "$TZ_PID" || fail "stop: status $?"

# ---- a full queue drops, and counts -------------------------------------------------
# A queue of one packet and a burst: the tap refuses what the sender
# thread has not taken yet. Every message is either sent or counted.
hep_cfg "udp:127.0.0.1:$H"
tz_start tz2 "$CFG" -l "udp:127.0.0.1:$P" -o hep.queue=1
before=$(hep_count)
# (Sofia's start-up self-test may be counted already: only the burst's.)
sent0=$(stat hep.sent) taps0=$(($(stat hep.sent) + $(stat hep.dropped))) udp0=$(stat sip.udp.drops)
R=$(sip_msg OPTIONS "$P" | sed 's#^OPTIONS sip:bob@127.0.0.1:[0-9]* #OPTIONS sip:nobody@example.test #' |
  "$TZ_TOOLS/sipstress" flood -n 2000 127.0.0.1 "$P" |
  awk '{n += $2} END {print n + 0}')
[ "$R" -gt 0 ] || fail "no answer to the flood"
sleep 0.3 # the sender's last packet
sent=$(stat hep.sent) dropped=$(stat hep.dropped)
[ "$dropped" -gt 0 ] || fail "a queue of 1 under a burst dropped nothing (sent $sent)"
# Each request that reached the proxy and its 404: sipstress may miss some
# 404s in the burst, the proxy's socket counts what it could not take.
reached=$((2000 - $(stat sip.udp.drops) + udp0))
[ $((sent + dropped - taps0)) = $((2 * reached)) ] ||
  fail "sent $sent + dropped $dropped - $taps0 before != $((2 * reached)) (the $reached requests received and their answers)"
got=$(settle $((before + sent - sent0)))
[ "$got" = $((before + sent - sent0)) ] ||
  fail "the collector got $((got - before)) of the $((sent - sent0)) packets sent"
pass "queue 1, a burst of 2000 OPTIONS (stateless 404s): $sent sent, $dropped dropped (hep.dropped), sum = requests + answers"
tz_stop "$TZ_PID" || fail "stop: status $?"

# ---- TCP: both legs ----------------------------------------------------------------
# Caller and callee on TCP connections (SIPp -t t1), the callee registered
# with ;transport=tcp: every message each sent and received is captured
# once, from tport_deliver and tport_tsend (core/tportio.c), whole,
# between the connection's ports, which ss(8) tells while the calls run
# (the proxy's for the callee is an ephemeral one).
# A fresh location: bob's UDP binding from the runs above would fork each
# INVITE to a UDP branch too (a datagram to the callee's TCP-only port).
rm -f "$TZ_WORK"/l.db*
tz_start tz3 "$CFG" -l "udp:127.0.0.1:$P" -l "tcp:127.0.0.1:$P"
st=$(sip_register "$P" bob "sip:bob@127.0.0.1:$U;transport=tcp")
[ "$st" = 200 ] || fail "REGISTER over TCP contact: $st"
before=$(settle 2)
NT=10
sipp -sf "$S/call_uas_tcp.xml" -t t1 -i 127.0.0.1 -p "$U" -m "$NT" -nostdin -timeout 30 -timeout_error \
  -trace_msg -message_file "$TZ_WORK/tcp.uas.msg" >"$TZ_WORK/uas.out" 2>&1 &
uas=$!
TZ_PIDS="$TZ_PIDS $uas"
wait_tcp "$U"
sipp -sf "$S/call_uac_rr.xml" -t t1 -s bob -i 127.0.0.1 -p "$C" -r 5 -m "$NT" -nostdin \
  -timeout 30 -timeout_error -trace_msg -message_file "$TZ_WORK/tcp.uac.msg" \
  -trace_stat -stf "$TZ_WORK/uac.csv" -fd 1 "127.0.0.1:$P" >"$TZ_WORK/uac.out" 2>&1 &
uac=$!
TZ_PIDS="$TZ_PIDS $uac"
sleep 1 # both connections are up once the first call is
ss -tnH state established >"$TZ_WORK/tcp.ss"
calls_all_ok "$uac" "$uas" "$NT"
peer_of() { awk -v l="127.0.0.1:$1" '$3 == l {sub(/.*:/, "", $4); print $4}' "$TZ_WORK/tcp.ss"; }
X=$(peer_of "$P") Y=$(peer_of "$U")
[ -n "$X" ] && [ -n "$Y" ] || fail "no caller or callee connection in: $(cat "$TZ_WORK/tcp.ss")"
n=$(settle $((before + 13 * NT)))
{ sipp_wire "$TZ_WORK/tcp.uac.msg" "$X" "$P"
  sipp_wire "$TZ_WORK/tcp.uas.msg" "$U" "$Y"; } | sort >"$TZ_WORK/tcp.sipp"
[ "$(wc -l <"$TZ_WORK/tcp.sipp")" = $((13 * NT)) ] ||
  fail "SIPp traced $(wc -l <"$TZ_WORK/tcp.sipp") TCP messages for $NT calls"
hep_wire >"$TZ_WORK/hep.all" || fail "$(cat "$TZ_WORK/hep.all")"
# These calls' messages on the two connections (the proxy's UDP, such as a
# handoff between workers, is the UDP tap's, checked above).
cids=$(cut -d'|' -f5 "$TZ_WORK/tcp.sipp" | sort -u | paste -sd'|')
awk -F'|' -v c="^($cids)\$" -v a="$X|$P" -v b="$P|$X" -v u="$U|$Y" -v v="$Y|$U" \
  '{ k = $1 "|" $2 } $5 ~ c && (k == a || k == b || k == u || k == v)' "$TZ_WORK/hep.all" |
  sort >"$TZ_WORK/tcp.hep"
diff "$TZ_WORK/tcp.sipp" "$TZ_WORK/tcp.hep" >"$TZ_WORK/tcp.diff" ||
  fail "captured over TCP != SIPp's messages (< SIPp, > HEP): $(head -20 "$TZ_WORK/tcp.diff")"
pass "$NT calls over TCP both ways: $((13 * NT)) SIP messages, each once, whole (length), between the connections' ports ($X-$P, $Y-$U)"
tz_stop "$TZ_PID" || fail "stop: status $?"

# ---- TLS ---------------------------------------------------------------------------
# An OPTIONS over TLS (openssl s_client) and the proxy's 200: both captured
# as the SIP text inside the TLS records, whole (the request's length is
# what was sent), between the client's port and the TLS listen port.
T="$TZ_WORK/tls"
tls_cert "$T"
hep_cfg "udp:127.0.0.1:$H"
sed -i -e "1i tls_dir=\"$T\"" \
  -e 's/^    if (is_method("CANCEL")) {/    if (is_method("OPTIONS")) { sl_reply(200, "Over $pr"); exit; }\n&/' "$CFG"
before=$(hep_count)
tz_start tz4 "$CFG" -l "udp:127.0.0.1:$P" -l "tls:127.0.0.1:$PT"
sip_msg OPTIONS "$PT" TLS >"$TZ_WORK/tls.req"
cid=$(tr -d '\r' <"$TZ_WORK/tls.req" | awk '/^Call-ID:/ {print $2}')
out=$( (cat "$TZ_WORK/tls.req"; sleep 1) |
  timeout 10 openssl s_client -connect "127.0.0.1:$PT" -quiet -verify_return_error \
    -CAfile "$T/cafile.pem" 2>/dev/null | head -n 1 | tr -d '\r')
[ "$out" = "SIP/2.0 200 Over tls" ] || fail "OPTIONS over TLS: '$out'"
settle $((before + 2)) >/dev/null
hep_wire >"$TZ_WORK/hep.all" || fail "$(cat "$TZ_WORK/hep.all")"
awk -F'|' -v c="$cid" '$5 == c' "$TZ_WORK/hep.all" >"$TZ_WORK/tls.hep"
X=$(awk -F'|' -v p="$PT" '$2 == p {print $1}' "$TZ_WORK/tls.hep")
want="$X|$PT|$(wc -c <"$TZ_WORK/tls.req")|OPTIONS sip:bob@127.0.0.1:$PT SIP/2.0|$cid|1 OPTIONS"
[ "$(sed -n 1p "$TZ_WORK/tls.hep")" = "$want" ] ||
  fail "TLS request captured as '$(sed -n 1p "$TZ_WORK/tls.hep")', wanted '$want'"
case "$(sed -n 2p "$TZ_WORK/tls.hep")" in
  "$PT|$X|"*"|SIP/2.0 200 Over tls|$cid|1 OPTIONS") ;;
  *) fail "TLS answer captured as '$(sed -n 2p "$TZ_WORK/tls.hep")'" ;;
esac
[ "$(wc -l <"$TZ_WORK/tls.hep")" = 2 ] || fail "TLS: $(wc -l <"$TZ_WORK/tls.hep") packets of the call: $(cat "$TZ_WORK/tls.hep")"
pass "OPTIONS over TLS and its 200: captured decrypted, once each, whole, between ports $X and $PT"
tz_stop "$TZ_PID" || fail "stop: status $?"
