#!/bin/sh
# Runs the bad-input corpus (see README): each FILE.sipt here must make
# `trapezoid --test` exit 1, print the text of its first line (after
# "# error: ") on stderr, and not die of a signal.
# Usage: tests/script/bad/check.sh [TRAPEZOID [MODULE_DIR]]
# (defaults: the werror build's binary and modules)
cd "$(dirname "$0")" || exit 2
top=../../..
bin=${1:-$top/_build/werror/core/trapezoid}
mods=${2:-$top/_build/werror/modules}
case $bin in /*) ;; *) [ -n "$1" ] && bin=$OLDPWD/$bin ;; esac
case $mods in /*) ;; *) [ -n "$2" ] && mods=$OLDPWD/$mods ;; esac
fail=0 n=0
out=$(mktemp) err=$(mktemp)
for f in *.sipt; do
  n=$((n + 1))
  want=$(sed -n '1s/^# error: //p' "$f")
  if [ -z "$want" ]; then
    echo "not ok $n - $f: no '# error: ' first line"; fail=1; continue
  fi
  "$bin" --test -L "$mods" "$f" >"$out" 2>"$err"
  rc=$?
  if [ $rc -ne 1 ]; then
    echo "not ok $n - $f: exit $rc, expected 1"; fail=1
  elif grep -q 'the harness died' "$out"; then
    echo "not ok $n - $f: $(grep 'the harness died' "$out")"; fail=1
  elif ! grep -qF -- "$want" "$err"; then
    echo "not ok $n - $f: stderr lacks: $want"; sed 's/^/  # /' "$err"; fail=1
  else
    echo "ok $n - $f"
  fi
done
rm -f "$out" "$err"
echo "1..$n"
exit $fail
