# edge.sh - shared by the carrier-edge tests (torture, robustness, flood):
# starting the server on scripts/edge.cfg.in and the closing checks.
# Sourced after lib.sh.

# edge_start NAME PORT DENSITY BLOCK MODE SETTINGS: writes the config and
# starts the server on 127.0.0.1:PORT (UDP and TCP).
edge_start() {
  cfg="$TZ_WORK/$1.cfg"
  sed -e "s#@DB@#$TZ_WORK/$1.db#" -e "s#@DENSITY@#$3#" -e "s#@BLOCK@#$4#" \
    -e "s#@MODE@#$5#" -e "s#@SETTINGS@#$6#" \
    "$TZ_TESTDIR/sip/scripts/edge.cfg.in" >"$cfg"
  tz_start "$1" "$cfg" -l "127.0.0.1:$2"
}

# edge_finish PID PORT: a legitimate REGISTER still gets 200, then SIGTERM
# must end the server with status 0 (under ASan that also means no leak).
edge_finish() {
  st=$(sip_register "$2" alice "sip:alice@127.0.0.1:9")
  [ "$st" = 200 ] || fail "REGISTER afterwards got '$st'"
  pass "a legitimate REGISTER afterwards -> 200"
  tz_stop "$1" || fail "exit status $? after SIGTERM"
  pass "clean exit on SIGTERM"
}
