#!/usr/bin/env bash
# The host suite (deno task test:host): boots a throw-away Debian 12 guest with
# systemd as PID 1 under qemu, installs the agent in it with install.sh from a
# loopback mirror, and checks it as an operator would, on the real services
# (tests/host/guest/main.sh runs in the guest). Prints one line per check,
# "PASS name: detail" or "FAIL name: detail", and closes with
# "host: N passed, N failed"; exits 1 when a check failed.
#
#   bash tests/host/run.sh
#
# Where qemu or the guest image cannot be had it prints "host: not run:
# REASON" and exits 0, or 1 with HOST_SUITE_STRICT=1.
#
# The image is built once (tests/host/image.sh, ~90 s, cached in
# $HOST_SUITE_CACHE, default /var/cache/syslog-agent-host-vm). Every run boots a
# qcow2 overlay of it in a temp dir; the guest reaches the host only through a
# 9p share holding a copy of this tree and the output. The guest reboots once
# (the power-cut check resets it) and powers itself off at the end; qemu is
# killed after HOST_SUITE_TIMEOUT seconds (default 900) whatever happens.
# The last run's logs (console, journal, checks) stay in
# $HOST_SUITE_OUT (default /var/tmp/syslog-agent-host-suite).
set -euo pipefail

CACHE=${HOST_SUITE_CACHE:-/var/cache/syslog-agent-host-vm}
OUT=${HOST_SUITE_OUT:-/var/tmp/syslog-agent-host-suite}
TIMEOUT=${HOST_SUITE_TIMEOUT:-900}
STRICT=${HOST_SUITE_STRICT:-0}
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

share="$run/share"
mkdir -p "$share/project" "$share/out"
# A copy of the tree as it is (committed or not), so that nothing in the guest
# can change it.
tar -C "$repo_root" --exclude=./.git --exclude=./.state --exclude=./dist \
  --exclude=./bench/results -cf - . | tar -C "$share/project" -xf -
# HOST_SUITE_ONLY="group ...": only those groups of checks (see guest/main.sh);
# HOST_SUITE_SCRIPT=FILE: after the install, FILE runs in the guest instead.
# The agent's files, packed: one file crosses 9p faster than many.
tar -C "$share/project" --exclude=./tests --exclude=./bench -cf "$share/tree.tar" .
if [ -n "${HOST_SUITE_ONLY:-}" ]; then echo "$HOST_SUITE_ONLY" >"$share/only"; fi
if [ -n "${HOST_SUITE_SCRIPT:-}" ]; then cp "$HOST_SUITE_SCRIPT" "$share/debug.sh"; fi
touch "$share/out/checks.txt"
qemu-img create -q -f qcow2 -F raw -b "$CACHE/base.raw" "$run/disk.qcow2"

# No -no-reboot: the power-cut check resets the guest, which boots again on
# the same disk and carries on from its second phase.
cmdline="root=/dev/vda rw console=ttyS0,115200 panic=1 quiet hostsuite.run=1"
cmdline="$cmdline systemd.mask=serial-getty@ttyS0.service"
t_qemu=$(date +%s)
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -name host-suite -machine q35 "${accel[@]}" \
  -smp "$CPUS" -m "$MEM" -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.img" \
  -drive "file=$run/disk.qcow2,if=virtio,format=qcow2,cache=unsafe" \
  -virtfs "local,path=$share,mount_tag=hostsuite,security_model=none,id=hostsuite" \
  -device virtio-rng-pci -nic none -vga none -display none -monitor none \
  -serial "file:$run/console.log" -append "$cmdline" </dev/null &
qemu_pid=$!
echo "host: guest booting (qemu $accel_name, $CPUS vCPUs, $MEM MiB, timeout ${TIMEOUT} s)"
# The checks as the guest writes them.
tail -n +1 -F --pid="$qemu_pid" "$share/out/checks.txt" 2>/dev/null &
tail_pid=$!
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=""
wait "$tail_pid" 2>/dev/null || true
tail_pid=""
qemu_s=$(($(date +%s) - t_qemu))

rm -rf "$OUT"
mkdir -p "$OUT"
cp -R "$share/out/." "$OUT/" 2>/dev/null || true
cp "$run/console.log" "$OUT/console.log" 2>/dev/null || true

checks="$OUT/checks.txt"
if [ ! -f "$share/out/done" ]; then
  why="qemu exited with code $qemu_rc after ${qemu_s} s"
  if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then why="killed after ${TIMEOUT} s"; fi
  line="FAIL guest: the suite did not run to its end ($why; see $OUT/console.log)"
  echo "$line" | tee -a "$checks"
  tail -n 15 "$run/console.log" 2>/dev/null | sed 's/^/host: console: /' || true
fi
passed=$(grep -c '^PASS ' "$checks" || true)
failed=$(grep -c '^FAIL ' "$checks" || true)
echo "host: qemu ran ${qemu_s} s; suite total $(($(date +%s) - t_start)) s; logs in $OUT"
echo "host: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
