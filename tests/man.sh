#!/usr/bin/env bash
# The man pages (doc/man/) against the code, so that they cannot drift:
# 1. every page formats without a warning (man --warnings, groff -ww) and
#    is installed (listed in doc/man/Makefile.am);
# 2. trapezoid.cfg(5) has an entry for every core setting, core function
#    and pseudo-variable, listed from the code's own tables by
#    tests/tools/mandump;
# 3. trapezoid(8) has one for every option of the daemon's getopt string,
#    tzctl(8) for every command and option "tzctl -h" prints, and names
#    every control method the core registers;
# 4. every module the build made (modules/*/NAME.la) has its page
#    trapezoid-NAME.7, named in trapezoid.cfg(5)'s MODULES, with an entry
#    for each parameter and function it exports (as the module loader
#    sees them), each control method it registers and each counter.
# An entry is the tag line after .TP/.TQ, in the section named; it may
# list several names ("$fu, $fU") and go on with arguments ("listen=...",
# "sl_reply(code, reason)", "module load name").
# TZ_MANDIR=DIR checks the pages in DIR instead (a copy, to try a change).
. "${TZ_TESTDIR}/sip/lib.sh"
shopt -s lastpipe # check() at the end of a pipeline records its errors here
need man groff

MANDIR=${TZ_MANDIR:-$TZ_SRCDIR/doc/man}
MODBUILD=${TZ_MODDIR%%:*} # the build's modules/, first in the search path
DUMP="$TZ_TOOLS/mandump"
[ -x "$DUMP" ] || fail "no $DUMP"
errors=""
err() { errors="$errors
  $*"; }

# tags PAGE: "SECTION<TAB>TAG" for every .TP/.TQ entry, the tag as it
# reads: macros' arguments joined (alternating font macros without
# blanks), font changes and escapes undone.
tags() {
  awk '
    function args(s,   out, n, i, c, q) {
      n = 0; q = 0; out = ""
      for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (q && c == "\"" && substr(s, i + 1, 1) == "\"") { out = out c; i++; continue }
        if (c == "\"") { q = !q; continue }
        if (!q && (c == " " || c == "\t")) { if (out != "") { A[++n] = out; out = "" } continue }
        out = out c
      }
      if (out != "") A[++n] = out
      return n
    }
    function text(line,   m, n, i, t, sep) {
      if (line !~ /^\./) t = line
      else {
        m = line; sub(/[ \t].*/, "", m); sub(/^\.[^ \t]*[ \t]*/, "", line)
        n = args(line); sep = (m ~ /^\.(B|I|SM|SB)$/) ? " " : ""
        t = ""
        for (i = 1; i <= n; i++) t = t (i > 1 ? sep : "") A[i]
      }
      gsub(/\\f(\[[^]]*\]|\(..|.)/, "", t)
      gsub(/\\\(dq/, "\"", t); gsub(/\\\(aq/, "\047", t)
      gsub(/\\-/, "-", t); gsub(/\\[&|%c]/, "", t); gsub(/\\e/, "\\", t)
      return t
    }
    /^\.SH/ { sec = $0; sub(/^\.SH[ \t]*/, "", sec); gsub(/"/, "", sec); next }
    /^\.(TP|TQ)([ \t]|$)/ { want = 1; next }
    want && !/^\.\\"/ { want = 0; print sec "\t" text($0) }
  ' "$1"
}

# missing PAGE SECTION: the names on stdin that have no entry in SECTION.
missing() {
  awk -F'\t' -v sec="$2" '
    NR == FNR { if ($1 == sec) tag[++n] = $2; next }
    $0 == "" { next }
    {
      name = $0; found = 0
      for (i = 1; i <= n && !found; i++) {
        k = split(tag[i], item, /, */)
        for (j = 1; j <= k && !found; j++) {
          it = item[j]
          if (it == name) found = 1
          else if (substr(it, 1, length(name)) == name &&
                   index("=( [", substr(it, length(name) + 1, 1)) > 0) found = 1
        }
      }
      if (!found) print name
    }
  ' <(tags "$1") -
}

# check PAGE SECTION WHAT < names: every name has its entry.
check() {
  local page=$1 sec=$2 what=$3 names gone
  names=$(cat)
  [ -n "$names" ] || { err "$what: the code lists none (mandump broken?)"; return; }
  gone=$(printf '%s\n' "$names" | missing "$MANDIR/$page" "$sec")
  [ -z "$gone" ] || err "$page, $sec: no entry for $what: $(echo $gone)"
  count=$((count + $(printf '%s\n' "$names" | wc -l)))
}

# The check itself: a name the page does not have is reported.
[ "$(echo no_such_setting | missing "$MANDIR/trapezoid.cfg.5" SETTINGS)" = no_such_setting ] ||
  fail "the entry matcher does not report a missing name"
[ -z "$(echo udp_rcvbuf | missing "$MANDIR/trapezoid.cfg.5" SETTINGS)" ] ||
  fail "the entry matcher does not find udp_rcvbuf in trapezoid.cfg.5"
pass "the entry matcher reports an undocumented name and finds a documented one"

# ---- 1. pages: format cleanly, installed ------------------------------------------------
pages=$(cd "$MANDIR" && ls -- *.[1-8])
listed=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$TZ_SRCDIR/doc/man/Makefile.am" |
  sed -n 's/^dist_man_MANS *= *//p' | tr -s ' \t' '\n' | sort)
for p in $pages; do
  printf '%s\n' "$listed" | grep -qx -- "$p" || err "$p is not in doc/man/Makefile.am's dist_man_MANS"
  th=$(sed -n 's/^\.TH \([^ ]*\) \([^ ]*\) .*/\1.\2/p' "$MANDIR/$p" | sed 's/\\-/-/g')
  [ "$th" = "$(printf '%s' "$p" | tr '[:lower:]' '[:upper:]')" ] ||
    err "$p: .TH names '$th'"
  w=$( { MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$MANDIR/$p" >/dev/null; } 2>&1)
  [ -z "$w" ] || err "man --warnings -l $p: $w"
  w=$(groff -ww -z -man "$MANDIR/$p" 2>&1)
  [ -z "$w" ] || err "groff -ww -z -man $p: $w"
done
[ -z "$errors" ] || fail "$errors"
pass "$(echo $pages | wc -w) pages format without a warning and are installed"

# ---- 2. the core's settings, functions, pseudo-variables --------------------------------
count=0
"$DUMP" settings | check trapezoid.cfg.5 SETTINGS "core settings"
"$DUMP" funcs | sort -u | check trapezoid.cfg.5 FUNCTIONS "core functions"
"$DUMP" pvars | sed 's/^/$/' | check trapezoid.cfg.5 PSEUDO-VARIABLES "pseudo-variables"

# ---- 3. the command lines --------------------------------------------------------------
optstring=$(sed -n 's/.*getopt(argc, argv, "\([^"]*\)").*/\1/p' "$TZ_SRCDIR/core/main.c")
[ -n "$optstring" ] || fail "no getopt string in core/main.c"
printf '%s\n' "$optstring" | tr -d ':' | fold -w1 | sed 's/^/-/' |
  check trapezoid.8 OPTIONS "the options of trapezoid (getopt \"$optstring\")"
help=$("$TZ_TZCTL" -h) || fail "tzctl -h failed"
printf '%s\n' "$help" | sed -n '/^commands:/,$p' | sed 1d |
  sed 's/^ *//; s/  .*//' | awk '{ out = "" ; for (i = 1; i <= NF; i++) {
    if ($i ~ /^[A-Z[-]/) break; out = out (out == "" ? "" : " ") $i } print out }' |
  check tzctl.8 COMMANDS "tzctl's commands (tzctl -h)"
{ printf '%s\n' "$help" | sed -n 's/^ *\(-[-a-z]*\).*/\1/p'; echo -h; echo --help; } |
  check tzctl.8 OPTIONS "tzctl's options (tzctl -h)"
text=$(MANWIDTH=1000 man -l "$MANDIR/tzctl.8" 2>/dev/null)
for m in $("$DUMP" methods); do
  printf '%s\n' "$text" | grep -qF "($m" || err "tzctl.8 does not name the core's method $m"
  count=$((count + 1))
done

# ---- 4. the modules the build made ------------------------------------------------------
mods=""
for la in "$MODBUILD"/*/*.la; do
  [ -f "$la" ] || continue
  m=$(basename "$la" .la)
  mods="$mods $m"
  page=trapezoid-$m.7
  if [ ! -f "$MANDIR/$page" ]; then
    err "module $m has no page doc/man/$page (and no line in doc/man/Makefile.am)"
    continue
  fi
  echo "trapezoid-$m" | check trapezoid.cfg.5 MODULES "the module $m's page"
  exports=$("$DUMP" module "$m" "$MODBUILD") || fail "mandump cannot load module $m"
  params=$(printf '%s\n' "$exports" | awk '$1 == "param" { print $2 }')
  funcs=$(printf '%s\n' "$exports" | awk '$1 == "func" { print $2 }')
  [ -z "$params" ] || printf '%s\n' "$params" | check "$page" PARAMETERS "$m's parameters"
  [ -z "$funcs" ] || printf '%s\n' "$funcs" | check "$page" FUNCTIONS "$m's functions"
  src="$TZ_SRCDIR/modules/$m"
  rpcs=$(cat "$src"/*.c | sed -n 's/.*tz_rpc_register([^,]*, *"\([^"]*\)".*/\1/p' | sort -u)
  stats=$(cat "$src"/*.c | sed -n 's/.*tz_stat_get("\([^"]*\)".*/\1/p' | sort -u)
  [ -z "$rpcs" ] || printf '%s\n' "$rpcs" | check "$page" "CONTROL COMMANDS" "$m's control methods"
  [ -z "$stats" ] || printf '%s\n' "$stats" | check "$page" STATISTICS "$m's counters"
done
[ -n "$mods" ] || fail "no module built in $MODBUILD"

[ -z "$errors" ] || fail "the man pages miss what the code has:$errors"
pass "$count names from the code's tables have their entries; modules:$mods"
