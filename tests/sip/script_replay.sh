#!/usr/bin/env bash
# The harness cannot drift from the server: the shipped script tests run
# once more against the real daemon (trapezoid --test --replay), with the
# same expectations. The daemon serves the file's script on its own
# sockets in a network namespace of this test, whose loopback carries the
# RFC 5737 addresses the files use (192.0.2.0/24, 198.51.100.0/24,
# 203.0.113.0/24), so every step's source and every relay target is a
# real socket and nothing is rewritten. The fixtures go to its control
# socket as tzctl sends them.
#
# A replay runs in real time: `advance` sleeps. Route, drop and log
# expectations are the harness's alone (the running server shows neither
# its routes nor its log to the replayer); the replay says how many.
if [ -z "${TZ_IN_NETNS:-}" ]; then
  command -v unshare >/dev/null && command -v ip >/dev/null || { echo "SKIP: no unshare or ip" >&2; exit 77; }
  unshare -n true 2>/dev/null || { echo "SKIP: cannot make a network namespace (needs root)" >&2; exit 77; }
  TZ_IN_NETNS=1 exec unshare -n "$BASH" "$0" "$@"
fi
. "${TZ_TESTDIR}/sip/lib.sh"
ip link set lo up || fail "lo does not come up"
for net in 192.0.2.1/24 198.51.100.1/24 203.0.113.1/24; do
  ip addr add "$net" dev lo || fail "cannot add $net to lo"
done

# replay FILE: the daemon with the file's script, listen lines and
# modparams, its databases here and DNS from its zone only; then the file.
replay() {
  f=$TZ_SRCDIR/tests/script/$1
  script=$(sed -n 's/^script //p' "$f")
  opts=(-w 1 -s "$TZ_WORK/ctl.sock" -o "location.db_path=$TZ_WORK/$1.loc.db")
  grep -q 'loadmodule "auth"' "$(dirname "$f")/$script" && opts+=(-o "auth.db_path=$TZ_WORK/$1.sub.db")
  grep -q 'loadmodule "dns"' "$(dirname "$f")/$script" && opts+=(-o dns.zone_only=1)
  while read -r mod param value; do # the value as the file writes it, unquoted
    value=${value%%#*} value=${value%"${value##*[! ]}"}
    value=${value#\"} value=${value%\"}
    opts+=(-o "$mod.$param=$value")
  done < <(sed -n 's/^modparam //p' "$f")
  while read -r l; do opts+=(-l "$l"); done < <(sed -n 's/^listen //p' "$f")
  # where the daemon listens: the file's listen line, else the script's own
  # (free in this namespace, whatever serves on the machine outside it)
  server=$( (sed -n 's/^listen \(udp:\)\{0,1\}\([0-9.]*:[0-9]*\).*/\2/p' "$f"
    sed -n 's/^listen=\(udp:\)\{0,1\}\([0-9.]*:[0-9]*\).*/\2/p' "$(dirname "$f")/$script") | head -1)
  [ -n "$server" ] || fail "$1: neither the file nor its script names a UDP host:port to listen on"
  TZ_TEST_WORKERS="" tz_start "$1" "$(dirname "$f")/$script" "${opts[@]}"
  "$TZ_BIN" --test --replay="udp:$server" --ctl="$TZ_WORK/ctl.sock" "$f" \
    >"$TZ_WORK/$1.tap" 2>"$TZ_WORK/$1.err" ||
    fail "$1 against the running server: $(grep -A3 '^not ok' "$TZ_WORK/$1.tap")"
  tz_stop "$TZ_PID" || fail "$1: the server did not stop cleanly"
  skipped=$(grep -c '^ok .* # SKIP' "$TZ_WORK/$1.tap")
  unseen=$(sed -n 's/^# .*: \([0-9]*\) route.*/\1/p' "$TZ_WORK/$1.tap" | head -1)
  pass "$1: $(($(grep -c '^ok' "$TZ_WORK/$1.tap") - skipped)) cases pass against the running server, $skipped skipped (long advances); ${unseen:-0} route, drop and log expectations left to the harness"
}

# (FILES=... runs only those, by name.)
for f in ${FILES:-$(cd "$TZ_SRCDIR/tests/script" && echo *.sipt)}; do
  replay "$f"
done
