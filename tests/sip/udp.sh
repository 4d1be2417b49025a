#!/usr/bin/env bash
# UDP socket buffers and the drop counter: the listen socket gets the
# udp_rcvbuf/udp_sndbuf asked for (as root; otherwise the start-up log
# says the kernel capped them and which sysctls to raise), and datagrams
# the kernel drops because the receive buffer is full show in `tzctl stats`
# as sip.udp.drops: the server is stopped (SIGSTOP) while a burst larger
# than its small buffer arrives, then continues and still serves.
. "${TZ_TESTDIR}/sip/lib.sh"

P=$(ports 1)
CTL="$TZ_WORK/ctl.sock"
{ printf 'udp_rcvbuf=65536\nudp_sndbuf=131072\n'; cat "$TZ_TESTDIR/sip/scripts/options.cfg"; } >"$TZ_WORK/udp.cfg"
tz_start tz "$TZ_WORK/udp.cfg" -l "udp:127.0.0.1:$P" -s "$CTL"
line=$(grep "udp port $P: receive buffer" "$TZ_WORK/tz.log") || fail "no buffer report in the log"
if [ "$(id -u)" = 0 ]; then
  case "$line" in
  *"receive buffer 65536, send buffer 131072 bytes (asked 65536 and 131072)") ;;
  *) fail "as root the socket should get what it asked for: $line" ;;
  esac
else
  case "$line" in *"receive buffer 65536,"* | *rmem_max*) ;; *) fail "report: $line" ;; esac
fi
pass "the listen socket reports its buffers: ${line#*: }"

drops() { "$TZ_TZCTL" -s "$CTL" --json stats | tr ',{' '\n\n' | sed -n 's/.*"sip.udp.drops":\([0-9]*\).*/\1/p'; }
[ "$(drops)" = 0 ] || fail "drops before the burst: '$(drops)'"
kill -STOP "$TZ_PID"
sip_msg OPTIONS "$P" | "$TZ_TOOLS/sipstress" flood -n 3000 127.0.0.1 "$P" >/dev/null
kill -CONT "$TZ_PID"
# The server first works through what its buffer held (answering a socket
# that is gone, which a sanitizer build does slowly): ask until it answers.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  st=$(sip_msg OPTIONS "$P" | "$TZ_TOOLS/sipsend" -w 2000 127.0.0.1 "$P" | status_of)
  [ "$st" = 200 ] && break
done
[ "$st" = 200 ] || fail "OPTIONS after the burst got '$st' for 20 s"
n=$(drops)
[ "${n:-0}" -gt 0 ] || fail "3000 datagrams into a 64 KB buffer while stopped: sip.udp.drops is '${n:-}'"
pass "a burst into a stopped server's 64 KB buffer: sip.udp.drops = $n; still serving"

tz_stop "$TZ_PID" || fail "stop: status $?"
