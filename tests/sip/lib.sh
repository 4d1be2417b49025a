# lib.sh - shared shell helpers for the integration tests: free ports, a
# private work directory, starting and stopping the daemon, and cleanup of
# every process a test started. Sourced by tests/sip/*.sh.
set -u

: "${TZ_BIN:?run through make check}"
TZ_WORK=$(mktemp -d "${TMPDIR:-/tmp}/tztest.XXXXXX")
TZ_PIDS=""

# KEEP=1 keeps $TZ_WORK (logs, configs) for a look after a failure.
tz_cleanup() {
  for p in $TZ_PIDS; do
    kill -TERM "$p" 2>/dev/null
  done
  for p in $TZ_PIDS; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$p" 2>/dev/null
  done
  [ -n "${KEEP:-}" ] || rm -rf "$TZ_WORK"
}
trap tz_cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for f in "$TZ_WORK"/*.log; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 40 "$f" >&2; }
  done
  exit 1
}

pass() { echo "ok: $*"; }

# need TOOL...: a missing peer is a skip on a developer box, an error in CI.
need() {
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 && continue
    if [ -n "${CI:-}" ]; then echo "missing $t (scripts/check installs it)" >&2; exit 99; fi
    echo "SKIP: $t not installed" >&2
    exit 77
  done
}

# wait_udp PORT, wait_tcp PORT: until something has bound the port (5 s).
wait_bound() { # PROTO PORT
  hex=$(printf ':%04X ' "$2")
  for _ in $(seq 1 100); do
    grep -q "$hex" "/proc/net/$1" "/proc/net/${1}6" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "nothing listens on ${1^^} port $2"
}
wait_udp() { wait_bound udp "$1"; }
wait_tcp() { wait_bound tcp "$1"; }

# tls_cert DIR: a self-signed certificate for 127.0.0.1 in DIR, as tls_dir=
# wants it (agent.pem: key and certificate; cafile.pem: the certificate).
tls_cert() {
  mkdir -p "$1"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/key.pem" -out "$1/cafile.pem" \
    -days 1 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 ||
    fail "openssl could not make a certificate"
  cat "$1/key.pem" "$1/cafile.pem" >"$1/agent.pem"
}

# ports N: N free loopback ports, one per line.
ports() { "$TZ_TOOLS/freeport" "$@"; }

# tz_start NAME CFG [ARGS...]: runs the daemon in the foreground, logging to
# $TZ_WORK/NAME.log, and waits until it serves. Sets TZ_PID.
# TZ_TEST_WORKERS=N runs every daemon with N workers (-w; scripts/check: 2).
tz_start() {
  name=$1 cfg=$2
  shift 2
  "$TZ_BIN" -D -E -f "$cfg" -L "$TZ_MODDIR" ${TZ_TEST_WORKERS:+-w "$TZ_TEST_WORKERS"} "$@" \
    >"$TZ_WORK/$name.log" 2>&1 &
  TZ_PID=$!
  TZ_PIDS="$TZ_PIDS $TZ_PID"
  for _ in $(seq 1 100); do
    grep -q "serving" "$TZ_WORK/$name.log" 2>/dev/null && return 0
    kill -0 "$TZ_PID" 2>/dev/null || fail "$name exited during start-up"
    sleep 0.05
  done
  fail "$name did not start within 5 s"
}

# tz_stop PID: SIGTERM, then the exit status must be 0 within 5 s.
tz_stop() {
  pid=$1
  kill -TERM "$pid" || return 1
  for _ in $(seq 1 50); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      return $?
    fi
    sleep 0.1
  done
  return 124
}

# sip_msg METHOD PORT [PROTO] [EXTRA_HEADER_LINES]: a minimal valid request
# on stdout with CRLF line ends.
sip_msg() {
  m=$1 port=$2 proto=${3:-UDP} extra=${4:-}
  {
    printf '%s sip:bob@127.0.0.1:%s SIP/2.0\n' "$m" "$port"
    printf 'Via: SIP/2.0/%s 127.0.0.1:9;rport;branch=z9hG4bK-%s-%s\n' "$proto" "$m" "$$$RANDOM"
    printf 'Max-Forwards: 70\n'
    printf 'From: <sip:alice@example.test>;tag=a1\n'
    printf 'To: <sip:bob@example.test>\n'
    printf 'Call-ID: %s-%s@test\n' "$$" "$RANDOM"
    printf 'CSeq: 1 %s\n' "$m"
    [ -n "$extra" ] && printf '%s\n' "$extra"
    printf 'Content-Length: 0\n\n'
  } | sed 's/$/\r/'
}

# Control tests: control_cfg REASON [SED-EXPR] writes $CFG from
# scripts/control.cfg.in (db, socket $CTL, metrics port $HP, OPTIONS reason);
# ctl runs tzctl on $CTL.
control_cfg() {
  sed -e "s#@DB@#$TZ_WORK/c.db#" -e "s#@CTL@#$CTL#" -e "s#@HTTP@#127.0.0.1:$HP#" \
    -e "s#@REASON@#$1#" -e "${2:-s/^\$//}" "$TZ_TESTDIR/sip/scripts/control.cfg.in" >"$CFG"
}
ctl() { "$TZ_TZCTL" -s "$CTL" "$@"; }

# sip_reg PORT USER CALLID CSEQ [HEADER-LINE...]: one REGISTER of
# USER@example.test (top Via branch $BRANCH, or a new one); the whole
# response, CRs removed, on stdout. SIPSEND_WAIT: ms to wait for it.
sip_reg() {
  port=$1 user=$2 cid=$3 cseq=$4
  shift 4
  {
    printf 'REGISTER sip:example.test SIP/2.0\n'
    printf 'Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-r%s\n' "${BRANCH:-$RANDOM$RANDOM$cseq}"
    printf 'Max-Forwards: 70\n'
    printf 'From: <sip:%s@example.test>;tag=f%s\n' "$user" "$RANDOM"
    printf 'To: <sip:%s@example.test>\n' "$user"
    printf 'Call-ID: %s\nCSeq: %s REGISTER\n' "$cid" "$cseq"
    for h in "$@"; do printf '%s\n' "$h"; done
    printf 'Content-Length: 0\n\n'
  } | sed 's/$/\r/' | "$TZ_TOOLS/sipsend" ${SIPSEND_WAIT:+-w "$SIPSEND_WAIT"} 127.0.0.1 "$port" |
    tr -d '\r'
}

# sipp_stop PID: SIPp, its server gone, has ignored SIGTERM (and its own
# -timeout) for minutes at times: a hard stop after 3 s.
sipp_stop() {
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 1 30); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# sipp_answered MESSAGE-FILE [STATUS]: the users (To's user part) whose
# REGISTER got STATUS (200) in a SIPp -trace_msg file, sorted, once each.
sipp_answered() {
  awk -v want="${2:-200}" '/message received/ {inmsg=1; st=""; next}
       inmsg && /^SIP\/2.0 / {st=$2}
       inmsg && st == want && /^To:/ {sub(/.*<sip:/, ""); sub(/@.*/, ""); print; inmsg=0}' \
    "$1" | sort -u
}

# sip_register PORT USER CONTACT [CALLID]: REGISTERs USER@example.test at
# the proxy on PORT with CONTACT (a URI); prints the response status.
sip_register() {
  printf 'REGISTER sip:example.test SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-r%s%s\nMax-Forwards: 70\nFrom: <sip:%s@example.test>;tag=r%s\nTo: <sip:%s@example.test>\nCall-ID: %s\nCSeq: %s REGISTER\nContact: <%s>\nContent-Length: 0\n\n' \
    "$RANDOM" "$RANDOM" "$2" "$RANDOM" "$2" "${4:-reg-$2-$RANDOM}" "$RANDOM" "$3" |
    sed 's/$/\r/' | "$TZ_TOOLS/sipsend" 127.0.0.1 "$1" | status_of
}

# baresip_phone NAME USER PORT ANSWERMODE OUTBOUND [CAFILE]: config for a
# headless baresip in $TZ_WORK/NAME (a sine tone as microphone, a wav file
# as speaker, loopback only), registering USER@example.test through the
# proxy URI OUTBOUND. baresip also binds PORT+1 (TLS): keep ports apart.
baresip_phone() {
  d="$TZ_WORK/$1"
  mkdir -p "$d"
  cat >"$d/config" <<CFG
poll_method		epoll
sip_listen		127.0.0.1:$3
net_interface		127.0.0.1
dns_server		127.0.0.1:1
${6:+sip_cafile		$6}
audio_player		aufile,$d/heard.wav
audio_source		ausine,440
audio_alert		aufile,$d/alert.wav
module_path		/usr/lib/baresip/modules
module			opus.so
module			ausine.so
module			aufile.so
module_app		account.so
module_app		menu.so
CFG
  echo "<sip:$2@example.test>;outbound=\"$5\";regint=600;answermode=$4;audio_codecs=opus/48000/2" >"$d/accounts"
}

# wait_for FILE REGEX: until a line matches (10 s); false if none did.
wait_for() {
  for _ in $(seq 1 100); do
    grep -a -q -E "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# spaced_ports N: N free ports at least 2 apart (baresip binds port + 1).
spaced_ports() {
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    set -- $(ports "$1")
    sorted=$(printf '%s\n' "$@" | sort -n)
    prev=-10 ok=1
    for p in $sorted; do [ $((p - prev)) -gt 1 ] || ok=0; prev=$p; done
    [ $ok = 1 ] && { printf '%s\n' "$@"; return 0; }
  done
  fail "no spaced ports"
}

# status_of: the status code of the first response line on stdin.
status_of() { head -n 1 | tr -d '\r' | awk '/^SIP\/2.0/ {print $2}'; }

# calls_all_ok UAC-PID UAS-PID CALLS: waits for a SIPp caller (statistics in
# $TZ_WORK/uac.csv, output in uac.out) and its callee; fails unless both
# ended well and all CALLS calls succeeded.
calls_all_ok() {
  wait "$1"; rc=$?
  wait "$2"; urc=$?
  h=$(head -n 1 "$TZ_WORK/uac.csv"); l=$(tail -n 1 "$TZ_WORK/uac.csv")
  col() { echo "$h" | tr ';' '\n' | grep -n "^$1\$" | head -1 | cut -d: -f1; }
  ok=$(echo "$l" | cut -d';' -f"$(col 'SuccessfulCall(C)')")
  bad=$(echo "$l" | cut -d';' -f"$(col 'FailedCall(C)')")
  [ "$rc" = 0 ] && [ "$urc" = 0 ] && [ "$bad" = 0 ] && [ "$ok" = "$3" ] ||
    fail "calls: $ok ok, $bad failed (caller $rc, callee $urc): $(tail -5 "$TZ_WORK/uac.out")"
}
