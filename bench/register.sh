#!/usr/bin/env bash
# REGISTER throughput, one run, side by side: trapezoid (every 200 OK sent
# only after its binding is committed, group commit) against Kamailio's
# usrloc in write-through (db_mode=1, durable) and write-back (db_mode=2,
# loses up to a minute on a crash) modes, on the same database:
#   DB=sqlite (the default): a sqlite file each.
#   DB=postgres: one PostgreSQL cluster for the run (tests/sip/pg_lib.sh), a
#     fresh database per target; trapezoid also as a farm of two nodes on
#     one database (issue 14).
# Each target is ramped through RATES (REGISTER/s), SECS seconds a step;
# the result is the highest rate with at most 0.1% failures.
# Usage: bench/register.sh   (env: DB, RATES, SECS, BENCH_ONLY=trapezoid or
#   kamailio, TZ_BENCH_BUILD, KAM_CHILDREN)
. "$(dirname "$0")/lib.sh"
RATES=${RATES:-"500 1000 2000 4000 6000 8000 10000 12000 14000 16000 18000 20000"}
SECS=${SECS:-10}
DB=${DB:-sqlite}
SCEN="$top/tests/sip/scenarios/register_uac.xml"
case $DB in
sqlite | postgres) ;;
*) echo "bench/register.sh: DB must be sqlite or postgres, not \"$DB\"" >&2; exit 2 ;;
esac

[ "${BENCH_ONLY:-}" = kamailio ] || bench_build || exit 1
[ -x "$BENCH_WORK/freeport" ] ||
  (cd "$top/tests/tools" && cc -O2 -o "$BENCH_WORK/freeport" freeport.c) || exit 1
# RANDOM: the callers (BENCH_CALLERS, lib.sh) read this file each on its
# own; in order they would all register u1, u2, ... at the same moment.
{ echo RANDOM; for i in $(seq 1 100000); do echo "u$i"; done; } >"$BENCH_WORK/users.csv"

# ---- the targets ------------------------------------------------------------

# tz_node CFG: starts a trapezoid node on a free port; sets pid and port.
tz_node() {
  port=$(bench_port)
  "$TZ_BIN" -D -E -f "$1" -L "$TZ_MODS" -l "udp:127.0.0.1:$port" \
    >>"$BENCH_WORK/tz.log" 2>&1 &
  pid=$!
  BENCH_PIDS="$BENCH_PIDS $pid"
  bench_wait_udp "$port" || { echo "trapezoid did not start" >&2; cat "$BENCH_WORK/tz.log" >&2; return 1; }
}

# run_trapezoid LABEL CFG [NODES]: ramps one node, or two nodes with the
# same configuration (a farm on one database): the callers alternate
# between them (BENCH_TARGET2, lib.sh), so each node gets half of every
# step's rate; the step passes only if both nodes' halves pass, and its
# rate is their sum.
run_trapezoid() {
  tz_node "$2" || return 1
  pids=$pid target=$port
  if [ "${3:-1}" = 2 ]; then
    tz_node "$2" || return 1
    pids="$pids $pid" BENCH_TARGET2="127.0.0.1:$port"
    # An even number of callers: the same rate to each node.
    BENCH_CALLERS=$(((BENCH_CALLERS + 1) / 2 * 2))
  fi
  BENCH_SERVER=$pids
  bench_ramp "$1" "$target" "$SECS" "$SCEN" "$RATES" -inf "$BENCH_WORK/users.csv"
  BENCH_TARGET2=""
  for p in $pids; do kill -TERM "$p"; wait "$p"; done
}

# run_kamailio DBMODE CFG-IN DB: Kamailio on DB (a sqlite file or a
# db_postgres URL), its log in kamDBMODE.log. KAM_CHILDREN: its worker
# processes instead of the configuration's (one per core).
run_kamailio() {
  port=$(bench_port)
  sed -e "s#@DB@#$3#" -e "s#@PORT@#$port#" -e "s#@DBMODE@#$1#" \
    ${KAM_CHILDREN:+-e "s#^children=.*#children=$KAM_CHILDREN#"} \
    "$2" >"$BENCH_WORK/kam$1.cfg"
  kamailio -f "$BENCH_WORK/kam$1.cfg" -DD -E -m 1024 -M 64 -P "$BENCH_WORK/kam$1.pid" \
    >"$BENCH_WORK/kam$1.log" 2>&1 &
  pid=$!
  BENCH_PIDS="$BENCH_PIDS $pid" BENCH_SERVER=$pid
  bench_wait_udp "$port" || { echo "kamailio did not start" >&2; cat "$BENCH_WORK/kam$1.log" >&2; return 1; }
  bench_ramp "kamailio db_mode=$1" "$port" "$SECS" "$SCEN" "$RATES" -inf "$BENCH_WORK/users.csv"
  kill -TERM "$pid"; wait "$pid"
}

kam_sqlite() { # DBMODE
  db="$BENCH_WORK/kam$1.db"
  cat /usr/share/kamailio/db_sqlite/standard-create.sql \
      /usr/share/kamailio/db_sqlite/usrloc-create.sql | sqlite3 "$db"
  run_kamailio "$1" "$top/bench/kamailio/register.cfg.in" "$db"
}

# ---- PostgreSQL (DB=postgres) -------------------------------------------------
# One cluster for the whole run, a fresh database per target. Everyone
# reaches it over TCP on loopback: Kamailio's db_postgres URL cannot name
# a Unix socket directory, and trapezoid gets the same path to it.
# The server's settings, the same for every target (pg_lib.sh passes
# PG_OPTS to the server):
#   fsync=on, synchronous_commit=on (the defaults, spelled out): a COMMIT
#     returns once its WAL is on disk; durability is what is measured;
#   shared_buffers=256MB, wal_buffers=16MB (defaults 128MB and 4MB): room
#     for the run's table, indexes and WAL;
#   max_wal_size=4GB, checkpoint_timeout=30min (defaults 1GB, 5min): no
#     checkpoint in the middle of a ramp, as a cluster tuned for writes;
#   max_connections=100 (the default) is plenty: one per Kamailio child
#     and a few per trapezoid node.
PG_OPTS="-c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on \
  -c shared_buffers=256MB -c wal_buffers=16MB -c max_wal_size=4GB \
  -c checkpoint_timeout=30min"
pg_setup() {
  # What pg_lib.sh expects from the tests' lib.sh.
  TZ_WORK=$BENCH_WORK TZ_SRCDIR=$top
  fail() { echo "bench/register.sh: $*" >&2; exit 1; }
  ports() { for _ in $(seq 1 "${1:-1}"); do bench_port; done; }
  . "$top/tests/sip/pg_lib.sh"
  # Its EXIT trap calls the tests' cleanup: ours, after the cluster's.
  trap 'pg_stop immediate; bench_cleanup' EXIT
  pg_need
  pg_start
}
# pg_db NAME SQL-FILE...: creates database NAME from those files.
pg_db() {
  psql_q "CREATE DATABASE $1" >/dev/null || return 1
  db=$1
  shift
  for f in "$@"; do
    [ -f "$f" ] || { echo "bench/register.sh: no $f" >&2; return 1; }
    "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d "$(pg_conn "$db")" -f "$f" \
      >/dev/null || return 1
  done
}
pg_conn() { echo "host=127.0.0.1 port=$PG_PORT dbname=$1 user=postgres"; }
pg_rows() { "$PG_BINDIR/psql" -X -A -t -d "$(pg_conn "$1")" -c "SELECT count(*) FROM $2"; }

tz_postgres() { # LABEL DBNAME [NODES]
  pg_db "$2" "$top/db/postgres/location.sql" || return 1
  sed -e "s#@DBURL@#$(pg_conn "$2")#" "$top/bench/register-pg-tz.cfg.in" >"$BENCH_WORK/$2.cfg"
  run_trapezoid "$1" "$BENCH_WORK/$2.cfg" "${3:-1}"
  echo "  $1: $(pg_rows "$2" location) rows in location at the end" >&2
  grep -iE 'error|crit|fatal' "$BENCH_WORK/tz.log" | sort | uniq -c | sort -rn |
    head -n 5 | sed "s/^/  $1 log: /" >&2
  : >"$BENCH_WORK/tz.log"
}

# Kamailio's tables as its package ships them: standard-create.sql (the
# version table) and usrloc-create.sql (location, location_attrs).
kam_postgres() { # DBMODE
  k=/usr/share/kamailio/postgres
  pg_db "kam$1" "$k/standard-create.sql" "$k/usrloc-create.sql" || return 1
  run_kamailio "$1" "$top/bench/kamailio/register-pg.cfg.in" \
    "postgres://postgres@127.0.0.1:$PG_PORT/kam$1"
  # The rows show it really wrote (db_mode=2: its timer's and its exit's
  # write-back); its errors, if any, with the result. (Not its TCP main
  # process's "receive_fd(): EOF" as the children exit: that is every stop.)
  echo "  kamailio db_mode=$1: $(pg_rows "kam$1" location) rows in location at the end" >&2
  grep -E 'ERROR|CRITICAL|ALERT|BUG' "$BENCH_WORK/kam$1.log" | grep -v 'receive_fd(): EOF' |
    sed 's/^ *[0-9]*([0-9]*) //' | sort | uniq -c | sort -rn | head -n 5 |
    sed "s/^/  kamailio db_mode=$1 log: /" >&2
}

# BENCH_ONLY=trapezoid: our side only (bench/compare.sh runs two builds);
# BENCH_ONLY=kamailio: Kamailio's only.
only() { if [ "${BENCH_ONLY:-}" = trapezoid ]; then echo 0; else "$@"; fi; }
tz_only() { if [ "${BENCH_ONLY:-}" = kamailio ]; then echo 0; else "$@"; fi; }
if [ "$DB" = sqlite ]; then
  echo "REGISTER/s at <= 0.1% failures, ${SECS}s steps over: $RATES" >&2
  sed -e "s#@DB@#$BENCH_WORK/tz.db#" "$top/bench/register-tz.cfg.in" >"$BENCH_WORK/tz.cfg"
  tz=$(tz_only run_trapezoid trapezoid "$BENCH_WORK/tz.cfg")
  k1=$(only kam_sqlite 1)
  k2=$(only kam_sqlite 2)
else
  echo "REGISTER/s at <= 0.1% failures on PostgreSQL, ${SECS}s steps over: $RATES" >&2
  pg_setup
  tz=$(tz_only tz_postgres trapezoid tz1)
  tz2=$(tz_only tz_postgres "trapezoid 2 nodes" tz2 2)
  k1=$(only kam_postgres 1)
  k2=$(only kam_postgres 2)
fi
# The ramps' result lines start with the rate.
tz=${tz%% *} k1=${k1%% *} k2=${k2%% *}
if [ "$DB" = sqlite ]; then
  printf '%-36s %8s\n' "target" "REG/s"
  printf '%-36s %8s\n' "trapezoid (durable, group commit)" "$tz"
else
  tz2=${tz2%% *}
  printf '%-36s %8s\n' "target (PostgreSQL)" "REG/s"
  printf '%-36s %8s\n' "trapezoid (durable, group commit)" "$tz"
  printf '%-36s %8s\n' "trapezoid, 2 nodes on one database" "$tz2"
fi
printf '%-36s %8s\n' "kamailio usrloc db_mode=1 (durable)" "$k1"
printf '%-36s %8s\n' "kamailio usrloc db_mode=2 (write-back)" "$k2"
printf 'ratio trapezoid / kamailio db_mode=1: %s\n' "$(bench_ratio "$tz" "$k1")"
printf 'ratio trapezoid / kamailio db_mode=2: %s\n' "$(bench_ratio "$tz" "$k2")"
if [ "$DB" = postgres ]; then
  printf 'ratio trapezoid 2 nodes / kamailio db_mode=1: %s\n' "$(bench_ratio "$tz2" "$k1")"
  printf 'ratio trapezoid 2 nodes / kamailio db_mode=2: %s\n' "$(bench_ratio "$tz2" "$k2")"
  printf 'ratio trapezoid 2 nodes / 1 node: %s\n' "$(bench_ratio "$tz2" "$tz")"
fi
