#!/usr/bin/env bash
# RFC 3261 section 10.3 against the running server: every rule of save(),
# lookup() and registered(), and restart persistence. Raw REGISTERs give
# exact control over Call-ID, CSeq, Expires and Contact.
. "${TZ_TESTDIR}/sip/lib.sh"
need sqlite3

P=$(ports 1)
DB="$TZ_WORK/location.db"

start_registrar() { # NAME MAX_CONTACTS REJECT
  sed -e "s#@DB@#$DB#" -e "s#@MAXC@#$2#" -e "s#@REJ@#$3#" \
    "$TZ_TESTDIR/sip/scripts/registrar.cfg.in" >"$TZ_WORK/$1.cfg"
  tz_start "$1" "$TZ_WORK/$1.cfg" -l "127.0.0.1:$P"
}

# reg USER CALLID CSEQ [HEADER-LINE...]: one REGISTER to the server (lib.sh).
reg() { sip_reg "$P" "$@"; }

# expect STATUS RESPONSE LABEL
expect() {
  st=$(printf '%s\n' "$2" | status_of)
  [ "$st" = "$1" ] || fail "$3: got '$st', wanted $1:
$2"
}
has() { printf '%s\n' "$1" | grep -qiE "$2" || fail "$3: no /$2/ in:
$1"; }
hasnt() { printf '%s\n' "$1" | grep -qiE "$2" && fail "$3: unexpected /$2/ in:
$1"; return 0; }
ncontacts() { printf '%s\n' "$1" | grep -ci '^Contact:'; }

start_registrar tz 0 0

r=$(reg alice c1 1 "Contact: <sip:alice@192.0.2.1:5060>")
expect 200 "$r" "first REGISTER"
has "$r" '^Contact: <sip:alice@192.0.2.1:5060>;expires=(1800|1799)$' "default expires"
has "$r" '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT$' "Date header"
pass "REGISTER -> 200 with the binding, default expires and Date"

r=$(reg alice c1 2 "Contact: <sip:alice@192.0.2.1:5060>;expires=120" "Expires: 300")
has "$r" ';expires=(120|119)$' "contact expires over Expires header"
r=$(reg alice c1 3 "Contact: <sip:alice@192.0.2.1:5060>" "Expires: 300")
has "$r" ';expires=(300|299)$' "Expires header over default"
pass "expires precedence: Contact param > Expires header > default"

r=$(reg alice c1 4 "Contact: <sip:alice@192.0.2.1:5060>;expires=10")
expect 423 "$r" "expires below min_expires"
has "$r" '^Min-Expires: 60$' "423 carries Min-Expires"
r=$(reg alice c1 5 "Contact: <sip:alice@192.0.2.1:5060>;expires=99999")
has "$r" ';expires=(3600|3599)$' "clamped to max_expires"
pass "423 Interval Too Brief with Min-Expires; long expires clamped"

r=$(reg alice c1 4 "Contact: <sip:alice@192.0.2.1:5060>;expires=600")
expect 500 "$r" "same Call-ID, lower CSeq"
has "$r" '^SIP/2.0 500 Stale CSeq' "reason"
r=$(reg alice c1 5 "Contact: <sip:alice@192.0.2.1:5060>;expires=600")
expect 500 "$r" "same Call-ID, same CSeq, a new transaction (RFC 3261 10.3 step 7)"
r=$(BRANCH=same reg alice c1 6 "Contact: <sip:alice@192.0.2.1:5060>;expires=600")
expect 200 "$r" "same Call-ID, higher CSeq"
r=$(BRANCH=same reg alice c1 6 "Contact: <sip:alice@192.0.2.1:5060>;expires=1200")
expect 200 "$r" "same Call-ID, same CSeq, same transaction: a retransmission"
has "$r" ';expires=(600|599)$' "a retransmission changes nothing"
r=$(reg alice c2 1 "Contact: <sip:alice@192.0.2.1:5060>;q=0.1")
expect 200 "$r" "other Call-ID, low CSeq"
pass "stale CSeq (lower, or equal in a new transaction) fails with 500; a retransmission gets 200 again; a new Call-ID is fine"

r=$(reg alice c3 1 "Contact: <sip:alice@192.0.2.2:5060>;q=0.5, <sip:alice@192.0.2.3:5060>;q=1.0")
expect 200 "$r" "two more contacts"
[ "$(ncontacts "$r")" = 3 ] || fail "200 should list all 3 bindings: $r"
has "$r" 'sip:alice@192.0.2.2:5060>;expires=[0-9]+;q=0.500' "q kept"
pass "several Contacts in one REGISTER; 200 lists all bindings with q"

r=$(reg alice c9 1)
expect 200 "$r" "query"
[ "$(ncontacts "$r")" = 3 ] || fail "query should list 3 bindings: $r"
pass "REGISTER without Contact is a query"

m=$(sip_msg MESSAGE 1 | sed 's#^MESSAGE sip:bob@127.0.0.1:1 #MESSAGE sip:alice@example.test #' |
  "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" | tr -d '\r' | head -n 1)
[ "$m" = "SIP/2.0 200 found sip:alice@192.0.2.3:5060" ] || fail "lookup picked '$m', wanted the q=1.0 contact"
m=$(sip_msg MESSAGE 1 | sed 's#^MESSAGE sip:bob@127.0.0.1:1 #MESSAGE sip:nobody@example.test #' |
  "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" | status_of)
[ "$m" = 404 ] || fail "unregistered AOR: got '$m'"
pass "lookup() takes the highest q; registered() false for unknown AORs"

r=$(reg alice c3 2 "Contact: <sip:alice@192.0.2.3:5060>;expires=0")
expect 200 "$r" "remove one"
[ "$(ncontacts "$r")" = 2 ] || fail "expires=0 should remove one binding: $r"
hasnt "$r" '192.0.2.3' "removed binding listed"
pass "expires=0 removes that binding only"

r=$(reg alice c4 1 "Contact: *" "Expires: 10")
expect 400 "$r" "Contact * with Expires 10"
r=$(reg alice c4 2 "Contact: *, <sip:alice@192.0.2.9>" "Expires: 0")
expect 400 "$r" "Contact * with another contact"
r=$(reg alice c4 3 "Contact: *")
expect 400 "$r" "Contact * without Expires"
r=$(reg alice c1 6 "Contact: *" "Expires: 0")
expect 200 "$r" "Contact * with Expires 0"
[ "$(ncontacts "$r")" = 0 ] || fail "Contact * should remove everything: $r"
pass "Contact: * only alone and with Expires: 0; then removes all"

r=$(reg carol k1 1 "Require: path, foo, bar" "Contact: <sip:carol@192.0.2.5>")
expect 420 "$r" "unsupported extension"
has "$r" '^Unsupported: foo, bar$' "Unsupported header"
r=$(reg carol k1 2 "Require: path" "Path: <sip:edge.example.test;lr>" "Contact: <sip:carol@192.0.2.5>")
expect 200 "$r" "Require: path"
has "$r" '^Path: <sip:edge.example.test;lr>$' "Path echoed"
pass "Require: 420 with Unsupported for unknown extensions; Path kept and echoed"

r=$(printf 'REGISTER sip:example.test SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKx%s\nMax-Forwards: 70\nFrom: <sip:dave@elsewhere.test>;tag=1\nTo: <sip:dave@elsewhere.test>\nCall-ID: d1\nCSeq: 1 REGISTER\nContact: <sip:dave@192.0.2.7>\nContent-Length: 0\n\n' "$RANDOM" |
  sed 's/$/\r/' | "$TZ_TOOLS/sipsend" 127.0.0.1 "$P" | tr -d '\r')
expect 404 "$r" "AOR in a foreign domain"
pass "AOR outside our domains -> 404"

n=$(sqlite3 "$DB" "SELECT received FROM location WHERE username='carol'")
case "$n" in sip:127.0.0.1:*\;transport=udp) ;; *) fail "received not stored: '$n'" ;; esac
pass "source address stored as received ($n)"

# Restart: the bindings come back from sqlite.
r=$(reg bob b1 1 "Contact: <sip:bob@192.0.2.8>")
expect 200 "$r" "bob"
tz_stop "$TZ_PID" || fail "stop: status $?"
start_registrar tz2 0 0
r=$(reg bob b9 1)
[ "$(ncontacts "$r")" = 1 ] || fail "bob's binding lost over a restart: $r"
r=$(reg carol k9 1)
has "$r" 'sip:carol@192.0.2.5' "carol after restart"
pass "restart keeps registrations"
tz_stop "$TZ_PID" || fail "stop: status $?"

# max_contacts, both policies.
start_registrar rej 2 1
reg erin e1 1 "Contact: <sip:erin@192.0.2.1>, <sip:erin@192.0.2.2>" >/dev/null
r=$(reg erin e1 2 "Contact: <sip:erin@192.0.2.3>")
expect 403 "$r" "third contact with max_contacts=2, reject"
tz_stop "$TZ_PID" || fail "stop: status $?"
start_registrar repl 2 0
r=$(reg erin e2 1 "Contact: <sip:erin@192.0.2.3>")
expect 200 "$r" "third contact with max_contacts=2, replace"
[ "$(ncontacts "$r")" = 2 ] || fail "max_contacts not enforced: $r"
has "$r" '192.0.2.3' "the new contact is kept"
pass "max_contacts: 403 in reject mode, oldest replaced otherwise"
tz_stop "$TZ_PID" || fail "stop: status $?"
