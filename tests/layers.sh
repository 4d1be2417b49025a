#!/usr/bin/env bash
# The architecture, checked from the sources and the built objects:
# 1. modules include nothing of core/: only <trapezoid/...> (the module API
#    in include/trapezoid/) and headers of their own folder;
# 2. the daemon exports exactly the module API: every tz_ function that
#    include/trapezoid/ declares TZ_API, nothing else of ours (the two libc
#    names interpose.c wraps excepted), so a module's global can never
#    replace a core internal.
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
[ "$(printf '%s\n' "$other" | tr '\n' ' ')" = "accept close " ] ||
  fail "unexpected exports besides the module API: $other"
pass "nm -D: the daemon exports the $(printf '%s\n' "$api" | wc -l) TZ_API functions, plus accept/close (interpose.c)"
