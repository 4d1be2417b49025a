#!/usr/bin/env bash
# kill -9 loses no acknowledged registration: SIPp registers users at a
# high rate, the server is killed with SIGKILL mid-load, and every user
# that got its 200 OK must be in the database and served after a restart.
. "${TZ_TESTDIR}/sip/lib.sh"
need sipp sqlite3

set -- $(ports 2)
P=$1 SP=$2
DB="$TZ_WORK/location.db"
sed -e "s#@DB@#$DB#" -e "s#@MAXC@#0#" -e "s#@REJ@#0#" \
  "$TZ_TESTDIR/sip/scripts/registrar.cfg.in" >"$TZ_WORK/reg.cfg"
{ echo SEQUENTIAL; for i in $(seq 1 20000); do echo "u$i"; done; } >"$TZ_WORK/users.csv"

tz_start tz "$TZ_WORK/reg.cfg" -l "udp:127.0.0.1:$P"
PID=$TZ_PID

sipp -sf "$TZ_TESTDIR/sip/scenarios/register_uac.xml" -inf "$TZ_WORK/users.csv" \
  -i 127.0.0.1 -p "$SP" -r 2000 -m 20000 -nostdin -timeout 15 \
  -trace_msg -message_file "$TZ_WORK/msgs.log" "127.0.0.1:$P" >"$TZ_WORK/sipp.log" 2>&1 &
SIPP=$!
TZ_PIDS="$TZ_PIDS $SIPP"
sleep 1.5
kill -KILL "$PID"
wait "$PID" 2>/dev/null
sleep 0.5
sipp_stop "$SIPP"
# Users whose REGISTER got a 200 OK before the kill.
sipp_answered "$TZ_WORK/msgs.log" >"$TZ_WORK/acked.txt"
acked=$(wc -l <"$TZ_WORK/acked.txt")
[ "$acked" -ge 100 ] || fail "only $acked registrations acknowledged before the kill"

[ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ] || fail "database corrupt after kill -9"
sqlite3 "$DB" "SELECT username FROM location" | sort -u >"$TZ_WORK/stored.txt"
missing=$(comm -23 "$TZ_WORK/acked.txt" "$TZ_WORK/stored.txt" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing of $acked acknowledged registrations lost: $(comm -23 "$TZ_WORK/acked.txt" "$TZ_WORK/stored.txt" | head -5 | tr '\n' ' ')"
pass "kill -9 after $acked acknowledged REGISTERs: all in the database ($(wc -l <"$TZ_WORK/stored.txt") stored)"

# After a restart the server answers from what it loaded.
tz_start tz2 "$TZ_WORK/reg.cfg" -l "udp:127.0.0.1:$P"
for u in $(shuf -n 10 "$TZ_WORK/acked.txt"); do
  st=$(sip_msg MESSAGE 1 | sed "s#^MESSAGE sip:bob@127.0.0.1:1 #MESSAGE sip:$u@example.test #" |
    "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" | status_of)
  [ "$st" = 200 ] || fail "$u not found after restart ($st)"
done
pass "restart after kill -9 serves the acknowledged bindings"
tz_stop "$TZ_PID" || fail "stop: status $?"
