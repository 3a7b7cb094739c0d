#!/usr/bin/env bash
# `npm run package:deb`: a Debian package of pcpflow, the way DBAs install EFM and pgpool.
#   /usr/lib/pcpflow            built JavaScript (build/), bins, Lua scripts, production node_modules
#   /usr/bin/pcpflow, /usr/bin/pcpflow-hook
#   /etc/pcpflow/*.example      config (0640 root:pcpflow) and PCP passfile (0600) examples, not enabled
#   /lib/systemd/system/        pcpflow-worker.service, pcpflow-outbox.{service,timer} (not enabled)
#   postinst                    pcpflow system user/group, /var/spool/pcpflow (2770), /var/log/pcpflow
# Needs dpkg-deb and npm (production dependencies come from the npm registry or npm's cache).
# Output: artifacts/pcpflow_<version>-1_<arch>.deb (path printed on the last line).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=$(node -p "require('./package.json').version")
arch=$(dpkg --print-architecture)
out_dir=${PCPFLOW_DEB_OUT:-$root/artifacts}
stage=$(mktemp -d "${TMPDIR:-/tmp}/pcpflow-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT

npx tsx scripts/build.ts >/dev/null

prefix=$stage/usr/lib/pcpflow
mkdir -p "$prefix/audit/lua" "$prefix/workers/lua" "$stage/usr/bin" "$stage/etc/pcpflow" "$stage/lib/systemd/system" \
  "$stage/usr/share/doc/pcpflow" "$stage/DEBIAN"
cp -r bin build package.json package-lock.json "$prefix/"
cp audit/lua/*.lua "$prefix/audit/lua/"
cp workers/lua/*.lua "$prefix/workers/lua/"
# Production dependencies only, exactly as locked; no install scripts run (none is needed).
(cd "$prefix" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null)
rm "$prefix/package-lock.json"
ln -s ../lib/pcpflow/bin/pcpflow.js "$stage/usr/bin/pcpflow"
ln -s ../lib/pcpflow/bin/pcpflow-hook.cjs "$stage/usr/bin/pcpflow-hook"

cp deploy/pcpflow.example.yaml "$stage/etc/pcpflow/pcpflow.example.yaml"
cp deploy/pcppass.example "$stage/etc/pcpflow/pcppass.example"
cp deploy/pcpflow-worker.service deploy/pcpflow-outbox.service deploy/pcpflow-outbox.timer "$stage/lib/systemd/system/"
cp README.md deploy/efm.properties.snippet deploy/pgpool.conf.snippet "$stage/usr/share/doc/pcpflow/"
cp LICENSE "$stage/usr/share/doc/pcpflow/copyright"

cp deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$stage/DEBIAN/"
printf '%s\n' /etc/pcpflow/pcpflow.example.yaml /etc/pcpflow/pcppass.example > "$stage/DEBIAN/conffiles"
installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: pcpflow
Version: ${version}-1
Architecture: ${arch}
Maintainer: pcpflow maintainers <pcpflow@localhost>
Depends: nodejs (>= 20), passwd
Section: admin
Priority: optional
Installed-Size: ${installed_kb}
Description: keeps Pgpool-II in step with EDB Failover Manager
 Event-driven, audited replacement for the EFM load balancer scripts
 (load_balancer_attach.sh, load_balancer_detach.sh, follow_master.sh,
 pgpool_backend.sh): hooks publish typed events to Redis, a worker fleet
 decides with per-backend state machines and acts through PCP.
CONTROL

# Files root-owned and world-readable; postinst sets the owners and modes that need the pcpflow user.
find "$stage" -path "$stage/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
find "$stage" -path "$stage/DEBIAN" -prune -o -type f -exec chmod go-w,a+r {} +
chmod 0755 "$prefix/bin/pcpflow.js" "$prefix/bin/pcpflow-hook.cjs"
mkdir -p "$out_dir"
deb=$out_dir/pcpflow_${version}-1_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
