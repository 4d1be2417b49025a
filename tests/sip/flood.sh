#!/usr/bin/env bash
# pike: a source flooding over reqs_density per window is refused (503
# with Retry-After in mode 503) for block_time, shows in "tzctl pike list"
# and the counters, and is served again once the block is over; other
# sources are not affected.
. "${TZ_TESTDIR}/sip/lib.sh"
. "${TZ_TESTDIR}/sip/edge.sh"

P=$(ports 1)
CTL="$TZ_WORK/ctl.sock"
edge_start tz "$P" 20 3 503 "ctl_socket=\"$CTL\""
PID=$TZ_PID

sip_msg OPTIONS "$P" | "$TZ_TOOLS/sipstress" flood -n 300 127.0.0.1 "$P" >"$TZ_WORK/flood.out" ||
  fail "sipstress flood"
ok=$(awk '$1 == 200 {print $2}' "$TZ_WORK/flood.out")
busy=$(awk '$1 == 503 {print $2}' "$TZ_WORK/flood.out")
# Replies to a flood may be lost in socket buffers: bounds, not counts.
[ "${ok:-0}" -ge 1 ] && [ "${ok:-0}" -le 21 ] || fail "flood: ${ok:-0} x 200, want at most 21"
[ "${busy:-0}" -ge 50 ] || fail "flood: only ${busy:-0} x 503"
pass "flood of 300: ${ok} x 200 then ${busy} x 503"

"$TZ_TZCTL" -s "$CTL" pike list >"$TZ_WORK/pike.out" || fail "tzctl pike list"
grep -q '^127\.0\.0\.1 ' "$TZ_WORK/pike.out" || fail "pike list: $(cat "$TZ_WORK/pike.out")"
"$TZ_TZCTL" -s "$CTL" stats | grep -q '^pike.blocked 1$' || fail "pike.blocked is not 1"
st=$(sip_msg OPTIONS "$P" | "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" | status_of)
[ "$st" = 503 ] || fail "blocked source got '$st'"
pass "tzctl pike list shows the source; still 503 while blocked"

sleep 3.5 # block_time is over: served again
edge_finish "$PID" "$P"
