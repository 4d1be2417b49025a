#!/usr/bin/env bash
# The script tests that ship (tests/script/*.sipt) through trapezoid --test:
# 1. every suite passes, in TAP, with "N passed, 0 failed";
# 2. its cases reach every line of etc/trapezoid.cfg a message can reach
#    (the lcov tracefile has no line at count 0 for that file);
# 3. the etc/trapezoid.cfg suite runs in under 1 s (not under sanitizers);
# 4. a copy of the script without its REGISTER authentication makes the
#    named case fail with the gcc-style message, exit status 1;
# 5. bad test files (tests/script/bad/) get their file:line error, never a
#    crash.
. "${TZ_TESTDIR}/sip/lib.sh"
S=$TZ_SRCDIR/tests/script
run_tests() { "$TZ_BIN" --test -L "$TZ_MODDIR" "$@"; }

# ---- 1. the suites -------------------------------------------------------------------
suites=$(ls "$S"/*.sipt)
run_tests $suites >"$TZ_WORK/all.tap" 2>"$TZ_WORK/all.err" ||
  fail "the shipped suites fail: $(grep '^not ok\|^  #' "$TZ_WORK/all.tap")"
grep -q '^# [1-9][0-9]* passed, 0 failed$' "$TZ_WORK/all.tap" || fail "no summary: $(tail -3 "$TZ_WORK/all.tap")"
for f in $suites; do
  grep -q "^ok [0-9]* - $f: " "$TZ_WORK/all.tap" || fail "$f ran no case"
done
pass "$(grep -c '^ok' "$TZ_WORK/all.tap") cases in $(echo "$suites" | wc -l) files pass"
# (In the source tree: each is in the release tarball too.)
for f in $suites; do
  [ ! -f "$TZ_SRCDIR/tests/Makefile.am" ] || grep -q "script/$(basename "$f")" "$TZ_SRCDIR/tests/Makefile.am" ||
    fail "$(basename "$f") is not in tests/Makefile.am's EXTRA_DIST"
done

# ---- 2. coverage of etc/trapezoid.cfg ------------------------------------------------
cd "$TZ_SRCDIR" || fail "no source tree"
run_tests --coverage="$TZ_WORK/c.info" tests/script/trapezoid.sipt >/dev/null 2>"$TZ_WORK/notes" ||
  fail "trapezoid.sipt fails with --coverage"
awk '/^SF:/ { f = ($0 ~ /etc\/trapezoid\.cfg$/) } f && /^DA:/' "$TZ_WORK/c.info" >"$TZ_WORK/da"
[ -s "$TZ_WORK/da" ] || fail "the tracefile has no lines of etc/trapezoid.cfg"
missed=$(grep ',0$' "$TZ_WORK/da" | cut -d: -f2 | cut -d, -f1 | tr '\n' ' ')
[ -z "$missed" ] || fail "etc/trapezoid.cfg lines no case reaches: $missed
$(cat "$TZ_WORK/notes")"
run_tests --coverage tests/script/trapezoid.sipt 2>/dev/null | grep -q '^ *[0-9]*: *53: *drop;' ||
  fail "the gcov text does not count line 53 (drop)"
pass "trapezoid.sipt reaches all $(wc -l <"$TZ_WORK/da") executable lines of etc/trapezoid.cfg (lcov and gcov text)"

# ---- 2b. the clock a file sets ----------------------------------------------------------
# The registrar's Date and expires come from the virtual clock: at the
# file's `clock`, and exactly 2 h less of a binding after `advance 2h`.
cat >"$TZ_WORK/clock.sipt" <<EOT
script $TZ_SRCDIR/scripts/seed-rr.cfg
listen udp:127.0.0.1:5070
clock 2026-03-01T10:00:00Z
case "the 200 is dated at the file's clock"
send from udp 192.0.2.7:5062
  REGISTER sip:example.test SIP/2.0
  Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK-c1
  From: <sip:alice@example.test>;tag=c1
  To: <sip:alice@example.test>
  Call-ID: c1@192.0.2.7
  CSeq: 1 REGISTER
  Contact: <sip:alice@192.0.2.7:5062>;expires=3600
expect reply 200
expect header Date = "Sun, 01 Mar 2026 10:00:00 GMT"
expect header Contact = "<sip:alice@192.0.2.7:5062>;expires=3600"
case "two hours on, a refresh is dated then"
advance 2h
send from udp 192.0.2.7:5062
  REGISTER sip:example.test SIP/2.0
  Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK-c2
  From: <sip:alice@example.test>;tag=c1
  To: <sip:alice@example.test>
  Call-ID: c1@192.0.2.7
  CSeq: 2 REGISTER
expect reply 200
expect header Date = "Sun, 01 Mar 2026 12:00:00 GMT"
expect header Contact absent
EOT
run_tests "$TZ_WORK/clock.sipt" >"$TZ_WORK/clock.tap" 2>&1 || fail "the clock file: $(cat "$TZ_WORK/clock.tap")"
pass "clock 2026-03-01T10:00:00Z dates the 200 at 10:00:00 GMT; after advance 2h at 12:00:00, the 1-h binding gone"

# ---- 3. under a second ---------------------------------------------------------------
if [ -z "${ASAN_OPTIONS:-}${TSAN_OPTIONS:-}" ]; then
  t0=$(date +%s%N)
  run_tests tests/script/trapezoid.sipt >/dev/null 2>&1 || fail "trapezoid.sipt fails"
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ "$ms" -lt 1000 ] || fail "trapezoid.sipt took $ms ms"
  pass "trapezoid.sipt runs in $ms ms"
fi

# ---- 4. a broken script is caught ----------------------------------------------------
# Without the www_authorize block every REGISTER is saved unchallenged.
awk '/if \(!www_authorize/ { skip = 1 } !skip { print } skip && /^        }/ { skip = 0 }' \
  etc/trapezoid.cfg >"$TZ_WORK/broken.cfg"
! grep -q www_authorize "$TZ_WORK/broken.cfg" || fail "the block is still there"
run_tests --script="$TZ_WORK/broken.cfg" tests/script/trapezoid.sipt >"$TZ_WORK/broken.tap" 2>"$TZ_WORK/broken.err" &&
  fail "the suite passes against a script without authentication"
grep -q '^not ok [0-9]* - tests/script/trapezoid.sipt: REGISTER without credentials: 401, SHA-256 offered first, then MD5$' \
  "$TZ_WORK/broken.tap" || fail "the 401 case did not fail: $(cat "$TZ_WORK/broken.tap")"
line=$(grep -n '^expect reply 401' tests/script/trapezoid.sipt | head -1 | cut -d: -f1)
grep -q "^tests/script/trapezoid.sipt:$line:1: error: expected reply 401, got 200 \"OK\"$" "$TZ_WORK/broken.err" ||
  fail "no gcc-style message for line $line: $(cat "$TZ_WORK/broken.err")"
pass "without www_authorize: 'REGISTER without credentials' fails at trapezoid.sipt:$line: expected reply 401, got 200"

# ---- 5. bad test files ----------------------------------------------------------------
n=0
cd "$S/bad" || fail "no tests/script/bad"
for f in *.sipt; do
  want=$(sed -n '1s/^# error: //p' "$f")
  [ -n "$want" ] || fail "$f: no '# error:' first line"
  run_tests "$f" >"$TZ_WORK/bad.tap" 2>"$TZ_WORK/bad.err"
  rc=$?
  [ "$rc" = 1 ] || fail "$f: exit status $rc, not 1: $(cat "$TZ_WORK/bad.err")"
  ! grep -q 'the harness died' "$TZ_WORK/bad.tap" || fail "$f: $(grep 'harness died' "$TZ_WORK/bad.tap")"
  grep -qF -- "$want" "$TZ_WORK/bad.err" || fail "$f: stderr lacks \"$want\": $(cat "$TZ_WORK/bad.err")"
  n=$((n + 1))
done
pass "$n bad test files: each exits 1 with its file:line error"
