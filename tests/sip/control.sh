#!/usr/bin/env bash
# Runtime control with tzctl against a running server: version, modules,
# locations, stats, the Prometheus endpoint, tracing, script check and
# reload (a broken script keeps the old one serving), module unload refused
# while in use and allowed after a reload drops its calls, load back,
# SIGHUP, and script test on the serving script rather than the file.
. "${TZ_TESTDIR}/sip/lib.sh"

set -- $(ports 4)
P=$1 HP=$2 DEAD=$3 SP=$4
CTL="$TZ_WORK/ctl.sock"
CFG="$TZ_WORK/ctl.cfg"
options_reason() {
  sip_msg OPTIONS "$P" | "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" | head -n 1 | tr -d '\r' | cut -d' ' -f3-
}

control_cfg "First Script"
tz_start tz "$CFG" -l "udp:127.0.0.1:$P"
[ -S "$CTL" ] || fail "no control socket"
[ "$(stat -c %a "$CTL")" = 600 ] || fail "control socket mode $(stat -c %a "$CTL"), wanted 600"

out=$(ctl --json version) || fail "tzctl version: $out"
printf '%s' "$out" | grep -q '"generation":1' || fail "version: $out"
ctl version | grep -q trapezoid || fail "readable version"
pass "tzctl version (socket mode 0600)"

out=$(ctl module list) || fail "module list: $out"
for m in location registrar rr testmod; do
  printf '%s\n' "$out" | grep -q "^$m" || fail "module list lacks $m: $out"
done
pass "tzctl module list"

# A secret parameter is shown with its passwords masked, the rest kept.
dsn=$(ctl --json module list | grep -o '"dsn":"[^"]*"')
[ "$dsn" = '"dsn":"postgresql://tz:***@db.example:5432/tz?sslmode=require&password=*** password=*** user=tz"' ] ||
  fail "testmod's dsn as module list shows it: $dsn"
pass "module list masks the passwords of a secret parameter"

st=$(sip_register "$P" bob sip:bob@127.0.0.1:5999)
[ "$st" = 200 ] || fail "REGISTER: $st"
ctl location show | grep -q "bob@example.test.*sip:bob@127.0.0.1:5999" || fail "location show: $(ctl location show)"
ctl --json location show bob@example.test | grep -q '"contact":"sip:bob@127.0.0.1:5999"' || fail "location show AOR"
ctl --json location count | grep -q '"aors":1,"bindings":1' || fail "location count: $(ctl --json location count)"
ctl --json location remove bob@example.test | grep -q '"removed":1' || fail "location remove"
ctl --json location count | grep -q '"aors":0' || fail "count after remove: $(ctl --json location count)"
pass "tzctl location show/count/remove"

# location add: the registrar's key for the URI, seen by location show and
# by lookup() at once (the INVITE is relayed: 100 Trying, where an AOR
# without bindings gets the script's 404), durable once pending is 0.
invite() {
  sip_msg INVITE "$P" | sed "1s/bob@127.0.0.1:[0-9]*/$1/" |
    "$TZ_TOOLS/sipsend" -a -w 500 127.0.0.1 "$P" | tr -d '\r' | grep '^SIP/2.0'
}
out=$(ctl location add sip:carol@Example.TEST "<sip:carol@127.0.0.1:$DEAD>" 120) || fail "location add: $out"
printf '%s\n' "$out" | grep -q '^aor carol@example.test$' || fail "location add: $out"
ctl location show | grep -q "^carol@example.test  *sip:carol@127.0.0.1:$DEAD  *1[12][0-9] " ||
  fail "location show after add: $(ctl location show)"
invite carol@example.test | grep -q '^SIP/2.0 100 ' || fail "INVITE to the added binding: $(invite carol@example.test)"
invite dave@example.test | grep -q '^SIP/2.0 404 ' || fail "INVITE to no binding: $(invite dave@example.test)"
for _ in $(seq 1 50); do
  ctl --json location show carol@example.test | grep -q '"pending":0' && break
  sleep 0.1
done
[ "$(sqlite3 "$TZ_WORK/c.db" "SELECT callid FROM location WHERE username = 'carol'")" = tzctl-add ] ||
  fail "the added binding is not in the database"
err=$(ctl location add sip:carol@example.test tel:+15551234 2>&1) && fail "location add of a tel: contact passed"
printf '%s\n' "$err" | grep -q "'contact' must be" || fail "location add of a tel: contact: $err"
ctl location remove carol@example.test >/dev/null || fail "location remove carol"
pass "tzctl location add: location show and an INVITE's lookup see it, then the database"

ctl --json stats | grep -q '"sip.requests.REGISTER":1' || fail "stats: $(ctl --json stats)"
ctl stats | grep -q "^sip.requests.REGISTER *1$" || fail "readable stats: $(ctl stats)"
exec 3<>"/dev/tcp/127.0.0.1/$HP"
printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
metrics=$(cat <&3)
exec 3<&-
printf '%s\n' "$metrics" | grep -q '^trapezoid_sip_requests_REGISTER 1' || fail "prometheus: $metrics"
printf '%s\n' "$metrics" | grep -q '^# TYPE trapezoid_location_bindings gauge' || fail "prometheus gauge"
pass "stats via tzctl and Prometheus text on loopback HTTP"

ctl trace on --callid trace-me >/dev/null || fail "trace on"
sip_msg OPTIONS "$P" | sed 's/^Call-ID: .*/Call-ID: trace-me\r/' | "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" >/dev/null
sip_msg OPTIONS "$P" | "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" >/dev/null
n=$(grep -c "trace: $CFG:" "$TZ_WORK/tz.log")
[ "$n" -ge 2 ] || fail "no trace lines for the traced call"
ctl trace off >/dev/null
before=$(grep -c "trace:" "$TZ_WORK/tz.log")
sip_msg OPTIONS "$P" | sed 's/^Call-ID: .*/Call-ID: trace-me\r/' | "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" >/dev/null
[ "$(grep -c "trace:" "$TZ_WORK/tz.log")" = "$before" ] || fail "traced after trace off"
pass "trace on for one Call-ID logs file:line of each executed statement; off stops it"

# script check and a broken reload: the old script keeps serving.
cp "$CFG" "$TZ_WORK/good.cfg"
printf 'request_route {\n    sl_replly(200, "x");\n}\n' >"$TZ_WORK/bad.cfg"
ctl script check "$TZ_WORK/good.cfg" >/dev/null || fail "check of a good script"
err=$(ctl script check "$TZ_WORK/bad.cfg" 2>&1) && fail "check of a bad script passed"
printf '%s\n' "$err" | grep -q "bad.cfg:2:5: error: unknown function 'sl_replly'" || fail "check error: $err"
err=$(ctl script reload "$TZ_WORK/bad.cfg" 2>&1) && fail "reload of a bad script passed"
printf '%s\n' "$err" | grep -q "bad.cfg:2:5: error" || fail "reload error: $err"
[ "$(options_reason)" = "First Script" ] || fail "old script not serving after a failed reload"
ctl --json version | grep -q '"generation":1' || fail "generation changed by a failed reload"
pass "script check; a broken reload reports file:line:col and the old script keeps serving"

control_cfg "Second Script"
ctl script reload >/dev/null || fail "reload"
[ "$(options_reason)" = "Second Script" ] || fail "new script not serving: $(options_reason)"
pass "script reload: the new script serves at once"

err=$(ctl module unload testmod 2>&1) && fail "unload of a module in use passed"
printf '%s\n' "$err" | grep -q "in use by the running script" || fail "refusal: $err"
printf '%s\n' "$err" | grep -q "ctl.cfg:[0-9]*:[0-9]*: tm_answer()" || fail "refusal names no line: $err"
err=$(ctl module unload location 2>&1) && fail "unload of location passed"
printf '%s\n' "$err" | grep -q "needed by module 'registrar'" || fail "dependency refusal: $err"
pass "unload refused while the script or another module uses the module"

control_cfg "Third Script" '/# testmod$/d'
ctl script reload >/dev/null || fail "reload without testmod calls"
ctl module unload testmod >/dev/null || fail "unload after the reload"
ctl module list | grep -q "^testmod" && fail "testmod still listed"
[ "$(options_reason)" = "Third Script" ] || fail "not serving after unload"
ctl module load testmod >/dev/null || fail "load back"
ctl --json module list | grep -q '"answer":7' || fail "testmod lost its parameters"
err=$(ctl module load testmod 2>&1) && fail "double load passed"
pass "reload dropping its calls, then unload; load brings it back with its parameters"

gen=$(ctl --json version | sed 's/.*"generation":\([0-9]*\).*/\1/')
control_cfg "Fourth Script"
kill -HUP "$TZ_PID"
for _ in $(seq 1 50); do
  [ "$(options_reason)" = "Fourth Script" ] && break
  sleep 0.1
done
[ "$(options_reason)" = "Fourth Script" ] || fail "SIGHUP did not reload"
ctl --json version | grep -q "\"generation\":$((gen + 1))" || fail "SIGHUP generation"
pass "SIGHUP reloads the script"

ctl nosuch 2>/dev/null; [ $? -eq 2 ] || fail "unknown tzctl command should exit 2"
"$TZ_TZCTL" -s "$TZ_WORK/none.sock" version 2>/dev/null; [ $? -eq 3 ] || fail "no server should exit 3"
pass "tzctl exit codes: usage 2, no server 3"
tz_stop "$TZ_PID" || fail "stop: status $?"
[ -e "$CTL" ] && fail "control socket left behind"
pass "clean exit removes the control socket"

# script test runs the cases on the serving text, in a scratch copy: an
# edit on disk counts only once reloaded. The server listens on -l SP; the
# text keeps its own listen= address, which the harness takes (its sockets
# are sealed) and trapezoid.sipt's Record-Route expects.
SCFG="$TZ_WORK/trapezoid.cfg" SCTL="$TZ_WORK/serve.sock" SIPT="$TZ_SRCDIR/tests/script/trapezoid.sipt"
# (with a farm's database URL in a comment: script show masks its password)
{ cat "$TZ_SRCDIR/etc/trapezoid.cfg"; echo '# db_url "postgresql://tz:s3cret@db.example/tz"'; } >"$SCFG"
tz_start serve "$SCFG" -l "udp:127.0.0.1:$SP" -s "$SCTL" \
  -o "location.db_path=$TZ_WORK/serve-location.db" -o "auth.db_path=$TZ_WORK/serve-subscriber.db"
mkdir "$TZ_WORK/tmp"
script_test() {
  TMPDIR="$TZ_WORK/tmp" TZ_TRAPEZOID="$TZ_BIN" "$TZ_TZCTL" -s "$SCTL" script test "$SIPT" \
    >"$TZ_WORK/st.tap" 2>"$TZ_WORK/st.err"
}
script_test || fail "script test: status $?: $(cat "$TZ_WORK/st.err")"
grep -q '^# [1-9][0-9]* passed, 0 failed$' "$TZ_WORK/st.tap" || fail "script test: $(cat "$TZ_WORK/st.tap")"
[ -z "$(ls -A "$TZ_WORK/tmp")" ] || fail "script test left $(ls -A "$TZ_WORK/tmp")"
pass "tzctl script test: trapezoid.sipt passes on the serving script; its copy is removed"
"$TZ_TZCTL" -s "$SCTL" script show | cmp -s - <(sed 's/s3cret/***/' "$SCFG") ||
  fail "script show: not the file with its password masked: $("$TZ_TZCTL" -s "$SCTL" script show | tail -2)"
pass "script show: the serving text, its database password masked"

awk '/if \(!www_authorize/ { skip = 1 } !skip { print } skip && /^        }/ { skip = 0 }' \
  "$TZ_SRCDIR/etc/trapezoid.cfg" >"$SCFG"
! grep -q www_authorize "$SCFG" || fail "the www_authorize block is still there"
script_test || fail "script test after an edit without a reload: status $?: $(cat "$TZ_WORK/st.tap")"
"$TZ_TZCTL" -s "$SCTL" script reload >/dev/null || fail "reload without www_authorize"
"$TZ_TZCTL" -s "$SCTL" script show | cmp -s - "$SCFG" || fail "script show is not the reloaded file"
script_test
rc=$?
[ "$rc" = 1 ] || fail "script test without www_authorize: status $rc, not 1"
grep -q '^not ok [0-9]* - .*trapezoid.sipt: REGISTER without credentials: ' "$TZ_WORK/st.tap" ||
  fail "the 401 case did not fail: $(cat "$TZ_WORK/st.tap")"
pass "an edit on disk changes nothing until reloaded; then 'REGISTER without credentials' fails (exit 1)"
tz_stop "$TZ_PID" || fail "stop the script test server: status $?"
