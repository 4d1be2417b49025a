#!/usr/bin/env bash
# trapezoid -c: the default script checks OK; broken scripts give gcc-style
# file:line:col errors and exit 1; the server never starts on a bad script.
. "${TZ_TESTDIR}/sip/lib.sh"

out=$("$TZ_BIN" -c -f "$TZ_SRCDIR/etc/trapezoid.cfg" -L "$TZ_MODDIR" 2>&1) ||
  fail "default script rejected: $out"
printf '%s\n' "$out" | grep -q "OK" || fail "no OK from -c: $out"
pass "etc/trapezoid.cfg checks OK"

check_bad() { # NAME EXPECTED-POSITION EXPECTED-TEXT < script
  cat >"$TZ_WORK/$1.cfg"
  out=$("$TZ_BIN" -c -f "$TZ_WORK/$1.cfg" -L "$TZ_MODDIR" 2>&1)
  rc=$?
  [ $rc -eq 1 ] || fail "$1: exit status $rc, wanted 1 ($out)"
  printf '%s\n' "$out" | grep -qF "$TZ_WORK/$1.cfg:$2: error:" || fail "$1: no error at :$2 in: $out"
  printf '%s\n' "$out" | grep -qF "$3" || fail "$1: no '$3' in: $out"
  pass "$1 -> :$2 $3"
}

check_bad typo 3:5 "did you mean 'sl_reply'" <<'CFG'
request_route {
    if (is_method("OPTIONS")) {
    sl_replly(200, "OK");
    }
}
CFG
check_bad missing_semicolon 2:24 "';'" <<'CFG'
request_route {
    sl_reply(200, "OK")
}
CFG
check_bad unknown_route 2:11 "route" <<'CFG'
request_route {
    route(nowhere);
}
route[somewhere] { exit; }
CFG
check_bad bad_regex 2:16 "regex" <<'CFG'
request_route {
    if ($ru =~ "sip:(") { exit; }
}
CFG
check_bad unknown_module 1:1 "cannot load module 'nosuchmodule'" <<'CFG'
loadmodule "nosuchmodule"
request_route { exit; }
CFG
# A module's own check of its parameters, with nothing opened: the port
# has no server, and -c must not even try it (libpq would say so).
check_bad bad_db_url 1:1 'libpq can read: invalid connection option "bogus"' <<'CFG'
loadmodule "location"
modparam("location", "db_url", "host=127.0.0.1 port=1 bogus=1 password=s3cret")
request_route { exit; }
CFG
printf '%s\n' "$out" | grep -q s3cret && fail "the db_url's password in: $out"
check_bad both_db_settings 1:1 "db_path and db_url are both set" <<'CFG'
loadmodule "location"
modparam("location", "db_path", "/nonexistent/l.db")
modparam("location", "db_url", "postgresql://127.0.0.1:1/tz")
request_route { exit; }
CFG

# The daemon refuses to start on a bad script, with the same message.
set -- $(ports 1)
"$TZ_BIN" -D -E -f "$TZ_WORK/typo.cfg" -L "$TZ_MODDIR" -l "127.0.0.1:$1" >"$TZ_WORK/start.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "daemon started on a bad script (status $rc)"
grep -q "typo.cfg:3:5: error" "$TZ_WORK/start.out" || fail "no diagnostic at start: $(cat "$TZ_WORK/start.out")"
pass "daemon refuses a bad script"
