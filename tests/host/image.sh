#!/usr/bin/env bash
# Builds (once) the host suite's guest: a Debian 12 root file system with
# systemd as PID 1, rsyslog (with RELP), logrotate, a kernel and Deno, for
# tests/host/run.sh to boot under qemu. A no-op while the cached image is
# current (its stamp hashes this script, the package list, the mirrors and the
# Deno binary).
#
#   bash tests/host/image.sh [--force]
#
# Output in $HOST_SUITE_CACHE (default /var/cache/syslog-agent-host-vm):
#   base.raw   ext4 root file system (sparse); never written by a run, which
#              boots a throw-away qcow2 overlay on top of it
#   vmlinuz, initrd.img   the guest's kernel and initramfs
#   stamp      what base.raw was built from
#   debs/      the downloaded .debs, so that a rebuild downloads nothing
# Needs root, mmdebstrap, mkfs.ext4 (e2fsprogs) and a Debian mirror (the
# host's own apt sources unless HOST_SUITE_MIRROR is set).
set -euo pipefail

CACHE=${HOST_SUITE_CACHE:-/var/cache/syslog-agent-host-vm}
SIZE=4G
# A small Debian 12 server, plus what the checks use: rsyslog-relp (the local
# RELP hop), openssl and curl (install.sh), jq, psmisc and procps.
PACKAGES=(systemd systemd-sysv udev dbus libpam-systemd rsyslog rsyslog-relp logrotate
  linux-image-amd64 initramfs-tools zstd kmod procps iproute2 psmisc curl openssl jq)

log() { printf 'image: %s\n' "$*" >&2; }

# The first URI the host's apt uses for SUITE (deb822 sources first).
host_uri() {
  {
    awk -v s="$1" '/^URIs:/{u=$2} /^Suites:/{for(i=2;i<=NF;i++) if($i==s) print u}' \
      /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    awk -v s="$1" '$1=="deb" && $3==s {print $2}' /etc/apt/sources.list 2>/dev/null || true
  } | head -n 1
}

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *)
    echo "usage: $0 [--force]" >&2
    exit 2
    ;;
esac

[ "$(id -u)" -eq 0 ] || {
  log "needs root"
  exit 1
}
deno_bin=$(command -v deno || true)
[ -n "$deno_bin" ] || {
  log "no deno on PATH"
  exit 1
}
mirror=${HOST_SUITE_MIRROR:-$(host_uri bookworm)}
security=${HOST_SUITE_SECURITY_MIRROR:-$(host_uri bookworm-security)}
[ -n "$mirror" ] || {
  log "no bookworm mirror in the host's apt sources: set HOST_SUITE_MIRROR"
  exit 1
}
[ -n "$security" ] || security=$mirror

mkdir -p "$CACHE/debs"
exec 9>"$CACHE/build.lock"
flock 9

want=$({
  cat "$0"
  echo "${PACKAGES[*]} $mirror $security $SIZE"
  sha256sum <"$(readlink -f "$deno_bin")"
} | sha256sum | cut -c1-16)
if [ "$force" -eq 0 ] && [ -f "$CACHE/base.raw" ] && [ -f "$CACHE/vmlinuz" ] &&
  [ -f "$CACHE/initrd.img" ] && [ "$(cat "$CACHE/stamp" 2>/dev/null || true)" = "$want" ]; then
  log "$CACHE/base.raw is current (stamp $want)"
  exit 0
fi

for tool in mmdebstrap mkfs.ext4; do
  command -v "$tool" >/dev/null 2>&1 || {
    log "$tool is missing: apt-get install mmdebstrap e2fsprogs"
    exit 1
  }
done

start=$(date +%s)
root="$CACHE/rootfs.tmp"
files="$CACHE/files.tmp"
rm -rf "$root" "$files" "$CACHE/base.raw.tmp"
trap 'rm -rf "$root" "$files" "$CACHE/base.raw.tmp"' EXIT
mkdir -p "$files"

# The bootstrap: when the kernel command line has hostsuite.run=1, mount the
# host's 9p share "hostsuite" and run its guest/main.sh; power off when it
# returns (a power-cut check resets the guest instead, and the next boot runs
# main.sh again, which knows its phase from the disk).
cat >"$files/host-suite.service" <<'EOF'
[Unit]
Description=syslog-agent host suite: run the host's guest/main.sh, then power off
ConditionKernelCommandLine=hostsuite.run=1
After=multi-user.target
SuccessAction=poweroff
FailureAction=poweroff
[Service]
Type=exec
ExecStart=/usr/local/sbin/host-suite-boot
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
[Install]
WantedBy=multi-user.target
EOF
cat >"$files/host-suite-boot" <<'EOF'
#!/bin/sh
set -u
modprobe 9pnet_virtio 2>/dev/null || true
mkdir -p /mnt/hostsuite
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 hostsuite /mnt/hostsuite || exit 1
systemctl is-system-running --wait >/dev/null 2>&1 || true
exec /bin/bash /mnt/hostsuite/project/tests/host/guest/main.sh
EOF

# The hooks' "$1" is mmdebstrap's: the root being built.
# shellcheck disable=SC2016
mmdebstrap --variant=apt --mode=root --format=directory \
  --include="$(
    IFS=,
    echo "${PACKAGES[*]}"
  )" \
  --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --skip=essential/unlink \
  --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
  --setup-hook="sync-in $CACHE/debs /var/cache/apt/archives" \
  --customize-hook="sync-out /var/cache/apt/archives $CACHE/debs" \
  --customize-hook='echo agentvm >"$1/etc/hostname"' \
  --customize-hook='printf "127.0.0.1 localhost\n127.0.1.1 agentvm\n::1 localhost\n" >"$1/etc/hosts"' \
  --customize-hook='printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\n" >"$1/etc/fstab"' \
  --customize-hook="copy-in $files/host-suite-boot /usr/local/sbin" \
  --customize-hook="copy-in $files/host-suite.service /etc/systemd/system" \
  --customize-hook='chroot "$1" chmod 755 /usr/local/sbin/host-suite-boot' \
  --customize-hook='chroot "$1" systemctl enable host-suite.service' \
  --customize-hook='chroot "$1" systemctl set-default multi-user.target' \
  --customize-hook='chroot "$1" passwd --delete root' \
  --customize-hook="cp -L $deno_bin \"\$1/usr/local/bin/deno\" && chmod 755 \"\$1/usr/local/bin/deno\"" \
  --customize-hook='chroot "$1" sh -c "systemd-machine-id-setup >/dev/null"' \
  --skip=cleanup/reproducible \
  bookworm "$root" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main"

cp -L "$root/vmlinuz" "$CACHE/vmlinuz.tmp"
cp -L "$root/initrd.img" "$CACHE/initrd.img.tmp"
mkfs.ext4 -q -F -L agentvm -d "$root" "$CACHE/base.raw.tmp" "$SIZE"
mv -f "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
mv -f "$CACHE/initrd.img.tmp" "$CACHE/initrd.img"
mv -f "$CACHE/base.raw.tmp" "$CACHE/base.raw"
echo "$want" >"$CACHE/stamp"
log "built $CACHE/base.raw in $(($(date +%s) - start)) s (stamp $want)"
