#!/usr/bin/env bash
# REGISTER throughput, one run, side by side: trapezoid (every 200 OK sent
# only after its binding is committed to sqlite, group commit) against
# Kamailio's usrloc on sqlite in write-through (db_mode=1, durable) and
# write-back (db_mode=2, loses up to a minute on a crash) modes.
# Each target is ramped through RATES (REGISTER/s), SECS seconds a step;
# the result is the highest rate with at most 0.1% failures.
# Usage: bench/register.sh   (env: RATES, SECS, BENCH_ONLY, TZ_BENCH_BUILD)
. "$(dirname "$0")/lib.sh"
RATES=${RATES:-"500 1000 2000 4000 6000 8000 10000 12000 14000 16000 18000 20000"}
SECS=${SECS:-10}
SCEN="$top/tests/sip/scenarios/register_uac.xml"

bench_build || exit 1
# RANDOM: the callers (BENCH_CALLERS, lib.sh) read this file each on its
# own; in order they would all register u1, u2, ... at the same moment.
{ echo RANDOM; for i in $(seq 1 100000); do echo "u$i"; done; } >"$BENCH_WORK/users.csv"

run_trapezoid() {
  port=$(bench_port)
  sed -e "s#@DB@#$BENCH_WORK/tz.db#" "$top/bench/register-tz.cfg.in" >"$BENCH_WORK/tz.cfg"
  "$TZ_BIN" -D -E -f "$BENCH_WORK/tz.cfg" -L "$TZ_MODS" -l "udp:127.0.0.1:$port" \
    >"$BENCH_WORK/tz.log" 2>&1 &
  pid=$!
  BENCH_PIDS="$BENCH_PIDS $pid" BENCH_SERVER=$pid
  bench_wait_udp "$port" || { echo "trapezoid did not start" >&2; cat "$BENCH_WORK/tz.log" >&2; return 1; }
  bench_ramp trapezoid "$port" "$SECS" "$SCEN" "$RATES" -inf "$BENCH_WORK/users.csv"
  kill -TERM "$pid"; wait "$pid"
}

run_kamailio() { # DBMODE
  port=$(bench_port)
  db="$BENCH_WORK/kam$1.db"
  cat /usr/share/kamailio/db_sqlite/standard-create.sql \
      /usr/share/kamailio/db_sqlite/usrloc-create.sql | sqlite3 "$db"
  sed -e "s#@DB@#$db#" -e "s#@PORT@#$port#" -e "s#@DBMODE@#$1#" \
    "$top/bench/kamailio/register.cfg.in" >"$BENCH_WORK/kam$1.cfg"
  kamailio -f "$BENCH_WORK/kam$1.cfg" -DD -E -m 1024 -M 64 -P "$BENCH_WORK/kam$1.pid" \
    >"$BENCH_WORK/kam$1.log" 2>&1 &
  pid=$!
  BENCH_PIDS="$BENCH_PIDS $pid" BENCH_SERVER=$pid
  bench_wait_udp "$port" || { echo "kamailio did not start" >&2; cat "$BENCH_WORK/kam$1.log" >&2; return 1; }
  bench_ramp "kamailio db_mode=$1" "$port" "$SECS" "$SCEN" "$RATES" -inf "$BENCH_WORK/users.csv"
  kill -TERM "$pid"; wait "$pid"
}

echo "REGISTER/s at <= 0.1% failures, ${SECS}s steps over: $RATES" >&2
# BENCH_ONLY=trapezoid: our side only (bench/compare.sh runs two builds).
only() { if [ "${BENCH_ONLY:-}" = trapezoid ]; then echo 0; else "$@"; fi; }
tz=$(run_trapezoid)
k1=$(only run_kamailio 1)
k2=$(only run_kamailio 2)
# The ramps' result lines start with the rate.
tz=${tz%% *} k1=${k1%% *} k2=${k2%% *}
printf '%-36s %8s\n' "target" "REG/s"
printf '%-36s %8s\n' "trapezoid (durable, group commit)" "$tz"
printf '%-36s %8s\n' "kamailio usrloc db_mode=1 (durable)" "$k1"
printf '%-36s %8s\n' "kamailio usrloc db_mode=2 (write-back)" "$k2"
printf 'ratio trapezoid / kamailio db_mode=1: %s\n' "$(bench_ratio "$tz" "$k1")"
printf 'ratio trapezoid / kamailio db_mode=2: %s\n' "$(bench_ratio "$tz" "$k2")"
