# pg_lib.sh - a throwaway PostgreSQL cluster for a test or a benchmark:
# initdb into a private directory, its Unix socket in that directory, a
# free port, no TCP listener. PostgreSQL refuses to run as root, so as root
# the cluster runs as the "postgres" user the Debian package creates.
# Sourced after tests/sip/lib.sh (or anything that defines fail, TZ_WORK
# and TZ_TOOLS). Sets PG_DIR, PG_PORT, PG_URL (a libpq key=value string).

PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# pg_need: skip (77) without PostgreSQL on a developer box; error in CI.
pg_need() {
  [ -n "$PG_BINDIR" ] && [ -x "$PG_BINDIR/initdb" ] && return 0
  if [ -n "${CI:-}" ]; then echo "missing PostgreSQL (scripts/check installs it)" >&2; exit 99; fi
  echo "SKIP: PostgreSQL server not installed" >&2
  exit 77
}

# pg_as CMD...: runs CMD as the cluster's owner.
pg_as() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# pg_start [PORT]: creates and starts the cluster (once), or starts it
# again after pg_stop. Waits until it accepts connections.
pg_start() {
  PG_DIR=${PG_DIR:-$TZ_WORK/pg}
  PG_PORT=${PG_PORT:-${1:-$(ports 1)}}
  if [ ! -f "$PG_DIR/PG_VERSION" ]; then
    mkdir -p "$PG_DIR"
    # postgres must reach its directory through TZ_WORK (mktemp: 0700).
    [ "$(id -u)" -eq 0 ] && { chmod 711 "$TZ_WORK"; chown postgres "$PG_DIR"; }
    chmod 700 "$PG_DIR"
    pg_as "$PG_BINDIR/initdb" -D "$PG_DIR" -U postgres --auth=trust \
      -E UTF8 --no-instructions >"$TZ_WORK/initdb.log" 2>&1 ||
      fail "initdb failed: $(tail -n 3 "$TZ_WORK/initdb.log")"
  fi
  pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR" -w -t 30 -l "$PG_DIR/server.log" \
    -o "-k $PG_DIR -p $PG_PORT -c listen_addresses= ${PG_OPTS:-}" start \
    >/dev/null || fail "PostgreSQL did not start: $(tail -n 5 "$PG_DIR/server.log")"
  PG_URL="host=$PG_DIR port=$PG_PORT dbname=postgres user=postgres"
  PG_STARTED=1
}

# pg_stop [MODE]: stops the cluster (fast; "immediate" is a crash).
pg_stop() {
  [ -n "${PG_STARTED:-}" ] || return 0
  pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR" -m "${1:-fast}" -w stop >/dev/null 2>&1
  PG_STARTED=
}

# psql_q SQL: one value (or rows, '|' between columns), no headers.
psql_q() {
  "$PG_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$PG_URL" -c "$1"
}

# pg_schema: applies db/postgres/location.sql, as an operator does.
pg_schema() {
  "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d "$PG_URL" \
    -f "$TZ_SRCDIR/db/postgres/location.sql" >/dev/null ||
    fail "db/postgres/location.sql failed"
}

# Stops the cluster before lib.sh's cleanup removes its directory.
pg_cleanup() { pg_stop immediate; tz_cleanup; }
trap pg_cleanup EXIT
