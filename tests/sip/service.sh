#!/usr/bin/env bash
# Running as a service: systemd's notification protocol (Type=notify) without
# systemd, through a stand-in socket (tools/notifyrecv): READY=1 only once
# the daemon answers, STATUS with addresses and workers, RELOADING=1/READY=1
# around good and bad reloads, WATCHDOG=1 while every worker answers,
# STOPPING=1. Then, as root, dropping to a service user (-u/-g, user=):
# sockets below 1024 still bind, the process keeps no root id, the database
# and control socket belong to the user, and a reload reopens the database
# as that user. Bad users are refused with a clear message.
. "${TZ_TESTDIR}/sip/lib.sh"

set -- $(ports 2)
P=$1 P2=$2
CTL="$TZ_WORK/ctl.sock"
NS="$TZ_WORK/notify.sock"
W=${TZ_TEST_WORKERS:-1}

write_cfg() { # FILE DB [EXTRA-SETTING-LINE]
  cat >"$1" <<EOF
debug=2
${3:-}
loadmodule "location"
loadmodule "registrar"
modparam("location", "db_path", "$2")
request_route {
    if (is_method("OPTIONS")) { sl_reply(200, "OK"); exit; }
    if (is_method("REGISTER")) { save("location"); exit; }
    sl_reply(404, "Not Here");
}
EOF
}
CFG="$TZ_WORK/svc.cfg"
write_cfg "$CFG" "$TZ_WORK/loc.db"

options_status() { sip_msg OPTIONS "$1" | "$TZ_TOOLS/sipsend" 127.0.0.1 "$1" | status_of; }

# ---- the notification protocol ----------------------------------------
"$TZ_TOOLS/notifyrecv" "$NS" >"$TZ_WORK/notify.out" 2>&1 &
TZ_PIDS="$TZ_PIDS $!"
for _ in $(seq 1 50); do [ -S "$NS" ] && break; sleep 0.05; done
[ -S "$NS" ] || fail "notifyrecv did not bind"

NOTIFY_SOCKET="$NS" WATCHDOG_USEC=400000 \
  "$TZ_BIN" -D -E -f "$CFG" -L "$TZ_MODDIR" -w "$W" -s "$CTL" -l "udp:127.0.0.1:$P" \
  >"$TZ_WORK/a.log" 2>&1 &
APID=$!
TZ_PIDS="$TZ_PIDS $APID"
wait_for "$TZ_WORK/notify.out" "READY=1" || fail "no READY=1"
# READY means serving: the first OPTIONS after it is answered.
[ "$(options_status "$P")" = 200 ] || fail "READY=1 before the daemon answers"
first=$(head -n 1 "$TZ_WORK/notify.out")
case "$first" in
  "READY=1 STATUS=listening on udp:127.0.0.1:$P; $W worker"*"; generation 1; modules: location registrar"*) ;;
  *) fail "first notification: '$first'" ;;
esac
pass "READY=1 once serving, STATUS names the address, $W worker(s), modules"

sleep 1
n=$(grep -c "^WATCHDOG=1" "$TZ_WORK/notify.out")
[ "$n" -ge 3 ] || fail "WATCHDOG=1 sent $n times in 1 s (every 200 ms expected)"
pass "WATCHDOG=1 every half WatchdogSec ($n in 1 s)"

"$TZ_TZCTL" -s "$CTL" script reload >/dev/null || fail "reload refused"
wait_for "$TZ_WORK/notify.out" "READY=1 STATUS=listening .*generation 2" ||
  fail "no READY=1 after the reload"
grep -B 20 "generation 2" "$TZ_WORK/notify.out" | grep -q "^RELOADING=1 MONOTONIC_USEC=[0-9]" ||
  fail "no RELOADING=1 before the reload's READY=1"
pass "reload: RELOADING=1, then READY=1 with the new generation"

printf 'request_route {\n    sl_reply(200 "OK");\n}\n' >"$TZ_WORK/bad.cfg"
"$TZ_TZCTL" -s "$CTL" script reload "$TZ_WORK/bad.cfg" >"$TZ_WORK/bad.out" 2>&1 &&
  fail "a bad script was accepted"
grep -q "bad.cfg:2:" "$TZ_WORK/bad.out" || fail "bad reload: no file:line: $(cat "$TZ_WORK/bad.out")"
wait_for "$TZ_WORK/notify.out" "READY=1 STATUS=reload failed, the old script serves; .*generation 2" ||
  fail "failed reload: no READY=1 saying the old script serves"
[ "$(options_status "$P")" = 200 ] || fail "no answer after the failed reload"
pass "failed reload: READY=1, STATUS says the old script (generation 2) serves"

kill -HUP "$APID"
wait_for "$TZ_WORK/notify.out" "generation 3" || fail "SIGHUP: no notification"
pass "SIGHUP reload notifies too"

tz_stop "$APID" || fail "exit status $?"
grep -q "^STOPPING=1" "$TZ_WORK/notify.out" || fail "no STOPPING=1"
pass "STOPPING=1 at shutdown"

# The start line names version, script, addresses, workers and modules.
grep -q "trapezoid [0-9.]* serving $CFG: listening on udp:127.0.0.1:$P; $W worker.*modules: location registrar" \
  "$TZ_WORK/a.log" || fail "start line: $(grep serving "$TZ_WORK/a.log")"
pass "the start line names version, script, address, workers, modules"

# ---- users ------------------------------------------------------------------
"$TZ_BIN" -D -E -f "$CFG" -L "$TZ_MODDIR" -l "udp:127.0.0.1:$P" -u no-such-user-tz \
  >"$TZ_WORK/nouser.log" 2>&1 && fail "an unknown user was accepted"
grep -q "unknown user 'no-such-user-tz'" "$TZ_WORK/nouser.log" ||
  fail "unknown user: $(cat "$TZ_WORK/nouser.log")"
write_cfg "$TZ_WORK/baduser.cfg" "$TZ_WORK/x.db" 'user = "no-such-user-tz"'
"$TZ_BIN" -c -f "$TZ_WORK/baduser.cfg" -L "$TZ_MODDIR" >"$TZ_WORK/baduser.out" 2>&1 &&
  fail "-c accepted an unknown user="
grep -q "baduser.cfg:2:8: error: unknown user 'no-such-user-tz'" "$TZ_WORK/baduser.out" ||
  fail "user= error: $(cat "$TZ_WORK/baduser.out")"
pass "an unknown user: refused, on the command line and at the script's line"

if [ "$(id -u)" != 0 ]; then
  "$TZ_BIN" -D -E -f "$CFG" -L "$TZ_MODDIR" -l "udp:127.0.0.1:$P" -u root \
    >"$TZ_WORK/notroot.log" 2>&1 && fail "switched users without root"
  grep -q "only root can switch users" "$TZ_WORK/notroot.log" || fail "$(cat "$TZ_WORK/notroot.log")"
  pass "not root: switching users is refused (root parts skipped)"
  exit 0
fi

id nobody >/dev/null 2>&1 || fail "no user nobody"
NUID=$(id -u nobody)
NGID=$(getent group nogroup | cut -d: -f3)
[ -n "$NGID" ] || fail "no group nogroup"
# A port below 1024 that nothing uses: only root binds it.
LOW=""
for p in $(seq 700 999); do
  grep -q "$(printf ':%04X ' "$p")" /proc/net/udp /proc/net/tcp 2>/dev/null || { LOW=$p; break; }
done
[ -n "$LOW" ] || fail "no free port below 1024"
SD="$TZ_WORK/state"
mkdir -p "$SD"
chown nobody:nogroup "$SD"
chmod 755 "$TZ_WORK"
write_cfg "$CFG" "$SD/loc.db" 'group = "nogroup"'
CTL2="$SD/ctl.sock"
tz_start b "$CFG" -l "udp:127.0.0.1:$LOW" -l "udp:127.0.0.1:$P2" -s "$CTL2" -u nobody
BPID=$TZ_PID
[ "$(options_status "$LOW")" = 200 ] || fail "no answer on port $LOW"
ids=$(awk '/^Uid:/ {print $2, $3, $4, $5} /^Gid:/ {print $2, $3, $4, $5}' "/proc/$BPID/status" | tr '\n' ' ')
[ "$ids" = "$NUID $NUID $NUID $NUID $NGID $NGID $NGID $NGID " ] ||
  fail "ids after the drop (real effective saved fs): $ids"
for t in /proc/"$BPID"/task/*; do
  grep -q "^Uid:[[:space:]]*$NUID[[:space:]]" "$t/status" || fail "thread $t kept another uid"
done
pass "bound port $LOW as root, then every thread runs as nobody:nogroup (no saved root id)"

for f in "$SD/loc.db" "$CTL2"; do
  [ "$(stat -c %U:%G "$f")" = nobody:nogroup ] || fail "$f belongs to $(stat -c %U:%G "$f")"
done
pass "the database and the control socket belong to nobody:nogroup"

st=$(sip_reg "$P2" alice c1@x 1 "Contact: <sip:alice@127.0.0.1:9>;expires=600" | status_of)
[ "$st" = 200 ] || fail "REGISTER as nobody: $st"
"$TZ_TZCTL" -s "$CTL2" script reload >/dev/null || fail "reload as nobody refused"
st=$(sip_reg "$P2" alice c1@x 2 "Contact: <sip:alice@127.0.0.1:9>;expires=600" | status_of)
[ "$st" = 200 ] || fail "REGISTER after the reload: $st"
[ "$(sqlite3 "$SD/loc.db" "select count(*) from location")" = 1 ] || fail "binding not stored"
pass "REGISTER stored, reload reopens the database as nobody, REGISTER stored again"
tz_stop "$BPID" || fail "exit status $?"
