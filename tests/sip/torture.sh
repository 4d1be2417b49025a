#!/usr/bin/env bash
# RFC 4475 torture messages (tests/torture/, expectations in its INDEX)
# sent over UDP and TCP to a server that runs sanity_check(). A request
# counts as processed when the script logged it as sane: most torture
# messages carry Vias we cannot receive on, so the log, not the response,
# tells. Nta drops a request whose top Via names another transport than
# the one it came on, so the top Via's transport is made the one used (a
# folded one, as in wsinv, stays as it is). Over TCP a refused request
# must get 4xx/5xx or nothing. Afterwards the server must serve a REGISTER
# and exit cleanly.
. "${TZ_TESTDIR}/sip/lib.sh"
. "${TZ_TESTDIR}/sip/edge.sh"

P=$(ports 1)
edge_start tz "$P" 100000 60 script ""
PID=$TZ_PID
DIR="$TZ_TESTDIR/torture"
LOG="$TZ_WORK/tz.log"

# A request answered over rport: once its 200 is back, the server has
# handled everything sent before it.
torture_barrier() {
  sip_msg OPTIONS "$P" | sed "s/Call-ID: /Call-ID: barrier-/" |
    "$TZ_TOOLS/sipsend" -w 2000 127.0.0.1 "$P" | status_of | grep -q 200 ||
    fail "no answer to the barrier request"
}

# torture_via FILE PROTO: the message with its top Via's transport made
# PROTO; only lines up to the first Via header are touched.
torture_via() {
  t=$(echo "$2" | tr a-z A-Z)
  sed "0,/^\(Via\|v\)[ \t]*:/{s#SIP/2.0/\(UDP\|TCP\|TLS\|SCTP\)#SIP/2.0/$t#}" "$1"
}

torture_sane_count() { grep "edge: sane" "$LOG" | grep -vc "barrier-"; }

# torture_run FILE PROTO: prints "processed" or "refused", and for TCP the
# status that came back ("-" for none).
torture_run() {
  before=$(torture_sane_count)
  if [ "$2" = tcp ]; then
    st=$(torture_via "$1" tcp | "$TZ_TOOLS/sipsend" -t -w 500 127.0.0.1 "$P" |
      status_of)
  else
    torture_via "$1" udp | "$TZ_TOOLS/sipsend" -w 100 127.0.0.1 "$P" >/dev/null
    st=""
  fi
  torture_barrier
  after=$(torture_sane_count)
  if [ "$after" -gt "$before" ]; then echo "processed ${st:--}"; else echo "refused ${st:--}"; fi
}

n=0
while read -r file validity udp tcp _; do
  case "$file" in '#'* | '') continue ;; esac
  for proto in udp tcp; do
    want=$udp
    [ $proto = tcp ] && want=$tcp
    set -- $(torture_run "$DIR/$file" $proto)
    kill -0 "$PID" 2>/dev/null || fail "server died on $file over $proto"
    [ "$1" = "$want" ] || fail "$file ($validity) over $proto: $1, want $want"
    case "$1:$2" in
    refused:- | refused:4?? | refused:5?? | processed:-) ;;
    processed:200 | processed:404) ;;
    *) fail "$file over $proto: $1 with status $2" ;;
    esac
  done
  n=$((n + 1))
done <"$DIR/INDEX"
[ "$n" -ge 49 ] || fail "INDEX lists only $n messages"
pass "$n RFC 4475 messages over UDP and TCP as INDEX says; server alive"

edge_finish "$PID" "$P"
