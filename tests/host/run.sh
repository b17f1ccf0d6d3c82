#!/usr/bin/env bash
# The host suite (deno task test:host): boots a throw-away Debian 12 guest with
# systemd as PID 1 under qemu, installs the agent in it with install.sh from a
# loopback mirror, and checks it as an operator would, on the real services
# (tests/host/guest/main.sh runs in the guest). Two variants, one boot each:
#
#   rsyslog   Debian 12 with rsyslog and rsyslog-relp installed (every check)
#   default   Debian 12 as it installs by default: rsyslog purged in the guest,
#             a package repository of the host's cached rsyslog .debs
#             (dpkg-scanpackages) as a file: apt source; install.sh with only
#             --collector must install rsyslog itself (checks named default/…)
#
# Prints one line per check, "PASS name: detail" or "FAIL name: detail", a
# line per variant ("host: variant NAME: N passed, N failed, …") and closes
# with "host: N passed, N failed" over both; exits 1 when a check failed.
#
#   bash tests/host/run.sh
#   HOST_SUITE_VARIANTS=default bash tests/host/run.sh     # one variant
#
# Where qemu or the guest image cannot be had it prints "host: not run:
# REASON" and exits 0, or 1 with HOST_SUITE_STRICT=1.
#
# The image is built once (tests/host/image.sh, ~90 s, cached in
# $HOST_SUITE_CACHE, default /var/cache/syslog-agent-host-vm). Every variant
# boots a qcow2 overlay of it in a temp dir; the guest reaches the host only
# through a 9p share holding a copy of this tree and the output. The rsyslog
# variant's guest reboots once (the power-cut check resets it); each powers
# itself off at the end; qemu is killed after HOST_SUITE_TIMEOUT seconds
# (default 900) whatever happens. The last run's logs (console, journal,
# checks) stay in $HOST_SUITE_OUT/VARIANT (default /var/tmp/syslog-agent-host-suite).
set -euo pipefail

CACHE=${HOST_SUITE_CACHE:-/var/cache/syslog-agent-host-vm}
OUT=${HOST_SUITE_OUT:-/var/tmp/syslog-agent-host-suite}
TIMEOUT=${HOST_SUITE_TIMEOUT:-900}
STRICT=${HOST_SUITE_STRICT:-0}
VARIANTS=${HOST_SUITE_VARIANTS:-rsyslog default}
# What the default variant's guest purges and install.sh installs again: the
# rsyslog packages and the libraries only they need (Debian 12).
REPO_PACKAGES=(rsyslog rsyslog-relp librelp0 libestr0 libfastjson4 liblognorm5)
CPUS=2
MEM=2048

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
t_start=$(date +%s)

not_run() {
  echo "host: not run: $*"
  if [ "$STRICT" = 1 ]; then exit 1; fi
  exit 0
}

# --- what is needed ---------------------------------------------------------
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || not_run "needs an x86_64 Linux host"
[ "$(id -u)" -eq 0 ] || not_run "needs root (the image build, its cache in $CACHE)"
for tool in qemu-system-x86_64 qemu-img timeout flock; do
  command -v "$tool" >/dev/null 2>&1 ||
    not_run "$tool is missing (apt-get install qemu-system-x86 qemu-utils; .ci/install does)"
done

mkdir -p "$CACHE"
image_log="$(mktemp)"
trap 'rm -f "$image_log"' EXIT
t0=$(date +%s)
if ! bash "$here/image.sh" >"$image_log" 2>&1; then
  not_run "the guest image could not be built: $(tail -n 1 "$image_log")"
fi
image_s=$(($(date +%s) - t0))
echo "host: $(tail -n 1 "$image_log" | sed 's/^image: //') (${image_s} s)"

# Hardware virtualization only where the CPU has it: a /dev/kvm without
# vmx/svm (a software KVM) is far slower than qemu's own TCG.
if [ -w /dev/kvm ] && grep -qw -e vmx -e svm /proc/cpuinfo; then
  accel=(-accel kvm -cpu "host,-arch-capabilities")
  accel_name=kvm
else
  accel=(-accel "tcg,thread=multi" -cpu max)
  accel_name=tcg
fi

# One VM at a time on this machine.
exec 8>"$CACHE/vm.lock"
flock -w 900 8 || not_run "another host-suite VM held $CACHE/vm.lock for 15 minutes"

run="$(mktemp -d "${TMPDIR:-/var/tmp}/host-suite.XXXXXX")"
qemu_pid=""
tail_pid=""
cleanup() {
  if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; fi
  if [ -n "$tail_pid" ]; then kill "$tail_pid" 2>/dev/null || true; fi
  rm -rf "$run" "$image_log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

base="$run/base"
mkdir -p "$base/project"
# A copy of the tree as it is (committed or not), so that nothing in the guest
# can change it.
tar -C "$repo_root" --exclude=./.git --exclude=./.state --exclude=./dist \
  --exclude=./bench/results -cf - . | tar -C "$base/project" -xf -
# HOST_SUITE_ONLY="group ...": only those groups of checks (see guest/main.sh);
# HOST_SUITE_SCRIPT=FILE: after the install, FILE runs in the guest instead.
# The agent's files, packed: one file crosses 9p faster than many.
tar -C "$base/project" --exclude=./tests --exclude=./bench -cf "$base/tree.tar" .
if [ -n "${HOST_SUITE_ONLY:-}" ]; then echo "$HOST_SUITE_ONLY" >"$base/only"; fi
if [ -n "${HOST_SUITE_SCRIPT:-}" ]; then cp "$HOST_SUITE_SCRIPT" "$base/debug.sh"; fi

# newest_deb DIR PKG: the newest DIR/PKG_*.deb, or nothing.
newest_deb() {
  find "$1" -maxdepth 1 -name "${2}_*.deb" 2>/dev/null | sort -V | tail -n 1
}

# make_repo DIR: a flat apt repository of REPO_PACKAGES' .debs in DIR (from
# the image's cached .debs, else apt-get download on this host), indexed
# with dpkg-scanpackages. Prints what it holds, or why not (exit 1).
make_repo() {
  local dir=$1 pkg deb
  mkdir -p "$dir" "$CACHE/repo-debs"
  command -v dpkg-scanpackages >/dev/null 2>&1 ||
    { echo "dpkg-scanpackages is missing (apt-get install dpkg-dev; .ci/install does)"; return 1; }
  for pkg in "${REPO_PACKAGES[@]}"; do
    deb=$(newest_deb "$CACHE/debs" "$pkg")
    if [ -z "$deb" ]; then deb=$(newest_deb "$CACHE/repo-debs" "$pkg"); fi
    if [ -z "$deb" ]; then
      (cd "$CACHE/repo-debs" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
        { echo "no .deb of $pkg in $CACHE/debs and apt-get download $pkg failed"; return 1; }
      deb=$(newest_deb "$CACHE/repo-debs" "$pkg")
    fi
    ln "$deb" "$dir/" 2>/dev/null || cp "$deb" "$dir/"
  done
  (cd "$dir" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null) ||
    { echo "dpkg-scanpackages failed in $dir"; return 1; }
  find "$dir" -maxdepth 1 -name '*.deb' -printf '%f ' | sed 's/ $//'
}

# run_variant NAME: boots a guest for variant NAME; its checks land in
# $OUT/NAME/checks.txt (and on stdout as they come).
run_variant() {
  local v=$1 share="$run/$1/share" out="$OUT/$1" cmdline qemu_rc=0 t_qemu qemu_s line why
  mkdir -p "$share/out"
  cp -al "$base/." "$share/" 2>/dev/null || cp -R "$base/." "$share/"
  echo "$v" >"$share/variant"
  touch "$share/out/checks.txt"
  if [ "$v" = default ]; then
    local repo_msg
    if repo_msg=$(make_repo "$share/repo"); then
      echo "host: variant default: package repository for the guest: $repo_msg"
    else
      echo "FAIL default/repo: the guest's package repository could not be made: $repo_msg" |
        tee -a "$share/out/checks.txt"
      rm -rf "$out"
      mkdir -p "$out"
      cp "$share/out/checks.txt" "$out/"
      return 0
    fi
  fi
  qemu-img create -q -f qcow2 -F raw -b "$CACHE/base.raw" "$run/$v/disk.qcow2"

  # No -no-reboot: the power-cut check resets the guest, which boots again on
  # the same disk and carries on from its second phase.
  cmdline="root=/dev/vda rw console=ttyS0,115200 panic=1 quiet hostsuite.run=1"
  cmdline="$cmdline systemd.mask=serial-getty@ttyS0.service"
  t_qemu=$(date +%s)
  timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -name "host-suite-$v" -machine q35 "${accel[@]}" \
    -smp "$CPUS" -m "$MEM" -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.img" \
    -drive "file=$run/$v/disk.qcow2,if=virtio,format=qcow2,cache=unsafe" \
    -virtfs "local,path=$share,mount_tag=hostsuite,security_model=none,id=hostsuite" \
    -device virtio-rng-pci -nic none -vga none -display none -monitor none \
    -serial "file:$run/$v/console.log" -append "$cmdline" </dev/null &
  qemu_pid=$!
  echo "host: variant $v: guest booting (qemu $accel_name, $CPUS vCPUs, $MEM MiB, timeout ${TIMEOUT} s)"
  # The checks as the guest writes them.
  tail -n +1 -F --pid="$qemu_pid" "$share/out/checks.txt" 2>/dev/null &
  tail_pid=$!
  wait "$qemu_pid" || qemu_rc=$?
  qemu_pid=""
  wait "$tail_pid" 2>/dev/null || true
  tail_pid=""
  qemu_s=$(($(date +%s) - t_qemu))

  rm -rf "$out"
  mkdir -p "$out"
  cp -R "$share/out/." "$out/" 2>/dev/null || true
  cp "$run/$v/console.log" "$out/console.log" 2>/dev/null || true
  if [ ! -f "$share/out/done" ]; then
    why="qemu exited with code $qemu_rc after ${qemu_s} s"
    if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then why="killed after ${TIMEOUT} s"; fi
    if [ "$v" = default ]; then line="FAIL default/guest"; else line="FAIL guest"; fi
    line="$line: the suite did not run to its end ($why; see $out/console.log)"
    echo "$line" | tee -a "$out/checks.txt"
    tail -n 15 "$run/$v/console.log" 2>/dev/null | sed 's/^/host: console: /' || true
  fi
  echo "host: variant $v: $(grep -c '^PASS ' "$out/checks.txt" || true) passed, $(grep -c '^FAIL ' "$out/checks.txt" || true) failed; qemu ran ${qemu_s} s; logs in $out"
  rm -f "$run/$v/disk.qcow2"
}

rm -rf "$OUT"
mkdir -p "$OUT"
for v in $VARIANTS; do
  case "$v" in
    rsyslog | default) run_variant "$v" ;;
    *) echo "FAIL variant-$v: no such host-suite variant (rsyslog, default)" | tee -a "$OUT/unknown-variant.txt" ;;
  esac
done

passed=0
failed=0
for f in "$OUT"/*/checks.txt "$OUT"/unknown-variant.txt; do
  [ -f "$f" ] || continue
  passed=$((passed + $(grep -c '^PASS ' "$f" || true)))
  failed=$((failed + $(grep -c '^FAIL ' "$f" || true)))
done
echo "host: variants $VARIANTS; suite total $(($(date +%s) - t_start)) s; logs in $OUT"
echo "host: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
