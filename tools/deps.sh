# deps.sh - Debian packages the scripts need, installed idempotently.
# Sourced by scripts/quickstart, scripts/check, bench/lib.sh and tests/fuzz/run.

# Building the daemon and its modules.
TZ_BUILD_PKGS="build-essential autoconf automake libtool pkg-config
  libsofia-sip-ua-dev libltdl-dev libsqlite3-dev sqlite3 libjemalloc-dev
  libpq-dev libsystemd-dev"
# Running the tests: CUnit, and the real SIP peers the tests talk to;
# man-db and groff-base format the man pages for tests/man.sh; sngrep
# decodes HEP and tshark reads the SIP for tests/sip/hep.sh; iproute2 (ip)
# puts the test addresses on the loopback of tests/sip/script_replay.sh.
TZ_TEST_PKGS="libcunit1-dev iproute2 sip-tester sipsak dnsmasq-base baresip openssl
  clang libclang-rt-14-dev postgresql man-db groff-base sngrep tshark"
# scripts/package: building the .debs (debhelper), checking them (lintian),
# the unit (systemd-analyze, in systemd), the unit tests of the build
# (libcunit1-dev), the installed daemon (sipsak, ss from iproute2).
TZ_PACKAGE_PKGS="dpkg-dev debhelper lintian systemd libcunit1-dev
  sipsak iproute2"

# tz_install_packages PKG...: installs the ones not yet installed.
tz_install_packages() {
  missing=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  echo "installing:$missing"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root to install:$missing" >&2; return 1; }
    sudo=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q || return 1
  # shellcheck disable=SC2086
  $sudo apt-get install -y -q --no-install-recommends $missing
}

# tz_configure BUILDDIR [CONFIGURE-ARGS...]: (re)generates the build system
# if needed and configures an out-of-tree build in BUILDDIR.
tz_configure() {
  top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  bdir=$1
  shift
  [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi) || return 1
  mkdir -p "$bdir"
  (cd "$bdir" && "$top/configure" "$@")
}
