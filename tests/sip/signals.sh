#!/usr/bin/env bash
# Process life cycle: SIGTERM and SIGINT end the daemon cleanly; without -D
# it daemonizes, reports start-up success through its exit status, writes a
# pid file and removes it on exit; a port in use is a start-up error.
. "${TZ_TESTDIR}/sip/lib.sh"

CFG="$TZ_TESTDIR/sip/scripts/options.cfg"
set -- $(ports 2)
P=$1 P2=$2

tz_start a "$CFG" -l "udp:127.0.0.1:$P"
tz_stop "$TZ_PID" || fail "SIGTERM: exit status $?"
grep -q "shutting down" "$TZ_WORK/a.log" || fail "no shutdown log line"
pass "SIGTERM -> clean exit 0"

tz_start b "$CFG" -l "udp:127.0.0.1:$P"
kill -INT "$TZ_PID"
wait "$TZ_PID" || fail "SIGINT: exit status $?"
pass "SIGINT -> clean exit 0"

# Daemon mode: the parent exits 0 only once the child serves.
"$TZ_BIN" -f "$CFG" -L "$TZ_MODDIR" -l "udp:127.0.0.1:$P" -P "$TZ_WORK/tz.pid" ||
  fail "daemon start failed"
[ -s "$TZ_WORK/tz.pid" ] || fail "no pid file"
DPID=$(cat "$TZ_WORK/tz.pid")
TZ_PIDS="$TZ_PIDS $DPID"
st=$(sip_msg OPTIONS "$P" | "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" | status_of)
[ "$st" = 200 ] || fail "daemon does not answer ($st)"
pass "daemonized server answers"

# A second instance on the same port must fail at start-up, with status 1.
"$TZ_BIN" -f "$CFG" -L "$TZ_MODDIR" -l "udp:127.0.0.1:$P" >"$TZ_WORK/busy.log" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "second daemon on a busy port: status $rc"
pass "busy port -> start-up failure, status 1"

kill -TERM "$DPID"
for _ in $(seq 1 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DPID" 2>/dev/null && fail "daemon ignored SIGTERM"
[ -e "$TZ_WORK/tz.pid" ] && fail "pid file left behind"
pass "daemon stops on SIGTERM and removes its pid file"
