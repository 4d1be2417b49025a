#!/usr/bin/env bash
# The architecture, checked from the sources and the built objects:
# 1. modules include nothing of core/: only <trapezoid/...> (the module API
#    in include/trapezoid/) and headers of their own folder;
# 2. the daemon exports exactly the module API: every tz_ function that
#    include/trapezoid/ declares TZ_API, nothing else of ours (the libc
#    names interpose.c, udpio.c, test/wire.c and test/clock.c wrap, and the libsofia tport
#    functions tportio.c and udpio.c wrap, excepted), so a module's global can never replace a
#    core internal;
# 3. the layers of core/ are used only downward (see below).
. "${TZ_TESTDIR}/sip/lib.sh"
need nm

# ---- 1. the module boundary --------------------------------------------------------
bad=$(cd "$TZ_SRCDIR/modules" && for f in */*.c */*.h; do
  d=$(dirname "$f")
  sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | while read -r h; do
    case $h in *_sql.h) continue ;; esac # generated into the module's build folder
    [ -f "$d/$h" ] || echo "$f includes \"$h\""
  done
  grep -H '^#include <trapezoid/' "$f" | grep -v -E '<trapezoid/(trapezoid|json|location|export)\.h>'
done)
[ -z "$bad" ] || fail "modules reach past include/trapezoid/:
$bad"
pass "modules include only <trapezoid/...> and their own headers"

# ---- 2. what the daemon exports -----------------------------------------------------
api=$(sed -n 's/^TZ_API[^(]*[ *]\(tz_[a-z0-9_]*\)(.*/\1/p' "$TZ_SRCDIR"/include/trapezoid/*.h | sort -u)
[ "$(printf '%s\n' "$api" | wc -l)" -ge 50 ] || fail "found only $(printf '%s\n' "$api" | wc -l) TZ_API functions"
exported=$(nm -D --defined-only "$TZ_BIN" | awk '{print $3}' | sed 's/@.*//' | sort -u)
ours=$(printf '%s\n' "$exported" | grep -E '^(tz_|suggest_|gen_|sip_|relay_|run_|core_|hdr_)' || true)
extra=$(comm -13 <(printf '%s\n' "$api") <(printf '%s\n' "$ours"))
missing=$(comm -23 <(printf '%s\n' "$api") <(printf '%s\n' "$ours"))
[ -z "$extra" ] || fail "the daemon exports internals: $extra"
[ -z "$missing" ] || fail "TZ_API functions the daemon does not export: $missing"
other=$(printf '%s\n' "$exported" | grep -v -E '^(tz_|_|data_start$|std(in|out|err)$|opt(arg|ind|err|opt)$)' || true)
# (tag_next, tag_null: libsofia's tag types, which ta_start() in tportio.c
# refers to; as data they are copied into the executable, not ours.)
wrapped="accept bind clock_gettime close connect epoll_wait getaddrinfo getsockname getsockopt gettimeofday inet_ntop ioctl listen recv recvmsg sendmsg sendto tag_next tag_null time tport_alloc_secondary tport_deliver tport_msg_alloc tport_recv_event tport_tsend"
[ "$(printf '%s\n' "$other" | tr '\n' ' ')" = "$wrapped " ] ||
  fail "unexpected exports besides the module API: $other"
pass "nm -D: the daemon exports the $(printf '%s\n' "$api" | wc -l) TZ_API functions, plus the libc and tport wrappers: $wrapped"

# ---- 3. the layers ---------------------------------------------------------------------
# core/lib -> runtime -> script -> sip -> control -> the daemon (core/*.c
# and core/test/, the script-test harness that only the daemon links):
# each file may use only its own layer and those before it, by #include
# and by the symbols its object file needs.
layer_of() { # PATH relative to core/ -> rank
  case $1 in
  lib/*) echo 1 ;; runtime/*) echo 2 ;; script/*) echo 3 ;; sip/*) echo 4 ;;
  control/*) echo 5 ;; test/*) echo 6 ;; */*) echo 9 ;; *) echo 6 ;;
  esac
}
up=""
cd "$TZ_SRCDIR/core" || fail "no core/"
for f in */*.c */*.h *.c; do
  me=$(layer_of "$f")
  for h in $(sed -n 's/^#include "\([a-z]*\/[^"]*\)".*/\1/p' "$f"); do
    [ "$(layer_of "$h")" -le "$me" ] || up="$up
  $f includes $h"
  done
done
[ -z "$up" ] || fail "includes that go up a layer:$up"
pass "every #include in core/ goes to the same layer or one below"

# Symbols: who defines what, from the library's objects (named by source).
lib="$(dirname "$TZ_BIN")/.libs/libtzcore.a"
[ -f "$lib" ] || fail "no $lib"
src_of() { # object basename -> path relative to core/ (names are unique)
  for d in lib runtime script sip control; do
    [ -f "$TZ_SRCDIR/core/$d/$1.c" ] && { echo "$d/$1.c"; return; }
  done
  echo "?/$1.c" # two core files that share a name: libtool renames them
}
edges=$(nm -A "$lib" 2>/dev/null | awk '
  { split($1, a, ":"); obj = a[2]; sub(/\.o$/, "", obj)
    if (NF == 4) { t = $3; s = $4 } else { t = $2; s = $3 }
    if (t ~ /^[TDBRC]$/) def[s] = obj; else if (t == "U") use[obj, s] = 1 }
  END { for (k in use) { split(k, p, SUBSEP)
          if ((p[2] in def) && def[p[2]] != p[1]) print p[1], def[p[2]], p[2] } }' | sort -u)
[ -n "$edges" ] || fail "no symbol dependencies found in $lib"
up=$(printf '%s\n' "$edges" | while read -r from to sym; do
  a=$(src_of "$from") b=$(src_of "$to")
  case "$a$b" in *'?'*) echo "  $a or $b: no such source (core file names must be unique)" ;; esac
  [ "$(layer_of "$b")" -le "$(layer_of "$a")" ] || echo "  $a uses $sym from $b"
done)
[ -z "$up" ] || fail "symbols used from a layer above:
$up"
pass "every symbol a core object needs comes from its own layer or one below ($(printf '%s\n' "$edges" | wc -l) uses)"
