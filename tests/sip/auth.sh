#!/usr/bin/env bash
# Digest authentication and no open relay: REGISTER challenged with 401
# (SHA-256 and MD5 offered, qop="auth"), answered with raw SHA-256 and MD5
# credentials computed here and by SIPp (MD5, after a reload that offers
# MD5 first: SIPp 3.6 knows no SHA-256); wrong password, another user's
# credentials, a replayed nonce-count and an expired nonce (stale=true)
# refused; subscribers managed with tzctl; INVITE to a foreign domain
# challenged with 407 and relayed with credentials (SIPp); a foreign sender
# refused with 403 unless its address is trusted; baresip registering
# with auth_pass (MD5 only: libre 1.1 gives up on a SHA-256 challenge).
. "${TZ_TESTDIR}/sip/lib.sh"
need sipp sha256sum md5sum

S="$TZ_TESTDIR/sip/scenarios"
set -- $(ports 5)
P=$1 P2=$2 UAS=$3 C=$4 B=$5
CTL="$TZ_WORK/tz.sock"
EXPIRES=2

auth_cfg() { # NAME TRUSTED: writes $TZ_WORK/NAME.cfg
  sed -e "s#@DB@#$TZ_WORK/$1-loc.db#" -e "s#@AUTHDB@#$TZ_WORK/subscriber.db#" \
    -e "s#@CTL@#$TZ_WORK/$1.sock#" -e "s#@EXPIRES@#$EXPIRES#" -e "s#@ALGS@#SHA-256,MD5#" \
    -e "s#@TRUSTED@#$2#" -e "s#@UAS@#$UAS#" "$TZ_TESTDIR/sip/scripts/auth.cfg.in" >"$TZ_WORK/$1.cfg"
}
auth_cfg tz "192.0.2.0/24, 2001:db8::/32"
tz_start tz "$TZ_WORK/tz.cfg" -l "udp:127.0.0.1:$P"
TZ1=$TZ_PID

# ---- helpers ----------------------------------------------------------------

send() { "$TZ_TOOLS/sipsend" 127.0.0.1 "${2:-$P}" <"$1"; }

# request METHOD RURI FROM-USER@DOMAIN TO-USER@DOMAIN CALLID CSEQ BRANCH [HEADER-LINE]
request() {
  {
    printf '%s %s SIP/2.0\n' "$1" "$2"
    printf 'Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-%s\n' "$7"
    printf 'Max-Forwards: 70\nFrom: <sip:%s>;tag=f%s\nTo: <sip:%s>\n' "$3" "$5" "$4"
    printf 'Call-ID: %s\nCSeq: %s %s\nContact: <sip:%s@127.0.0.1:9>\n' "$5" "$6" "$1" "${3%@*}"
    [ -n "${8:-}" ] && printf '%s\n' "$8"
    printf 'Content-Length: 0\n\n'
  } | sed 's/$/\r/'
}

# nonce_of HEADER ALG < response: the nonce of that algorithm's challenge
nonce_of() {
  tr -d '\r' | grep -i "^$1: Digest .*algorithm=$2\(,\|\$\)" | head -1 |
    sed 's/.*nonce="\([^"]*\)".*/\1/'
}

h() { # ALG TEXT: lowercase hex digest
  case $1 in
    SHA-256) printf '%s' "$2" | sha256sum | cut -d' ' -f1 ;;
    MD5) printf '%s' "$2" | md5sum | cut -d' ' -f1 ;;
  esac
}

# creds HEADER ALG USER PASS METHOD URI NONCE NC: an RFC 7616 credentials line
creds() {
  ha1=$(h "$2" "$3:example.test:$4")
  ha2=$(h "$2" "$5:$6")
  resp=$(h "$2" "$ha1:$7:$8:c0ffee:auth:$ha2")
  printf '%s: Digest username="%s", realm="example.test", nonce="%s", uri="%s", response="%s", algorithm=%s, qop=auth, nc=%s, cnonce="c0ffee"' \
    "$1" "$3" "$7" "$6" "$resp" "$2" "$8"
}

# challenge_reg USER CALLID: a fresh 401's SHA-256 nonce for USER's REGISTER
challenge_reg() {
  request REGISTER sip:example.test "$1@example.test" "$1@example.test" "$2" 1 "c$2$RANDOM" \
    >"$TZ_WORK/c.req"
  send "$TZ_WORK/c.req" | nonce_of WWW-Authenticate SHA-256
}

# reg_with USER AUTHUSER PASS CALLID CSEQ BRANCH NONCE NC [ALG]: writes the
# credentialed REGISTER to $TZ_WORK/r.req and prints the response's status
reg_with() {
  line=$(creds Authorization "${9:-SHA-256}" "$2" "$3" REGISTER sip:example.test "$7" "$8")
  request REGISTER sip:example.test "$1@example.test" "$1@example.test" "$4" "$5" "$6" "$line" \
    >"$TZ_WORK/r.req"
  send "$TZ_WORK/r.req" >"$TZ_WORK/r.resp"
  status_of <"$TZ_WORK/r.resp"
}

# ---- challenge ----------------------------------------------------------------

request REGISTER sip:example.test alice@example.test alice@example.test ch1 1 ch1 >"$TZ_WORK/a.req"
out=$(send "$TZ_WORK/a.req" | tr -d '\r')
[ "$(printf '%s\n' "$out" | status_of)" = 401 ] || fail "REGISTER without credentials: $out"
printf '%s\n' "$out" | grep '^WWW-Authenticate:' >"$TZ_WORK/wa"
[ "$(wc -l <"$TZ_WORK/wa")" = 2 ] || fail "wanted two WWW-Authenticate: $out"
head -1 "$TZ_WORK/wa" | grep -q 'algorithm=SHA-256' || fail "SHA-256 not offered first: $out"
tail -1 "$TZ_WORK/wa" | grep -q 'algorithm=MD5' || fail "MD5 not offered: $out"
grep -c 'realm="example.test", nonce="[A-Za-z0-9+/]\{48\}", qop="auth"' "$TZ_WORK/wa" | grep -q 2 ||
  fail "challenge parameters: $out"
grep -q stale "$TZ_WORK/wa" && fail "stale on a first challenge: $out"
pass "REGISTER without credentials -> 401, SHA-256 then MD5, qop=\"auth\""

# ---- subscribers ----------------------------------------------------------------

ctl subscriber add alice@example.test 'alice secret' | grep -q "added alice@example.test" ||
  fail "subscriber add: $(ctl subscriber add alice@example.test 'alice secret' 2>&1)"
ctl subscriber add carol@Example.TEST carolpw >/dev/null || fail "subscriber add carol"
ctl subscriber add dave@other.test davepw >/dev/null || fail "subscriber add dave"
out=$(ctl subscriber list)
printf '%s\n' "$out" | grep -q "^alice  *example.test  *true" || fail "subscriber list: $out"
printf '%s\n' "$out" | grep -q "^carol  *example.test" || fail "domain not lowercased: $out"
[ "$(ctl subscriber list other.test | wc -l)" = 2 ] || fail "list other.test: $(ctl subscriber list other.test)"
ctl subscriber remove dave@other.test | grep -q "removed 1" || fail "subscriber remove"
ctl subscriber remove dave@other.test | grep -q "removed 0" || fail "second remove"
ctl subscriber add nobody secret >/dev/null 2>&1 && fail "subscriber add without @DOMAIN accepted"
ctl --json call auth.subscriber_add '{"username":"x"}' >/dev/null 2>&1 && fail "add without domain accepted"
if command -v sqlite3 >/dev/null 2>&1; then
  [ "$(sqlite3 "$TZ_WORK/subscriber.db" "SELECT ha1_sha256 FROM subscriber WHERE username='alice'")" = \
    "$(h SHA-256 'alice:example.test:alice secret')" ] || fail "stored ha1_sha256"
fi
pass "tzctl subscriber add/list/remove"

# ---- raw SHA-256, replay, retransmission ----------------------------------------------

n=$(challenge_reg alice sha1)
[ -n "$n" ] || fail "no SHA-256 nonce"
st=$(reg_with alice alice 'alice secret' sha1 2 b1 "$n" 00000001)
[ "$st" = 200 ] || fail "SHA-256 REGISTER: $st $(cat "$TZ_WORK/r.resp")"
pass "REGISTER with SHA-256 credentials -> 200"

st=$(send "$TZ_WORK/r.req" | status_of)
[ "$st" = 200 ] || fail "a retransmission (same request, same nc) got $st"
pass "retransmission with the same nonce-count -> 200"

sed "s/branch=z9hG4bK-b1/branch=z9hG4bK-b2/; s/^CSeq: 2 /CSeq: 3 /" "$TZ_WORK/r.req" >"$TZ_WORK/replay.req"
out=$(send "$TZ_WORK/replay.req" | tr -d '\r')
[ "$(printf '%s\n' "$out" | status_of)" = 401 ] || fail "replayed nonce-count accepted: $out"
pass "replayed nonce and nonce-count in a new request -> 401"

st=$(reg_with alice alice 'alice secret' sha1 4 b3 "$n" 00000002)
[ "$st" = 200 ] || fail "next nonce-count: $st"
pass "the same nonce with a higher nonce-count -> 200"

n=$(challenge_reg alice md1)
n5=$(request REGISTER sip:example.test alice@example.test alice@example.test md1 1 md1x | send /dev/stdin |
  nonce_of WWW-Authenticate MD5)
st=$(reg_with alice alice 'alice secret' md1 2 m1 "$n5" 00000001 MD5)
[ "$st" = 200 ] || fail "MD5 REGISTER: $st"
pass "raw MD5 credentials -> 200"

# ---- refusals -------------------------------------------------------------------------

n=$(challenge_reg alice wp1)
st=$(reg_with alice alice 'wrong' wp1 2 w1 "$n" 00000001)
[ "$st" = 401 ] || fail "wrong password: $st"
grep -q stale "$TZ_WORK/r.resp" && fail "stale=true for a wrong password"
pass "wrong password -> 401 without stale"

n=$(challenge_reg carol id1)
st=$(reg_with carol alice 'alice secret' id1 2 i1 "$n" 00000001)
[ "$st" = 401 ] || fail "alice's credentials for carol's AOR: $st"
pass "registering another user's AOR -> 401"

st=$(reg_with alice alice 'alice secret' ts1 2 t1 "${n%????}AAAA" 00000001)
[ "$st" = 401 ] || fail "tampered nonce: $st"
pass "tampered nonce -> 401"

n=$(challenge_reg alice ex1)
sleep $((EXPIRES + 1)).2
st=$(reg_with alice alice 'alice secret' ex1 2 e1 "$n" 00000001)
[ "$st" = 401 ] || fail "expired nonce: $st"
grep -q 'stale=true' "$TZ_WORK/r.resp" || fail "no stale=true for an expired nonce: $(cat "$TZ_WORK/r.resp")"
n=$(tr -d '\r' <"$TZ_WORK/r.resp" | nonce_of WWW-Authenticate SHA-256)
st=$(reg_with alice alice 'alice secret' ex1 3 e2 "$n" 00000001)
[ "$st" = 200 ] || fail "after stale: $st"
pass "expired nonce -> 401 stale=true; its new nonce -> 200"

# ---- reload: MD5 first for SIPp; nonces survive --------------------------------

n=$(challenge_reg alice rl1)
sed -i 's/"SHA-256,MD5"/"MD5,SHA-256"/' "$TZ_WORK/tz.cfg"
ctl script reload >/dev/null || fail "reload with MD5 first"
st=$(reg_with alice alice 'alice secret' rl1 2 rl "$n" 00000001)
[ "$st" = 200 ] || fail "a nonce from before the reload: $st"
request REGISTER sip:example.test alice@example.test alice@example.test rl2 1 rl2 >"$TZ_WORK/a.req"
send "$TZ_WORK/a.req" | tr -d '\r' | grep '^WWW-Authenticate:' | head -1 | grep -q 'algorithm=MD5' ||
  fail "MD5 not first after reload"
pass "script reload: nonces issued before stay valid, algorithms modparam reorders the offer"

# ---- SIPp: MD5 -------------------------------------------------------------------------

sipp -sf "$S/auth_register.xml" -s carol -au carol -ap carolpw -auth_uri example.test -i 127.0.0.1 -p "$C" -m 1 \
  -nostdin -timeout 10 -timeout_error -trace_msg -message_file "$TZ_WORK/sipp-reg.msg" \
  "127.0.0.1:$P" >"$TZ_WORK/sipp-reg.out" 2>&1 ||
  fail "SIPp REGISTER with auth: $(tail -5 "$TZ_WORK/sipp-reg.out"; tail -40 "$TZ_WORK/sipp-reg.msg")"
grep -q 'algorithm=MD5' "$TZ_WORK/sipp-reg.msg" || fail "SIPp did not answer with MD5"
ctl location show carol@example.test | grep -q "sip:carol@127.0.0.1:$C" || fail "carol not bound"
pass "SIPp REGISTER with [authentication] (MD5) -> 200, binding stored"

# ---- no open relay --------------------------------------------------------------------

request INVITE sip:bob@foreign.test alice@example.test bob@foreign.test inv1 1 inv1 >"$TZ_WORK/i.req"
out=$(send "$TZ_WORK/i.req" | tr -d '\r')
[ "$(printf '%s\n' "$out" | grep '^SIP/2.0 [2-6]' | awk '{print $2}')" = 407 ] ||
  fail "INVITE to a foreign domain without credentials: $out"
[ "$(printf '%s\n' "$out" | grep -c '^Proxy-Authenticate: Digest')" = 2 ] || fail "Proxy-Authenticate: $out"
pass "INVITE to a foreign domain without credentials -> 407"

request INVITE sip:bob@foreign.test mallory@evil.test bob@foreign.test inv2 1 inv2 >"$TZ_WORK/i.req"
out=$(send "$TZ_WORK/i.req" | tr -d '\r' | grep '^SIP/2.0 [2-6]' | head -1)
[ "$out" = "SIP/2.0 403 Relaying Denied" ] || fail "foreign sender to a foreign domain: $out"
pass "foreign sender, foreign domain, not trusted -> 403 Relaying Denied"

sipp -sf "$S/call_uas.xml" -i 127.0.0.1 -p "$UAS" -m 1 -nostdin -timeout 20 -timeout_error \
  -trace_msg -message_file "$TZ_WORK/uas.msg" >"$TZ_WORK/uas.out" 2>&1 &
UASPID=$!
TZ_PIDS="$TZ_PIDS $UASPID"
wait_udp "$UAS"
sipp -sf "$S/auth_invite_uac.xml" -s bob -au alice -ap 'alice secret' -auth_uri bob@foreign.test -i 127.0.0.1 -p "$C" -m 1 \
  -nostdin -timeout 20 -timeout_error -trace_msg -message_file "$TZ_WORK/uac.msg" \
  "127.0.0.1:$P" >"$TZ_WORK/uac.out" 2>&1 ||
  fail "SIPp INVITE with proxy auth: $(tail -5 "$TZ_WORK/uac.out"; tail -60 "$TZ_WORK/uac.msg")"
wait "$UASPID" || fail "callee: $(tail -5 "$TZ_WORK/uas.out"; tail -30 "$TZ_WORK/uas.msg")"
grep -qi '^Proxy-Authorization' "$TZ_WORK/uas.msg" && fail "credentials were relayed to the callee"
pass "INVITE with proxy credentials (SIPp) -> relayed, call set up and torn down, credentials consumed"

auth_cfg trusted "127.0.0.1, ::1"
tz_start trusted "$TZ_WORK/trusted.cfg" -l "udp:127.0.0.1:$P2"
TZ2=$TZ_PID
sipp -sf "$S/reject_uas.xml" -i 127.0.0.1 -p "$UAS" -m 1 -nostdin -timeout 10 -timeout_error \
  -key status "SIP/2.0 486 Busy Here" -key hdr "X-Callee: busy" >"$TZ_WORK/busy.out" 2>&1 &
BUSY=$!
TZ_PIDS="$TZ_PIDS $BUSY"
wait_udp "$UAS"
request INVITE sip:bob@foreign.test mallory@evil.test bob@foreign.test inv3 1 inv3 >"$TZ_WORK/i.req"
out=$("$TZ_TOOLS/sipsend" -w 3000 127.0.0.1 "$P2" <"$TZ_WORK/i.req" | tr -d '\r')
[ "$(printf '%s\n' "$out" | grep '^SIP/2.0 [2-6]' | awk '{print $2}')" = 486 ] ||
  fail "trusted source: wanted the callee's 486: $out"
wait "$BUSY" || fail "busy callee: $(tail -5 "$TZ_WORK/busy.out")"
pass "trusted source address, foreign domain, no credentials -> relayed"
tz_stop "$TZ2" || fail "stop trusted: status $?"

# ---- counters, removal ------------------------------------------------------------------

stats=$(ctl stats)
for c in auth.ok auth.challenges auth.failed auth.stale; do
  printf '%s\n' "$stats" | grep -q "^$c [1-9]" || fail "counter $c: $stats"
done
pass "auth.ok, auth.challenges, auth.failed, auth.stale counted"

ctl subscriber remove alice@example.test >/dev/null || fail "remove alice"
n=$(challenge_reg alice rm1)
st=$(reg_with alice alice 'alice secret' rm1 2 rm "$n" 00000001)
[ "$st" = 401 ] || fail "removed subscriber: $st"
pass "a removed subscriber is refused at once"

# ---- baresip --------------------------------------------------------------------------

# baresip 1.0 (libre 1.1) fails a whole challenge when any header names an
# algorithm it lacks, as SHA-256 (RFC 8760 says to skip it): such clients
# need algorithms "MD5".
if command -v baresip >/dev/null 2>&1; then
  ctl subscriber add erin@example.test erinpw >/dev/null || fail "add erin"
  sed -i 's/"MD5,SHA-256"/"MD5"/' "$TZ_WORK/tz.cfg"
  ctl script reload >/dev/null || fail "reload with MD5 only"
  d="$TZ_WORK/erin"
  mkdir -p "$d"
  cat >"$d/config" <<CFG
poll_method		epoll
sip_listen		127.0.0.1:$B
net_interface		127.0.0.1
dns_server		127.0.0.1:1
audio_player		aufile,$d/heard.wav
audio_source		ausine,440
module_path		/usr/lib/baresip/modules
module			ausine.so
module			aufile.so
module_app		account.so
CFG
  echo "<sip:erin@example.test>;auth_pass=erinpw;outbound=\"sip:127.0.0.1:$P;transport=udp\";regint=600" >"$d/accounts"
  timeout 20 baresip -f "$d" -t 6 >"$TZ_WORK/erin.log" 2>&1 &
  ERIN=$!
  TZ_PIDS="$TZ_PIDS $ERIN"
  for _ in $(seq 1 60); do
    grep -q "erin@example.test: .* 200 OK" "$TZ_WORK/erin.log" && break
    sleep 0.1
  done
  grep -q "erin@example.test: .* 200 OK" "$TZ_WORK/erin.log" ||
    fail "baresip did not register with auth: $(tail -5 "$TZ_WORK/erin.log")"
  ctl location show erin@example.test | grep -q "erin@example.test" || fail "erin not bound"
  kill "$ERIN" 2>/dev/null
  wait "$ERIN" 2>/dev/null
  pass "baresip registers with auth_pass through the 401 challenge"
else
  echo "SKIP: baresip not installed (REGISTER with baresip)"
fi

tz_stop "$TZ1" || fail "stop: status $?"
