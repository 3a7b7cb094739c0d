#!/usr/bin/env bash
# Brings a Debian 12 machine (root, Node 20) to everything `npm test` and `npm run demo` need:
# PostgreSQL, pgpool-II, Redis, docker-compose and Chromium from Debian, and node_modules.
#   bash scripts/setup.sh               install what is missing (root), then check
#   bash scripts/setup.sh --check-only  exit 0 iff everything is present; fast, changes nothing
# Debian's own pgpool2 service is stopped and disabled: pcpflow labs run their own pgpool per lab
# (on 127.0.N.10), and a stray package pgpool with its default config only confuses diagnostics.
# The machine's own postgresql and redis-server services are left alone (they use 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

PACKAGES=(postgresql pgpool2 redis-server docker-compose chromium)
check_only=0
case "${1:-}" in
  --check-only) check_only=1 ;;
  "") ;;
  -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "setup.sh: unknown option $1 (use --check-only or nothing)" >&2; exit 2 ;;
esac

problems=()
missing_pkgs=()

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5nr); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

# Running = the init system or the package's pid file says so (without systemd, as in containers,
# the package starts it through /etc/init.d with its pid file in /var/run/postgresql).
package_pgpool_running() {
  if [ -d /run/systemd/system ] && systemctl is-active --quiet pgpool2 2>/dev/null; then return 0; fi
  local pidfile=/var/run/postgresql/pgpool.pid pid
  [ -r "$pidfile" ] || return 1
  pid=$(head -n1 "$pidfile" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/comm" ] && grep -q '^pgpool' "/proc/$pid/comm"
}

package_pgpool_enabled() {
  [ -d /run/systemd/system ] && systemctl is-enabled --quiet pgpool2 2>/dev/null
}

node_modules_fresh() {
  # npm ci writes node_modules/.package-lock.json; older than package-lock.json = stale install.
  [ -f node_modules/.package-lock.json ] && ! [ package-lock.json -nt node_modules/.package-lock.json ]
}

check() {
  problems=(); missing_pkgs=()
  local p
  for p in "${PACKAGES[@]}"; do pkg_installed "$p" || missing_pkgs+=("$p"); done
  [ ${#missing_pkgs[@]} -eq 0 ] || problems+=("Debian packages missing: ${missing_pkgs[*]}")
  pg_bindir >/dev/null || problems+=("PostgreSQL server binaries (initdb) not found under /usr/lib/postgresql/*/bin")
  for p in /usr/sbin/pgpool /usr/sbin/pcp_node_info; do [ -x "$p" ] || problems+=("$p missing (package pgpool2)"); done
  for p in psql redis-server; do command -v "$p" >/dev/null || problems+=("$p not on PATH"); done
  getent passwd postgres >/dev/null || problems+=("no postgres account (package postgresql)")
  if ! command -v node >/dev/null; then problems+=("node is not installed (Node 20 needed)")
  elif [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then problems+=("node $(node -v) is too old (Node 20 needed)"); fi
  node_modules_fresh || problems+=("node_modules missing or older than package-lock.json (npm ci)")
  if package_pgpool_running; then problems+=("Debian's pgpool2 service is running (labs run their own pgpool)"); fi
  if package_pgpool_enabled; then problems+=("Debian's pgpool2 service is enabled"); fi
  [ ${#problems[@]} -eq 0 ]
}

if check; then
  echo "setup: everything is present"
  exit 0
fi
if [ "$check_only" = 1 ]; then
  printf 'setup: missing: %s\n' "${problems[@]}" >&2
  exit 1
fi

needs_root=0
if [ ${#missing_pkgs[@]} -gt 0 ] || package_pgpool_running || package_pgpool_enabled; then needs_root=1; fi
for p in "${problems[@]}"; do case "$p" in node_modules*) ;; *) needs_root=1 ;; esac; done
if [ "$(id -u)" -ne 0 ] && [ "$needs_root" = 1 ]; then
  printf 'setup: missing: %s\n' "${problems[@]}" >&2
  echo "setup: installing needs root; run:" >&2
  echo "  sudo bash $repo/scripts/setup.sh" >&2
  exit 1
fi

if [ ${#missing_pkgs[@]} -gt 0 ]; then
  echo "setup: apt-get install ${missing_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}"
fi

if [ "$(id -u)" -eq 0 ] && { package_pgpool_running || package_pgpool_enabled; }; then
  echo "setup: stopping and disabling Debian's pgpool2 service"
  if [ -d /run/systemd/system ]; then
    systemctl disable --now pgpool2 || true
  else
    /etc/init.d/pgpool2 stop || true
  fi
fi
# Without systemd the sysv links would start it again on the next boot.
if [ "$(id -u)" -eq 0 ] && [ -x /etc/init.d/pgpool2 ] && command -v update-rc.d >/dev/null; then update-rc.d pgpool2 disable >/dev/null 2>&1 || true; fi

if ! node_modules_fresh; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

if check; then
  echo "setup: done; everything is present"
else
  printf 'setup: still missing: %s\n' "${problems[@]}" >&2
  exit 1
fi
