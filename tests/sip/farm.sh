#!/usr/bin/env bash
# A farm on one PostgreSQL location store (issue 14): two nodes, A and B,
# share the `location` table and learn each other's changes through
# LISTEN/NOTIFY. Checked here: a node refuses to start without the schema;
# a phone registered through one node is reached, and then unregistered,
# through the other; kill -9 of a node under REGISTER load loses no
# acknowledged binding, in the table or in the other node's memory;
# PostgreSQL going away gives 500 with Retry-After (never 200), lookups go
# on, and the node reconnects by itself; RFC 3261 10.3 CSeq ordering holds
# across the nodes, in the database.
. "${TZ_TESTDIR}/sip/lib.sh"
. "${TZ_TESTDIR}/sip/pg_lib.sh"
need sipp
pg_need

S="$TZ_TESTDIR/sip/scenarios"
set -- $(ports 6)
PA=$1 PB=$2 PHONE=$3 UAC=$4 LOAD=$5 PGP=$6
# No fsync: what is tested is that a 200 follows the COMMIT, and neither a
# kill -9 of trapezoid nor `pg_ctl stop -m immediate` loses what the OS
# holds; without it the load below is a disk benchmark on a small machine.
PG_OPTS="${PG_OPTS:--c fsync=off}"

now_ms() { date +%s%3N; }

# node_cfg NAME: the registrar's settings (registrar.cfg.in) on PostgreSQL,
# routing like proxy.cfg.in without record-route, a control socket
# $TZ_WORK/NAME.sock. MESSAGE answers from the location index (lookup
# only, never relayed), as in registrar.cfg.in.
node_cfg() {
  cat >"$TZ_WORK/$1.cfg" <<CFG
alias=example.test
debug=2
fr_timer=2000
ctl_socket="$TZ_WORK/$1.sock"

loadmodule "location"
loadmodule "registrar"
modparam("location", "db_url", "$PG_URL")
modparam("registrar", "min_expires", 60)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "default_expires", 1800)
modparam("registrar", "max_contacts", 0)
modparam("registrar", "max_contacts_reject", 0)

request_route {
    if (!maxfwd_check()) {
        sl_reply(483, "Too Many Hops");
        exit;
    }
    if (has_totag()) {
        if (is_method("ACK")) exit;
        sl_reply(404, "Not Here");
        exit;
    }
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    if (is_method("MESSAGE")) {
        if (!registered("location")) {
            sl_reply(404, "Not Registered");
            exit;
        }
        if (lookup("location")) {
            sl_reply(200, "found \$ru");
        }
        exit;
    }
    if (!lookup("location")) {
        sl_reply(404, "Not Found");
        exit;
    }
    t_relay();
}
CFG
}

# node NAME PORT: starts a node; TZ_PID is its pid.
node() {
  node_cfg "$1"
  tz_start "$1" "$TZ_WORK/$1.cfg" -l "udp:127.0.0.1:$2"
}
ctl_on() { n=$1; shift; "$TZ_TZCTL" -s "$TZ_WORK/$n.sock" "$@"; }
# stat_of NODE NAME: a counter or gauge from `tzctl stats` (empty if none).
stat_of() { ctl_on "$1" stats | awk -v k="$2" '$1 == k {print $2}'; }

# reg PORT USER CALLID CSEQ [HEADER-LINE...]: one REGISTER, a new
# transaction each time (lib.sh); a commit under load may take a while.
reg() { SIPSEND_WAIT=3000 sip_reg "$@"; }
st_of() { printf '%s\n' "$1" | status_of; }

# msg_status PORT USER: a MESSAGE to USER@example.test; the status line.
msg_status() {
  sip_msg MESSAGE 1 | sed "s#^MESSAGE sip:bob@127.0.0.1:1 #MESSAGE sip:$2@example.test #" |
    "$TZ_TOOLS/sipsend" 127.0.0.1 "$1" | head -n 1 | tr -d '\r'
}

# row USER: the table's rows of USER@example.test (contact|callid|cseq).
row() {
  psql_q "SELECT contact, callid, cseq FROM location
           WHERE username = '$1' AND domain = 'example.test' ORDER BY contact"
}

pg_start "$PGP"
pg_log() { tail -n 20 "$PG_DIR/server.log"; }

# ---- no schema: refused, pointing at db/postgres/location.sql ----------------
node_cfg noschema
"$TZ_BIN" -D -E -f "$TZ_WORK/noschema.cfg" -L "$TZ_MODDIR" ${TZ_TEST_WORKERS:+-w "$TZ_TEST_WORKERS"} \
  -l "udp:127.0.0.1:$PA" >"$TZ_WORK/noschema.log" 2>&1 &
NS=$!
TZ_PIDS="$TZ_PIDS $NS"
for _ in $(seq 1 100); do kill -0 "$NS" 2>/dev/null || break; sleep 0.1; done
kill -0 "$NS" 2>/dev/null && fail "started without the schema (still running after 10 s)"
wait "$NS"; rc=$?
[ "$rc" != 0 ] || fail "exit status 0 without the schema"
grep -q "location\.sql" "$TZ_WORK/noschema.log" || fail "no line names location.sql: $(cat "$TZ_WORK/noschema.log")"
pass "without the schema a node refuses to start (status $rc) and names $(grep -o '[^ ]*location\.sql' "$TZ_WORK/noschema.log" | head -n 1)"

pg_schema
node a "$PA"
A=$TZ_PID
node b "$PB"
B=$TZ_PID
# Connected since start-up (it checked the schema): the gauge says so.
for n in a b; do
  [ "$(stat_of $n location.db.connected)" = 1 ] || fail "node $n: location.db.connected is '$(stat_of $n location.db.connected)', wanted 1"
done

# ---- 1. register via A, call via B; unregister via B, 404 via A ------------------
r=$(reg "$PA" bob bob-cid 1 "Contact: <sip:bob@127.0.0.1:$PHONE>" "Expires: 3600")
[ "$(st_of "$r")" = 200 ] || fail "REGISTER bob via A: $r"
[ "$(row bob)" = "sip:bob@127.0.0.1:$PHONE|bob-cid|1" ] ||
  fail "bob's row not committed when A answered 200: '$(row bob)'"
t0=$(now_ms)
until ctl_on b --json location show bob@example.test 2>/dev/null |
  grep -q "\"contact\":\"sip:bob@127.0.0.1:$PHONE\""; do
  [ $(($(now_ms) - t0)) -le 1000 ] || fail "B did not learn bob's binding within 1 s: $(ctl_on b --json location show bob@example.test 2>&1)"
  sleep 0.05
done
b_ms=$(($(now_ms) - t0))

sipp -sf "$S/call_uas.xml" -i 127.0.0.1 -p "$PHONE" -m 1 -nostdin -timeout 20 -timeout_error \
  -trace_msg -message_file "$TZ_WORK/phone.msg" >"$TZ_WORK/phone.out" 2>&1 &
UAS=$!
TZ_PIDS="$TZ_PIDS $UAS"
wait_udp "$PHONE"
sipp -sf "$S/call_uac_direct.xml" -s bob -i 127.0.0.1 -p "$UAC" -m 1 -nostdin -timeout 20 -timeout_error \
  -trace_msg -message_file "$TZ_WORK/caller.msg" "127.0.0.1:$PB" >"$TZ_WORK/caller.out" 2>&1 ||
  fail "call via B: $(tail -5 "$TZ_WORK/caller.out"; tail -30 "$TZ_WORK/caller.msg")"
wait "$UAS" || fail "the phone's side of the call failed: $(tail -5 "$TZ_WORK/phone.out"; tail -30 "$TZ_WORK/phone.msg")"
# Relayed by B: its top Via has B's listen port or, with workers, the own
# port of the B worker that relayed it (as in trapezoid.sh).
via=$(sed -n 's/^Via: SIP\/2.0\/UDP 127.0.0.1:\([0-9]*\);.*/\1/p' "$TZ_WORK/phone.msg" | head -n 1)
[ -n "$via" ] && { [ "$via" = "$PB" ] || grep -q "own port .*:$via;" "$TZ_WORK/b.log"; } ||
  fail "the INVITE did not come through B (top Via port ${via:-none}): $(grep -m 1 '^Via:' "$TZ_WORK/phone.msg")"

r=$(reg "$PB" bob bob-cid 2 "Contact: <sip:bob@127.0.0.1:$PHONE>;expires=0")
t0=$(now_ms)
[ "$(st_of "$r")" = 200 ] || fail "unREGISTER bob via B: $r"
[ -z "$(row bob)" ] || fail "bob's row still in the table after B's 200: '$(row bob)'"
until [ "$(msg_status "$PA" bob | cut -d' ' -f2)" = 404 ]; do
  [ $(($(now_ms) - t0)) -le 1000 ] || fail "A still routes to bob 1 s after B removed him: $(msg_status "$PA" bob)"
  sleep 0.05
done
st=$(sip_msg INVITE "$PA" | sed 's#^INVITE sip:bob@127.0.0.1:[0-9]* #INVITE sip:bob@example.test #' |
  "$TZ_TOOLS/sipsend" 127.0.0.1 "$PA" | status_of)
gone_ms=$(($(now_ms) - t0))
[ "$st" = 404 ] || fail "INVITE bob via A after the removal: got '$st'"
[ "$gone_ms" -le 1000 ] || fail "INVITE via A got 404 only ${gone_ms} ms after B's 200"
pass "registered via A (B knew in ${b_ms} ms), called via B; removed via B, INVITE via A 404 after ${gone_ms} ms"

# ---- 2. kill -9 of A under REGISTER load ------------------------------------------
{ echo SEQUENTIAL; for i in $(seq 1 6000); do echo "w$i"; done; } >"$TZ_WORK/users.csv"
sipp -sf "$S/register_uac.xml" -inf "$TZ_WORK/users.csv" \
  -i 127.0.0.1 -p "$LOAD" -r 400 -m 6000 -nostdin -timeout 25 \
  -trace_msg -message_file "$TZ_WORK/load.msg" "127.0.0.1:$PA" >"$TZ_WORK/load.out" 2>&1 &
SIPP=$!
TZ_PIDS="$TZ_PIDS $SIPP"
sleep 3
kill -0 "$SIPP" 2>/dev/null || fail "SIPp ended before the kill: $(tail -5 "$TZ_WORK/load.out")"
kill -KILL "$A"
tkill=$(now_ms)
{ wait "$A"; } 2>/dev/null
# B's index 1 s after the kill: every 200 was sent before it, so this
# snapshot must hold them all (compared once SIPp's trace is complete).
b_index() {
  ctl_on b --json location show | grep -o '"aor":"w[0-9]*@example.test"' |
    sed 's/"aor":"\(.*\)@example.test"/\1/' | sort -u
}
rem=$((tkill + 1000 - $(now_ms)))
[ "$rem" -le 0 ] || sleep "$((rem / 1000)).$(printf %03d $((rem % 1000)))"
b_index >"$TZ_WORK/b_index.txt"
sipp_stop "$SIPP"
sipp_answered "$TZ_WORK/load.msg" >"$TZ_WORK/acked.txt"
acked=$(wc -l <"$TZ_WORK/acked.txt")
[ "$acked" -ge 100 ] || fail "only $acked REGISTERs acknowledged by A in 3 s: $(tail -5 "$TZ_WORK/load.out")"

psql_q "SELECT username FROM location WHERE domain = 'example.test' AND username LIKE 'w%'" |
  sort -u >"$TZ_WORK/stored.txt"
missing=$(comm -23 "$TZ_WORK/acked.txt" "$TZ_WORK/stored.txt" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing of $acked acknowledged REGISTERs not in the table: $(comm -23 "$TZ_WORK/acked.txt" "$TZ_WORK/stored.txt" | head -5 | tr '\n' ' ')"

late=$(comm -23 "$TZ_WORK/acked.txt" "$TZ_WORK/b_index.txt" | wc -l)
[ "$late" -eq 0 ] ||
  fail "$late of $acked acknowledged REGISTERs not in B's index 1 s after the kill ($(b_index | comm -23 "$TZ_WORK/acked.txt" - | wc -l) still missing now): $(comm -23 "$TZ_WORK/acked.txt" "$TZ_WORK/b_index.txt" | head -5 | tr '\n' ' ')"
pass "kill -9 of A after $acked acknowledged REGISTERs: all in the table ($(wc -l <"$TZ_WORK/stored.txt") rows) and in B's index"

# ---- 3. PostgreSQL down: 500 + Retry-After, lookups on, reconnect ----------------
node a2 "$PA"
A=$TZ_PID
r=$(reg "$PA" carol carol-cid 1 "Contact: <sip:carol@192.0.2.5>" "Expires: 3600")
[ "$(st_of "$r")" = 200 ] || fail "REGISTER carol via A before the outage: $r"
[ "$(stat_of a2 location.db.connected)" = 1 ] || fail "location.db.connected before the outage: '$(stat_of a2 location.db.connected)'"
rc0=$(stat_of a2 location.db.reconnects)
case "$rc0" in [0-9]*) ;; *) fail "no location.db.reconnects counter: $(ctl_on a2 stats | grep '^location')" ;; esac

pg_stop immediate
for i in 1 2 3 4 5 6; do
  r=$(reg "$PA" down$i down-cid-$i 1 "Contact: <sip:down$i@192.0.2.6>" "Expires: 3600")
  [ "$(st_of "$r")" = 500 ] || fail "REGISTER $i with PostgreSQL down: got '$(st_of "$r")', wanted 500:
$r"
  printf '%s\n' "$r" | grep -qiE '^Retry-After: *[0-9]+' || fail "500 without Retry-After:
$r"
  sleep 0.4
done
[ "$(stat_of a2 location.db.connected)" = 0 ] || fail "location.db.connected with PostgreSQL down: '$(stat_of a2 location.db.connected)'"
# The error names the module, the AOR and the call, for the operator to find it.
grep -q "ERROR: registrar: bindings of down6@example.test not stored \[Call-ID down-cid-6\]" "$TZ_WORK/a2.log" ||
  fail "no error line naming module and Call-ID: $(grep -m2 'not stored' "$TZ_WORK/a2.log")"
m=$(msg_status "$PA" carol)
[ "$m" = "SIP/2.0 200 found sip:carol@192.0.2.5" ] || fail "lookup with PostgreSQL down: '$m'"
pass "PostgreSQL down: 6 REGISTERs got 500 with Retry-After, none 200; location.db.connected 0; lookups from memory"

pg_start
t0=$(now_ms)
n=0
while :; do
  n=$((n + 1))
  r=$(reg "$PA" back back-cid "$n" "Contact: <sip:back@192.0.2.7>" "Expires: 3600")
  st=$(st_of "$r")
  [ "$st" = 200 ] && break
  [ "$st" = 500 ] || fail "REGISTER while reconnecting: got '$st', wanted 500 or 200:
$r"
  [ $(($(now_ms) - t0)) -le 10000 ] || fail "no 200 within 10 s of PostgreSQL's restart ($n tries): $(grep -i 'location\|postgres\|pq' "$TZ_WORK/a2.log" | tail -5)
--- PostgreSQL: $(pg_log)"
  sleep 0.5
done
back_ms=$(($(now_ms) - t0))
[ "$(row back)" != "" ] || fail "the REGISTER that got 200 after the restart is not in the table"
[ "$(stat_of a2 location.db.connected)" = 1 ] || fail "location.db.connected after the reconnect: '$(stat_of a2 location.db.connected)'"
rc1=$(stat_of a2 location.db.reconnects)
[ "$rc1" -ge $((rc0 + 1)) ] || fail "location.db.reconnects $rc0 before the outage, $rc1 after it"
until [ "$(stat_of b location.db.connected)" = 1 ]; do
  [ $(($(now_ms) - t0)) -le 10000 ] || fail "B did not reconnect within 10 s of PostgreSQL's restart"
  sleep 0.2
done
pass "PostgreSQL back: REGISTER 200 after ${back_ms} ms ($n tries), without a restart; location.db.reconnects $rc0 -> $rc1; B reconnected too"

# tzctl location remove on one node: the row goes, the other node forgets.
[ "$(ctl_on b location remove back@example.test)" = "removed 1" ] ||
  fail "tzctl location remove via B: $(ctl_on b location remove back@example.test 2>&1)"
# The command answers once the removal is queued; the commit follows.
t0=$(now_ms)
until [ -z "$(row back)" ]; do
  [ $(($(now_ms) - t0)) -le 1000 ] || fail "the row is still there 1 s after tzctl location remove: $(row back)"
  sleep 0.05
done
until [ "$(msg_status "$PA" back)" = "SIP/2.0 404 Not Registered" ]; do
  [ $(($(now_ms) - t0)) -le 1000 ] || fail "A still finds back 1 s after the removal via B: $(msg_status "$PA" back)"
  sleep 0.05
done
pass "tzctl location remove via B: the row is gone, A forgets within 1 s"

# ---- 3b. PostgreSQL crashes and comes back under REGISTER load ------------------
# 300 REGISTER/s through A for 8 s; the server stops hard (immediate, its
# crash) after 2 s and starts again after 4 s. Whatever got a 200 is in
# the table afterwards; the outage shows as 500s, never as a lost 200.
{ echo SEQUENTIAL; for i in $(seq 1 2400); do echo "x$i"; done; } >"$TZ_WORK/users3.csv"
sipp -sf "$S/register_uac.xml" -inf "$TZ_WORK/users3.csv" \
  -i 127.0.0.1 -p "$LOAD" -r 300 -m 2400 -nostdin -timeout 30 \
  -trace_msg -message_file "$TZ_WORK/load3.msg" "127.0.0.1:$PA" >"$TZ_WORK/load3.out" 2>&1 &
SIPP=$!
TZ_PIDS="$TZ_PIDS $SIPP"
sleep 2
pg_stop immediate
sleep 2
pg_start
wait "$SIPP" 2>/dev/null
sipp_answered "$TZ_WORK/load3.msg" >"$TZ_WORK/acked3.txt"
refused=$(sipp_answered "$TZ_WORK/load3.msg" 500 | wc -l)
n200=$(wc -l <"$TZ_WORK/acked3.txt")
[ "$n200" -ge 300 ] || fail "only $n200 REGISTERs got 200 around the restart: $(tail -5 "$TZ_WORK/load3.out")"
[ "$refused" -gt 0 ] || fail "no REGISTER got 500 while PostgreSQL was down"
psql_q "SELECT username FROM location WHERE username LIKE 'x%'" | sort -u >"$TZ_WORK/stored3.txt"
lost=$(comm -23 "$TZ_WORK/acked3.txt" "$TZ_WORK/stored3.txt" | wc -l)
[ "$lost" -eq 0 ] || fail "$lost of $n200 acknowledged REGISTERs lost across PostgreSQL's restart: $(comm -23 "$TZ_WORK/acked3.txt" "$TZ_WORK/stored3.txt" | head -5 | tr '\n' ' ')"
pass "PostgreSQL crashed and restarted under 300 REGISTER/s: $n200 got 200, all in the table; $refused got 500 meanwhile"

# ---- 4. one AOR through both nodes: CSeq order in the database ------------------
# CSeq 1..20, odd ones via A, even via B, all at once (each sender in the
# background): a lower CSeq may lose (500) to a higher one committed
# first, but the highest, 20, cannot.
senders=""
for c in $(seq 1 20); do
  if [ $((c % 2)) = 1 ]; then p=$PA; else p=$PB; fi
  reg "$p" dave dave-cid "$c" "Contact: <sip:dave@192.0.2.8>" "Expires: 3600" >"$TZ_WORK/dave.$c" &
  senders="$senders $!"
done
for s in $senders; do wait "$s"; done
hi=0 oks=0
for c in $(seq 1 20); do
  st=$(status_of <"$TZ_WORK/dave.$c")
  case "$st" in
    200) hi=$c oks=$((oks + 1)) ;;
    500) ;;
    *) fail "REGISTER dave CSeq $c: got '$st', wanted 200 or 500: $(cat "$TZ_WORK/dave.$c")" ;;
  esac
done
[ "$hi" = 20 ] || fail "CSeq 20, the highest, was not acknowledged: $(cat "$TZ_WORK/dave.20")"
[ "$(row dave)" = "sip:dave@192.0.2.8|dave-cid|20" ] ||
  fail "dave's row after the race: '$(row dave)', wanted CSeq 20"
t0=$(now_ms)
for n in b a2; do
  until ctl_on $n --json location show dave@example.test 2>/dev/null | grep -q '"callid":"dave-cid","cseq":20[,}]'; do
    [ $(($(now_ms) - t0)) -le 1000 ] || fail "node $n does not show CSeq 20 for dave: $(ctl_on $n --json location show dave@example.test 2>&1)"
    sleep 0.05
  done
done

# CSeq 20 went through B: a lower one through A is stale, checked against
# the row (A's memory has it too by now).
before=$(psql_q "SELECT contact, callid, cseq, expires, branch, last_modified FROM location WHERE username = 'dave'")
r=$(reg "$PA" dave dave-cid 5 "Contact: <sip:dave@192.0.2.8>;expires=120")
[ "$(st_of "$r")" = 500 ] || fail "CSeq 5 via A after CSeq 20 via B: got '$(st_of "$r")', wanted 500:
$r"
after=$(psql_q "SELECT contact, callid, cseq, expires, branch, last_modified FROM location WHERE username = 'dave'")
[ "$after" = "$before" ] || fail "the stale REGISTER changed the row: '$before' -> '$after'"
# Back to back: CSeq 22 via B, at once CSeq 21 via A, before A can have
# heard of 22: only the database can tell 21 is stale.
r=$(reg "$PB" dave dave-cid 22 "Contact: <sip:dave@192.0.2.8>" "Expires: 3600")
[ "$(st_of "$r")" = 200 ] || fail "CSeq 22 via B: $r"
r=$(reg "$PA" dave dave-cid 21 "Contact: <sip:dave@192.0.2.8>;expires=120")
[ "$(st_of "$r")" = 500 ] || fail "CSeq 21 via A right after CSeq 22 via B: got '$(st_of "$r")', wanted 500:
$r"
[ "$(row dave)" = "sip:dave@192.0.2.8|dave-cid|22" ] ||
  fail "dave's row after the stale CSeq 21: '$(row dave)'"
pass "CSeq 1..20 through A and B ($oks acknowledged): the row and both nodes have 20; lower CSeqs through the other node get 500, the row keeps the higher"

# location_save itself, the rule every node relies on: the database's
# answer (applied, contacts) to saves no node's memory could have refused.
# b CONTACT CALLID CSEQ BRANCH: one binding as the writer sends it.
b() {
  printf '{"contact":"%s","received":null,"path":null,"expires":%d,"q":-0.001,"callid":"%s","cseq":%d,"last_modified":1,"flags":0,"cflags":0,"user_agent":null,"socket":null,"methods":null,"instance":null,"reg_id":0,"branch":"%s"}' \
    "$1" $(($(date +%s) + 600)) "$2" "$3" "$4"
}
# save UP DEL: "applied contact:cseq ..." afterwards.
save() {
  psql_q "SELECT applied, contact, cseq FROM location_save('sql', 'example.test', '$1', '$2') ORDER BY contact" |
    awk -F'|' '{ a = $1; if ($2 != "") c = c " " $2 ":" $3 } END { print a c }'
}
c1=sip:c1@192.0.2.1 c2=sip:c2@192.0.2.2
check_save() { # WANT UP DEL WHAT
  got=$(save "$2" "$3")
  [ "$got" = "$1" ] || fail "location_save: $4: got '$got', wanted '$1'"
}
check_save "t $c1:5" "[$(b $c1 X 5 b1)]" '[]' "a new contact"
check_save "f $c1:5" "[$(b $c1 X 4 b2)]" '[]' "a lower CSeq of the same Call-ID"
check_save "f $c1:5" "[$(b $c1 X 5 b2)]" '[]' "the same CSeq from another transaction"
check_save "t $c1:5" "[$(b $c1 X 5 b1)]" '[]' "a retransmission (same branch)"
check_save "f $c1:5" "[$(b $c2 Y 1 b3),$(b $c1 X 3 b3)]" '[]' "two contacts, one stale: none goes in"
check_save "t $c1:1" "[$(b $c1 Z 1 b4)]" '[]' "another Call-ID, any CSeq"
check_save "t $c1:1" '[]' '[{"contact":"'$c1'","callid":"X","cseq":5}]' "a removal by a node that saw an older row"
check_save "t" '[]' '[{"contact":"'$c1'","callid":"Z","cseq":1}]' "a removal of the row as it is"
pass "location_save: stale CSeq, same CSeq from another transaction, all-or-none, removals only of the row a node saw"

tz_stop "$B" || fail "stop B: status $?"
tz_stop "$A" || fail "stop A: status $?"
