#!/usr/bin/env bash
# The host suite inside the guest (started by the image's host-suite.service
# from the 9p share, as root, after boot): installs the agent with install.sh
# from a loopback mirror and checks it on the real services. Each check
# appends "PASS name: detail" or "FAIL name: detail" to $OUT/checks.txt,
# which tests/host/run.sh prints and counts.
#
# $SHARE/variant says which host this is: "rsyslog" (Debian 12 with rsyslog
# and rsyslog-relp: every check below) or "default" (Debian 12 as it installs
# by default, without rsyslog: default_main, checks named default/…).
#
# Two phases on one disk: the first boot installs and runs every check up to
# the power cut, which resets the guest (sysrq b) while the agent takes
# messages over RELP; the second boot checks that every message the agent
# acknowledged was delivered, uninstalls, and compares the host with how it
# was before the install. $STATE (on the guest's disk) carries the phase over.
#
# The agent binary is a wrapper around `deno run` of a copy of this tree:
# `deno compile` needs denort, which cannot be had here. The wrapper execs deno
# (so the unit's main pid is deno: NotifyAccess=main) with the permissions the
# compiled binary has (packaging/compile.ts), and reads its compiled modules
# from DENO_DIR=/var/cache/syslog-agent-deno, warmed here, which the unit's
# sandbox sees read-only (a test-only drop-in sets DENO_DIR for the unit).
set -uo pipefail

SHARE=/mnt/hostsuite
OUT=$SHARE/out
PROJ=$SHARE/project
CHECKS=$OUT/checks.txt
STATE=/var/lib/host-suite
TOOLS="$PROJ/tests/host/guest/tools.ts"
DENO_CACHE=/var/cache/syslog-agent-deno
MIRROR_PORT=8080
SINK_PORT=10601
LOAD_PORT=10514
PC_PORT=10602
COLLECTED=$OUT/collected.log
CONF=/etc/syslog-agent/agent.json
UNIT=syslog-agent.service
DROPIN=/etc/systemd/system/syslog-agent.service.d/host-suite.conf
TARGET=agent-x86_64-unknown-linux-gnu
export DENO_DIR=$STATE/deno-tools DENO_NO_UPDATE_CHECK=1 SYSTEMD_PAGER=

mkdir -p "$STATE" "$OUT"
phase=$(cat "$STATE/phase" 2>/dev/null || echo 1)
VARIANT=$(cat "$SHARE/variant" 2>/dev/null || echo rsyslog)
NAME_PREFIX=""
if [ "$VARIANT" = default ]; then NAME_PREFIX="default/"; fi

# --- reporting --------------------------------------------------------------
record() {
  local result=$1 name=$NAME_PREFIX$2
  shift 2
  printf '%s %s: %s\n' "$result" "$name" "$*" >>"$CHECKS"
  printf 'host-suite: %s %s: %s\n' "$result" "$name" "$*"
}
pass() { record PASS "$@"; }
fail() { record FAIL "$@"; }
# check NAME OK DETAIL: PASS when OK is 0.
check() {
  if [ "$2" -eq 0 ]; then pass "$1" "$3"; else fail "$1" "$3"; fi
}
info() {
  printf 'info: %s\n' "$*" >>"$CHECKS"
  printf 'host-suite: info: %s\n' "$*"
}
# wants GROUP: whether this run does GROUP ($SHARE/only lists some, or all).
wants() {
  [ ! -s "$SHARE/only" ] || grep -qw "$1" "$SHARE/only"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# secs_since MS: seconds since the time now_ms gave, with one decimal.
secs_since() {
  local d=$(($(now_ms) - $1))
  printf '%d.%d' $((d / 1000)) $((d % 1000 / 100))
}
# wait_until SECONDS CMD...: true as soon as CMD succeeds, false after SECONDS.
wait_until() {
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

unit_prop() { systemctl show -P "$2" "$1"; }
main_pid() { unit_prop "$UNIT" MainPID; }
metric() {
  curl -fsS --max-time 5 http://127.0.0.1:9514/metrics 2>/dev/null |
    awk -v n="syslog_agent_$1" '$1 == n { print $2; exit }'
}
is_active_running() {
  [ "$(unit_prop "$UNIT" ActiveState)/$(unit_prop "$UNIT" SubState)" = active/running ]
}
# delivery TAG COUNT: which of "TAG seq=1..COUNT" the collector has, as one
# line; exit 1 when any is missing.
delivery() {
  awk -v tag="$1 seq=" -v n="$2" '
    { i = index($0, tag); if (i == 0) next
      s = substr($0, i + length(tag)) + 0; lines++
      if (s >= 1 && s <= n && seen[s]++) dups++ }
    END { for (k = 1; k <= n; k++) if (!(k in seen)) { missing++; if (!first) first = k }
      printf "%d of %d delivered, %d missing%s, %d duplicates, %d lines\n", n - missing, n,
        missing, (missing ? " (first: seq=" first ")" : ""), dups, lines
      exit missing > 0 }' "$COLLECTED"
}
delivered() { delivery "$@" >/dev/null; }
# journal_since MS [ARGS...]: this boot's journal from MS on, as text.
journal_since() {
  local since=$1
  shift
  journalctl -b --no-pager -o cat --since "@$((since / 1000)).$(printf '%03d' $((since % 1000)))" "$@"
}
agent_journal() { journal_since "$1" _SYSTEMD_UNIT="$UNIT" "${@:2}"; }

# The running rsyslog.service's rsyslogd (external mode's "the host's rsyslogd").
rsyslogd_pid() { pgrep -xo rsyslogd || true; }
canaries() { metric canaries_total; }
# probe_passes_after N: a canary came back after the count was N.
probe_passes_after() {
  local c
  c=$(canaries)
  [ -n "$c" ] && [ "$c" -gt "$1" ] && [ "$(metric rsyslogd_up)" = 1 ]
}

# plain_conf: the agent's config (JSON with comments, as install.sh writes it)
# as plain JSON, for jq.
plain_conf() { /usr/local/bin/deno run --allow-read "$TOOLS" plain-json "$CONF"; }
# config_patch JSON: JSON's keys merged into the agent's config (jq's *); the
# comments go.
config_patch() {
  local plain
  plain=$(plain_conf) && jq --argjson p "$1" '. * $p' <<<"$plain" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
}
# commented_conf: how many comment lines the installed config has, and what
# agent check-config says of it as installed.
commented_conf() {
  echo "$(grep -c '^ *//' "$CONF") comment lines, agent check-config: $(/usr/local/bin/agent check-config "$CONF" 2>&1 | tail -n 1)"
}

# A listing of what install and uninstall may touch, to compare before and after.
snapshot() {
  {
    find /etc /usr/local/bin /usr/local/sbin /var/spool /var/lib/syslog-agent -xdev \
      -path /etc/systemd/system/syslog-agent.service.d -prune -o \
      -printf '%p %y %m %u:%g %l\n' 2>/dev/null | sort
    find /etc /usr/local/bin /usr/local/sbin -xdev -type f -print0 2>/dev/null |
      sort -z | xargs -0 sha256sum
    dpkg-divert --list | sort
    dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' | awk '$1 == "ii"' | sort
    systemctl is-enabled rsyslog.service syslog.socket logrotate.timer 2>&1
    echo "/dev/log -> $(readlink /dev/log)"
  } | grep -v -e '^/etc/ld.so.cache' -e ' /etc/ld.so.cache$' -e ' /etc/systemd/system/syslog-agent.service.d/'
}

# What this install.sh needs for a loopback mirror: plain http allowed, and
# the sums signed by the test's own key instead of the release key.
install_opts() {
  local help
  help=$(sh "$STATE/mirror/install.sh" --help 2>&1)
  INSTALL_EXTRA=()
  if grep -q -- '--insecure-http' <<<"$help"; then INSTALL_EXTRA+=(--insecure-http); fi
  if grep -q -- '--trusted-key' <<<"$help"; then INSTALL_EXTRA+=(--trusted-key "$STATE/test-key.pub"); fi
}

# run_install RELEASE ARGS...: curl install.sh from the mirror | sh, as an operator would.
run_install() {
  local release=$1
  shift
  curl -fsS "http://127.0.0.1:$MIRROR_PORT/install.sh" |
    sh -s -- --base-url "http://127.0.0.1:$MIRROR_PORT/$release" "${INSTALL_EXTRA[@]}" "$@" \
      >"$OUT/install-$release.log" 2>&1
}

start_helpers() {
  systemctl stop hs-mirror.service hs-sink.service 2>/dev/null || true
  systemd-run --quiet --unit=hs-mirror -E DENO_DIR="$DENO_DIR" \
    /usr/local/bin/deno run --allow-all "$TOOLS" serve "$STATE/mirror" "$MIRROR_PORT"
  systemd-run --quiet --unit=hs-sink -E DENO_DIR="$DENO_DIR" \
    /usr/local/bin/deno run --allow-all "$TOOLS" sink "$SINK_PORT" "$COLLECTED"
  wait_until 60 curl -fsS -o /dev/null "http://127.0.0.1:$MIRROR_PORT/install.sh"
}

# --- phase 1 setup: two releases, the mirror, the collector --------------------
# release VERSION DIR: a copy of the tree reporting VERSION, its wrapper and sums.
make_release() {
  local version=$1 name=$2 dir="$STATE/releases/$1"
  mkdir -p "$STATE/mirror/$name"
  cp -R "$STATE/src" "$dir"
  sed -i "s/^export const VERSION = .*/export const VERSION = \"$version\";/" "$dir/ground/version.ts"
  # The flags the release binary is compiled with, from the tree itself.
  local flags
  flags=$(/usr/local/bin/deno eval \
    "const m = await import('file://$dir/packaging/compile.ts'); console.log(m.COMPILE_FLAGS.join(' '))")
  [ -n "$flags" ] || flags="--allow-all --unstable-net --no-prompt"
  echo "$flags" >"$STATE/compile-flags"
  # Deno refuses the agent some of what it does (check compile-flags) unless
  # --allow-all: given to the wrapper, so that the other checks can run.
  case " $flags " in
    *" --allow-all "*) ;;
    *)
      local f kept=""
      for f in $flags; do
        case "$f" in --allow-*) ;; *) kept="$kept $f" ;; esac
      done
      flags="--allow-all$kept"
      ;;
  esac
  cat >"$STATE/mirror/$name/$TARGET" <<EOF
#!/bin/sh
# host suite: stands in for the compiled agent $version (deno compile needs
# denort, which cannot be had here): deno runs a copy of the tree with the
# flags of packaging/compile.ts. exec: the unit's main pid is deno.
: "\${DENO_DIR:=$DENO_CACHE}"
export DENO_DIR
exec /usr/local/bin/deno run $flags $dir/main.ts "\$@"
EOF
  chmod 755 "$STATE/mirror/$name/$TARGET"
  (cd "$STATE/mirror/$name" && sha256sum "$TARGET" >SHA256SUMS &&
    openssl pkeyutl -sign -rawin -inkey "$STATE/test-key.pem" -in SHA256SUMS -out SHA256SUMS.sig)
  # Warm the cache the unit reads: every module main.ts loads.
  DENO_DIR=$DENO_CACHE "$STATE/mirror/$name/$TARGET" version >/dev/null
}

phase1_setup() {
  local t0
  t0=$(now_ms)
  : >"$COLLECTED"
  head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/nonce"
  snapshot >"$STATE/before.txt"
  mkdir -p "$STATE/mirror" "$STATE/releases" "$DENO_CACHE"
  cp "$PROJ/install.sh" "$STATE/mirror/install.sh"
  # The tree (without tests and benchmarks), packed by the host: one file over 9p.
  mkdir -p "$STATE/src"
  tar -C "$STATE/src" -xf "$SHARE/tree.tar"
  openssl genpkey -algorithm ed25519 -out "$STATE/test-key.pem" 2>/dev/null
  openssl pkey -in "$STATE/test-key.pem" -pubout -out "$STATE/test-key.pub"
  info "copied the tree and made a test signing key in $(secs_since "$t0") s"
  # Both at once: two vCPUs.
  make_release 0.0.0-hs-old old &
  make_release "$(sed -n 's/^export const VERSION = "\(.*\)";/\1/p' "$PROJ/ground/version.ts")" new
  wait
  WRAPPER_FLAGS=$(sed -n 's|^exec /usr/local/bin/deno run \(.*\) /var/lib.*|\1|p' "$STATE/mirror/new/$TARGET")
  chmod -R a+rX "$DENO_CACHE" "$STATE/releases"
  start_helpers
  # For the load check: rsyslogd takes TCP on loopback (messages then take
  # the same rules as /dev/log's). Not part of what install.sh touches.
  cat >/etc/rsyslog.d/00-host-suite.conf <<EOF
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$LOAD_PORT")
EOF
  systemctl restart rsyslog.service
  # The agent's drop-in for this guest only: DENO_DIR for the wrapper.
  mkdir -p "$(dirname "$DROPIN")"
  printf '[Service]\nEnvironment=DENO_DIR=%s\n' "$DENO_CACHE" >"$DROPIN"
  install_opts
  info "guest: $(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release), $(systemctl --version | head -n 1), kernel $(uname -r), $(rsyslogd -v | head -n 1 | cut -d, -f1)"
  info "boot: $(systemd-analyze 2>/dev/null | head -n 1)"
  info "the agent runs as a wrapper that execs deno run on a copy of the tree (no denort: deno compile cannot run here) with the flags $WRAPPER_FLAGS (packaging/compile.ts: $(cat "$STATE/compile-flags")); the unit's ExecStart stays /usr/local/bin/agent"
  info "DENO_DIR=$DENO_CACHE, pre-warmed, read-only in the unit's sandbox, set by a test-only drop-in $DROPIN"
  info "setup (releases, cache, mirror, collector) took $(secs_since "$t0") s"
}

# --- phase 1 checks -----------------------------------------------------------
check_install() {
  local rc=0 t0 v
  t0=$(now_ms)
  run_install old --collector "127.0.0.1:$SINK_PORT" --protocol relp || rc=$?
  if [ "$rc" -ne 0 ]; then
    fail install "install.sh exited $rc: $(tail -n 3 "$OUT/install-old.log" | tr '\n' ' ')"
    return 1
  fi
  v=$(/usr/local/bin/agent version 2>&1 | head -n 1)
  if is_active_running && [ "$v" = "agent 0.0.0-hs-old" ]; then
    pass install "install.sh from http://127.0.0.1:$MIRROR_PORT/old (${INSTALL_EXTRA[*]:-no extra flags}): $v active (running) in $(secs_since "$t0") s"
  else
    fail install "after install.sh: $v, $(unit_prop "$UNIT" ActiveState)/$(unit_prop "$UNIT" SubState)"
    return 1
  fi
}

# What one install.sh command gives, as installed: rsyslogd supervised, rotation taken over,
# an acknowledged local hop, and agent status ok (probe passing) once the first canary is back.
check_default_install() {
  local problems=() state="" json
  local mode conf
  mode=$(plain_conf | jq -r .rsyslogd.mode)
  [ "$mode" = external ] || problems+=("rsyslogd.mode $mode")
  conf=$(commented_conf)
  grep -q '^[1-9][0-9]* comment lines, agent check-config: .*: ok$' <<<"$conf" || problems+=("agent.json: $conf")
  dpkg-divert --list /etc/logrotate.d/rsyslog 2>/dev/null | grep -q syslog-agent ||
    problems+=("/etc/logrotate.d/rsyslog not diverted")
  grep -qs 'omrelp' /etc/rsyslog.d/*syslog-agent*.conf || problems+=("local hop not RELP")
  status_ok() {
    json=$(/usr/local/bin/agent status --json 2>/dev/null) || true
    state=$(jq -r '"\(.state) rsyslogd \(.rsyslogd.state) probe \(.rsyslogd.probe.ok)"' <<<"$json" 2>/dev/null)
    [ "$state" = "ok rsyslogd running probe true" ]
  }
  wait_until 40 status_ok || problems+=("agent status: ${state:-no answer} $(jq -c .reasons <<<"$json" 2>/dev/null)")
  if [ "${#problems[@]}" -eq 0 ]; then
    pass default-install "install.sh --collector only: rsyslogd.mode external, the distribution's logrotate entry diverted, local hop over RELP, agent.json $conf, agent status: $state"
  else
    fail default-install "${problems[*]}"
  fi
}

check_upgrade() {
  local rc=0 pid0 sum0 t0 v
  pid0=$(main_pid)
  sum0=$(sha256sum "$CONF" | cut -d' ' -f1)
  t0=$(now_ms)
  run_install new || rc=$?
  v=$(/usr/local/bin/agent version 2>&1 | head -n 1)
  local status_version
  status_version=$(/usr/local/bin/agent status --json 2>/dev/null | jq -r .agent.version)
  if [ "$rc" -eq 0 ] && is_active_running && [ "$(main_pid)" != "$pid0" ] &&
    [ "agent $status_version" = "$v" ] && [ "$v" != "agent 0.0.0-hs-old" ] &&
    [ "$(sha256sum "$CONF" | cut -d' ' -f1)" = "$sum0" ]; then
    pass upgrade "install.sh over the running 0.0.0-hs-old: now $v (the running agent says $status_version), restarted in $(secs_since "$t0") s, config kept"
  else
    fail upgrade "install.sh exited $rc; $v; running agent says ${status_version:-nothing}; pid $pid0 -> $(main_pid); config $([ "$(sha256sum "$CONF" | cut -d' ' -f1)" = "$sum0" ] && echo kept || echo changed)"
  fi
}

# The release binary's flags (packaging/compile.ts) against what the agent does.
check_compile_flags() {
  local flags out rc=0
  flags=$(cat "$STATE/compile-flags")
  # shellcheck disable=SC2086 # the flags are words
  out=$(cd / && /usr/local/bin/deno run $flags "$TOOLS" permissions "$(rsyslogd_pid)" 2>&1) || rc=$?
  check compile-flags "$rc" "deno run $flags (COMPILE_FLAGS): $out$([ "$rc" -ne 0 ] && echo "; so the release binary cannot find rsyslogd in external mode nor send READY=1 (systemctl start times out); the wrapper here adds --allow-all")"
}

# The test's settings over the installed config: external mode (the default
# install's, when install.sh does not set it) with a quick probe.
configure_external() {
  local probe
  probe=$(plain_conf | jq -c '.rsyslogd.probe.target // empty')
  config_patch "{\"rsyslogd\":{\"mode\":\"external\",\"probe\":{\"intervalMs\":1000,\"timeoutMs\":1000,\"failures\":3${probe:+,\"target\":$probe}}}}"
}

check_start() {
  local t0 rc=0 status
  configure_external
  systemctl stop "$UNIT"
  t0=$(now_ms)
  systemctl start "$UNIT" || rc=$?
  START_S=$(secs_since "$t0")
  status=$(unit_prop "$UNIT" StatusText)
  if [ "$rc" -eq 0 ] && is_active_running && [ "$(unit_prop "$UNIT" Type)" = notify ]; then
    pass start "systemctl start returned after READY=1 in $START_S s: active (running), Type=notify, status \"$status\""
  else
    fail start "systemctl start exited $rc after $START_S s: $(unit_prop "$UNIT" ActiveState)/$(unit_prop "$UNIT" SubState)"
  fi
  SOAK_T0=$(now_ms)
  SOAK_PID=$(main_pid)
  SOAK_RESTARTS=$(unit_prop "$UNIT" NRestarts)
}

check_sandbox() {
  local pid problems=()
  pid=$(main_pid)
  try_write() { nsenter -t "$pid" -m -- sh -c "touch '$1/.hs-probe' && rm -f '$1/.hs-probe'" 2>/dev/null; }
  for ro in /run /etc /usr /var/lib /run/systemd; do
    if try_write "$ro"; then problems+=("$ro writable"); fi
  done
  for rw in /run/syslog-agent /var/spool/syslog-agent /tmp; do
    if ! try_write "$rw"; then problems+=("$rw not writable"); fi
  done
  touch /tmp/.hs-host
  if nsenter -t "$pid" -m -- test -e /tmp/.hs-host; then problems+=("/tmp shared with the host"); fi
  rm -f /tmp/.hs-host
  if [ "${#problems[@]}" -eq 0 ]; then
    pass sandbox "in the unit's mount namespace /run, /etc, /usr, /var/lib are read-only; /run/syslog-agent, the spool and a private /tmp are writable"
  else
    fail sandbox "${problems[*]}"
  fi
}

check_security() {
  local line score
  line=$(systemd-analyze security "$UNIT" --no-pager 2>&1 | tail -n 1)
  score=$(sed -n 's/.*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p' <<<"$line")
  check security "$([ -n "$score" ] && echo 0 || echo 1)" "systemd-analyze security $UNIT: ${score:-$line} (0 is the most protected, 10 the least)"
}

check_logger() {
  local t0 tag
  tag="hs-logger-$(cat "$STATE/nonce")"
  t0=$(now_ms)
  logger -t host-suite "$tag seq=1"
  if wait_until 30 delivered "$tag" 1; then
    pass logger "logger -> journald -> rsyslogd ($(local_hop)) -> agent -> RELP collector in $(secs_since "$t0") s"
  else
    fail logger "logger's message not at the collector after 30 s ($(local_hop)); agent: $(/usr/local/bin/agent status 2>&1 | head -n 3 | tr '\n' ' ')"
  fi
}

local_hop() {
  if grep -qs 'omrelp' /etc/rsyslog.d/*syslog-agent*.conf; then echo "local hop RELP"; else echo "local hop TCP"; fi
}

check_status_access() {
  local out rc adm_gid
  rc=0
  out=$(/usr/local/bin/agent status 2>&1) || rc=$?
  check status-root "$([ "$rc" -le 2 ] && [ -n "$out" ] && echo 0 || echo 1)" \
    "agent status as root: exit $rc, $(head -n 1 <<<"$out")"
  adm_gid=$(getent group adm | cut -d: -f3)
  rc=0
  out=$(cd / && env -u HOME setpriv --reuid=nobody --regid=nogroup --groups="$adm_gid" \
    /usr/local/bin/agent status 2>&1) || rc=$?
  check status-adm "$([ "$rc" -le 2 ] && [ -n "$out" ] && echo 0 || echo 1)" \
    "agent status as nobody in group adm: exit $rc, $(head -n 1 <<<"$out")"
  rc=0
  out=$(cd / && env -u HOME setpriv --reuid=nobody --regid=nogroup --clear-groups \
    /usr/local/bin/agent status 2>&1) || rc=$?
  check status-nobody "$([ "$rc" -eq 3 ] && grep -qi 'denied\|permission' <<<"$out" && echo 0 || echo 1)" \
    "agent status as nobody (no adm): exit $rc, $(head -n 1 <<<"$out")"
}

# rsyslogd_recovery NAME SIGNAL: SIGNAL to the real rsyslog.service's
# rsyslogd; passes when another rsyslogd runs and a canary came back through it.
rsyslogd_recovery() {
  local name=$1 sig=$2 pid0 t0 c
  pid0=$(rsyslogd_pid)
  if [ -z "$pid0" ] || ! wait_until 30 probe_passes_after 0; then
    fail "$name" "no rsyslogd with a passing probe to begin with (pid ${pid0:-none}, rsyslogd_up $(metric rsyslogd_up))"
    return
  fi
  t0=$(now_ms)
  kill "-$sig" "$pid0"
  if ! wait_until 60 sh -c "p=\$(pgrep -xo rsyslogd) && [ \"\$p\" != $pid0 ]"; then
    fail "$name" "SIG$sig to rsyslogd $pid0: no other rsyslogd within 60 s"
    kill -CONT "$pid0" 2>/dev/null
    return
  fi
  local back_s pid1
  back_s=$(secs_since "$t0")
  pid1=$(rsyslogd_pid)
  c=$(canaries)
  if wait_until 30 probe_passes_after "$c"; then
    pass "$name" "SIG$sig to rsyslog.service's rsyslogd $pid0: rsyslogd $pid1 running after $back_s s, its probe passing after $(secs_since "$t0") s (restarts by the agent: $(metric rsyslogd_restarts_total))"
  else
    fail "$name" "SIG$sig to rsyslogd $pid0: rsyslogd $pid1 after $back_s s but no canary back within 30 s"
  fi
}

check_reload() {
  local pid0 t0 rc=0
  pid0=$(main_pid)
  t0=$(now_ms)
  systemctl reload "$UNIT" || rc=$?
  if [ "$rc" -eq 0 ] && is_active_running && [ "$(main_pid)" = "$pid0" ] &&
    agent_journal "$t0" | grep -qi reload; then
    pass reload "systemctl reload: exit 0 in $(secs_since "$t0") s, same pid $pid0, the agent logged the reload"
  else
    fail reload "systemctl reload exited $rc; pid $pid0 -> $(main_pid); journal: $(agent_journal "$t0" | tail -n 2 | tr '\n' ' ')"
  fi
}

check_priorities() {
  local counts="" p n warn=0 raw
  for p in 3 4 6 7; do
    n=$(agent_journal 0 -p "$p..$p" | wc -l)
    counts="$counts $p:$n"
    if [ "$p" -le 4 ]; then warn=$((warn + n)); fi
  done
  raw=$(agent_journal 0 | grep -c '^<[0-7]>' || true)
  check priorities "$([ "$warn" -gt 0 ] && [ "$raw" -eq 0 ] && echo 0 || echo 1)" \
    "the agent's lines by journald priority (3 err, 4 warning, 6 info, 7 debug):$counts; lines with an unparsed <N> prefix: $raw"
}

check_soak() {
  local elapsed=$((($(now_ms) - SOAK_T0) / 1000)) want=60
  if [ "$elapsed" -lt "$want" ]; then
    # The soak is time itself: whatever the checks before took, at least 60 s.
    sleep $((want - elapsed))
  fi
  elapsed=$((($(now_ms) - SOAK_T0) / 1000))
  local timeouts
  timeouts=$(journalctl -b -u "$UNIT" --no-pager -o cat | grep -ci 'watchdog timeout' || true)
  check watchdog-soak "$([ "$(main_pid)" = "$SOAK_PID" ] && [ "$(unit_prop "$UNIT" NRestarts)" = "$SOAK_RESTARTS" ] && [ "$timeouts" -eq 0 ] && echo 0 || echo 1)" \
    "WatchdogSec=$(unit_prop "$UNIT" WatchdogUSec): same pid $SOAK_PID for $elapsed s (pid now $(main_pid)), $timeouts watchdog timeouts this boot"
}

check_restart_load() {
  local tag count=6000 rate=600 t0 rc=0 restart_s
  tag="hs-load-$(cat "$STATE/nonce")"
  systemd-run --quiet --unit=hs-load -E DENO_DIR="$DENO_DIR" \
    /usr/local/bin/deno run --allow-all "$TOOLS" tcp-send "$LOAD_PORT" "$tag" "$count" "$rate"
  if ! wait_until 30 grep -q "$tag seq=1500" "$COLLECTED"; then
    fail restart-load "the load did not reach the collector ($(delivery "$tag" "$count"))"
    systemctl stop hs-load.service 2>/dev/null
    return
  fi
  t0=$(now_ms)
  systemctl restart "$UNIT" || rc=$?
  restart_s=$(secs_since "$t0")
  wait_until 60 sh -c '! systemctl is-active --quiet hs-load.service'
  local result
  if wait_until 60 delivered "$tag" "$count"; then
    result=$(delivery "$tag" "$count")
    pass restart-load "$count messages at $rate/s into rsyslogd ($(local_hop)), systemctl restart (exit $rc, $restart_s s) in the middle: $result"
  else
    result=$(delivery "$tag" "$count")
    fail restart-load "$count messages at $rate/s into rsyslogd ($(local_hop)), restart in the middle (exit $rc, $restart_s s): $result"
  fi
}

check_stop() {
  local t0 rc=0 s timeout
  t0=$(now_ms)
  systemctl stop "$UNIT" || rc=$?
  s=$(secs_since "$t0")
  timeout=$(unit_prop "$UNIT" TimeoutStopUSec)
  check stop "$([ "$rc" -eq 0 ] && [ "$(unit_prop "$UNIT" Result)" = success ] && [ "${s%.*}" -lt 15 ] && echo 0 || echo 1)" \
    "systemctl stop: exit $rc in $s s (TimeoutStopSec $timeout), result $(unit_prop "$UNIT" Result), exit status $(unit_prop "$UNIT" ExecMainStatus)"
  systemctl start "$UNIT"
}

# logrotate.service (Debian's sandbox: MemoryDenyWriteExecute=yes) forced, with
# an rsyslog.service whose rsyslogd dies on SIGHUP (the incident's).
check_logrotate() {
  local entry=/etc/logrotate.d/syslog-agent diverted
  diverted=$(dpkg-divert --list /etc/logrotate.d/rsyslog)
  if [ -f "$entry" ] && [ ! -e /etc/logrotate.d/rsyslog ] && [ -n "$diverted" ]; then
    pass logrotate-entry "$entry installed; $diverted"
  else
    fail logrotate-entry "$entry $([ -f "$entry" ] && echo present || echo missing); /etc/logrotate.d/rsyslog $([ -e /etc/logrotate.d/rsyslog ] && echo present || echo absent); diversion: ${diverted:-none}"
  fi
  # The stand-in: rsyslogd under a shell named rsyslogd that dies on SIGHUP.
  mkdir -p "$STATE/bin" /etc/systemd/system/rsyslog.service.d /etc/systemd/system/logrotate.service.d
  cat >"$STATE/bin/rsyslogd" <<'EOF'
#!/bin/sh
# host suite: rsyslogd as in the incident, dying on SIGHUP. The real one runs
# underneath with the socket systemd passes (LISTEN_PID is its pid).
child=
trap 'kill -TERM $child; wait $child; exit 1' HUP
trap 'kill -TERM $child; wait $child; exit 0' TERM
sh -c 'LISTEN_PID=$$ exec /usr/sbin/rsyslogd -n -iNONE' &
child=$!
wait $child
EOF
  chmod 755 "$STATE/bin/rsyslogd"
  printf '[Service]\nExecStart=\nExecStart=%s\nNotifyAccess=all\n' "$STATE/bin/rsyslogd" \
    >/etc/systemd/system/rsyslog.service.d/host-suite.conf
  printf '[Service]\nExecStart=\nExecStart=/usr/sbin/logrotate -f /etc/logrotate.conf\n' \
    >/etc/systemd/system/logrotate.service.d/host-suite.conf
  systemctl daemon-reload
  systemctl restart rsyslog.service
  local shell_pid tag count=20 t0 rc=0 c
  shell_pid=$(unit_prop rsyslog.service MainPID)
  wait_until 30 probe_passes_after "$(canaries)"
  tag="hs-rotate-$(cat "$STATE/nonce")"
  t0=$(now_ms)
  (for i in $(seq 1 "$count"); do logger -t host-suite "$tag seq=$i"; done) &
  local sender=$!
  c=$(canaries)
  systemctl start logrotate.service || rc=$?
  wait "$sender"
  local jit mdwe lr
  mdwe=$(unit_prop logrotate.service MemoryDenyWriteExecute)
  lr=$(journal_since "$t0" -u logrotate.service | grep -v '^Starting\|^Finished\|^Started\|Deactivated' | tail -n 4 | tr '\n' ' ')
  jit=$(journal_since "$t0" -u logrotate.service | grep -ci 'Check failed\|Fatal process\|panic\|trace/breakpoint\|SIGTRAP\|core dumped' || true)
  # agent rotate answered: exit 0, or 1 when the rsyslogd it restarted did not
  # pass its probe within its deadline (said in the journal line shown).
  local answered=1
  if [ "$rc" -eq 0 ] || journal_since "$t0" -u logrotate.service | grep -q 'rotate: .*restart\|not healthy again within'; then answered=0; fi
  check rotate-postrotate "$([ "$answered" -eq 0 ] && [ "$jit" -eq 0 ] && echo 0 || echo 1)" \
    "systemctl start logrotate.service (MemoryDenyWriteExecute=$mdwe, logrotate -f): exit $rc, V8 crash lines: $jit; postrotate: $(grep -A1 postrotate "$entry" 2>/dev/null | tail -n 1 | tr -s ' \t' ' ')${lr:+; journal: $lr}"
  # Why the drop-in: the agent under logrotate.service's own MemoryDenyWriteExecute=yes.
  local mdwe_rc=0 jitless_rc=0
  systemd-run --quiet --wait --pipe -p MemoryDenyWriteExecute=yes -E DENO_DIR="$DENO_CACHE" \
    /usr/local/bin/agent version >/dev/null 2>&1 || mdwe_rc=$?
  systemd-run --quiet --wait --pipe -p MemoryDenyWriteExecute=yes -E DENO_DIR="$DENO_CACHE" \
    -E DENO_V8_FLAGS=--jitless /usr/local/bin/agent version >/dev/null 2>&1 || jitless_rc=$?
  info "agent version under MemoryDenyWriteExecute=yes: exit $mdwe_rc; with DENO_V8_FLAGS=--jitless: exit $jitless_rc (deno run honours DENO_V8_FLAGS; a deno compile binary does not, says packaging/logrotate/logrotate.service.conf)"
  local newpid
  if wait_until 60 sh -c "p=\$(systemctl show -P MainPID rsyslog.service) && [ \"\$p\" != 0 ] && [ \"\$p\" != $shell_pid ]" &&
    wait_until 30 probe_passes_after "$c" && wait_until 60 delivered "$tag" "$count"; then
    newpid=$(unit_prop rsyslog.service MainPID)
    pass rotate-standin "the stand-in rsyslogd ($shell_pid) died of the HUP; rsyslog.service back as $newpid, probe passing, $(delivery "$tag" "$count") ($count logger messages around the rotation) in $(secs_since "$t0") s"
  else
    fail rotate-standin "after the rotation: rsyslog.service pid $shell_pid -> $(unit_prop rsyslog.service MainPID), $(delivery "$tag" "$count"), agent: $(/usr/local/bin/agent status 2>&1 | head -n 2 | tr '\n' ' ')"
  fi
  rm -f /etc/systemd/system/rsyslog.service.d/host-suite.conf \
    /etc/systemd/system/logrotate.service.d/host-suite.conf
  rmdir /etc/systemd/system/rsyslog.service.d /etc/systemd/system/logrotate.service.d 2>/dev/null
  systemctl daemon-reload
  systemctl restart rsyslog.service
}

# rsyslogd.mode "child": the agent runs the host's rsyslogd itself.
check_child() {
  local dev_log t0 notify devlog_ok=1 after logged
  dev_log=$(readlink /dev/log)
  systemctl stop syslog.socket rsyslog.service
  # What the README says child mode needs: the child's sockets in /run.
  printf '[Service]\nReadWritePaths=/run\n' >"$(dirname "$DROPIN")/child-mode.conf"
  systemctl daemon-reload
  cp "$CONF" "$STATE/agent.json.external"
  # The child owns /dev/log (imuxsock's SysSock.Name): what it replaces, and
  # removes when it exits, is journald's symlink. (With the distribution's
  # rsyslog.conf it takes /run/systemd/journal/syslog instead.)
  cat >"$STATE/child-rsyslog.conf" <<'EOF'
module(load="imuxsock" SysSock.Name="/dev/log")
$IncludeConfig /etc/rsyslog.d/*.conf
*.* /var/log/syslog
EOF
  config_patch "{\"rsyslogd\":{\"mode\":\"child\",\"command\":[\"/usr/sbin/rsyslogd\",\"-n\",\"-iNONE\",\"-f\",\"$STATE/child-rsyslog.conf\"],\"probe\":{\"target\":\"unix:///dev/log\"}}}"
  t0=$(now_ms)
  systemctl restart "$UNIT"
  if wait_until 60 probe_passes_after 0; then
    pass child-start "rsyslogd.mode child (with the drop-in ReadWritePaths=/run; imuxsock on /dev/log): the agent's rsyslogd $(rsyslogd_pid) runs, /dev/log $([ -S /dev/log ] && echo "is its socket" || echo "-> $(readlink /dev/log)"), its probe passing after $(secs_since "$t0") s"
  else
    fail child-start "rsyslogd.mode child: no passing probe after 60 s: $(agent_journal "$t0" | grep -i rsyslogd | tail -n 3 | tr '\n' ' ')"
  fi
  notify=$(journal_since "$t0" -u "$UNIT" | grep -c 'reception only permitted for main PID' || true)
  check child-notify "$([ "$notify" -eq 0 ] && echo 0 || echo 1)" \
    "systemd messages about notifications from a non-main pid since the child started: $notify"
  systemctl stop "$UNIT"
  after=$(readlink /dev/log || true)
  logged=1
  if logger -t host-suite "hs-devlog-$(cat "$STATE/nonce")" 2>/dev/null &&
    wait_until 10 sh -c "journalctl -b -t host-suite --no-pager -o cat | grep -q hs-devlog-$(cat "$STATE/nonce")"; then
    logged=0
  fi
  if [ -n "$dev_log" ] && [ "$after" = "$dev_log" ] && [ "$logged" -eq 0 ]; then devlog_ok=0; fi
  check child-dev-log "$devlog_ok" \
    "after systemctl stop in child mode: /dev/log $([ -e /dev/log ] && echo "-> ${after:-(not a symlink)}" || echo missing) (before: -> $dev_log), logger to journald $([ "$logged" -eq 0 ] && echo works || echo fails)"
  # Put the host back for the checks after this one, whatever happened.
  if [ "$(readlink /dev/log)" != "$dev_log" ]; then
    rm -f /dev/log
    ln -s "$dev_log" /dev/log
  fi
  cp "$STATE/agent.json.external" "$CONF"
  rm -f "$(dirname "$DROPIN")/child-mode.conf"
  systemctl daemon-reload
  systemctl start syslog.socket rsyslog.service
  systemctl start "$UNIT"
  wait_until 60 probe_passes_after 0
}

check_config_error() {
  local t0 errs state status restarts
  cp "$CONF" "$STATE/agent.json.good"
  printf '{ "collectors": [ { "address": "logs" } ] }\n' >"$CONF"
  t0=$(now_ms)
  systemctl restart "$UNIT" 2>/dev/null
  wait_until 20 sh -c "[ \"\$(systemctl show -P ActiveState $UNIT)\" = failed ]"
  errs=$(journal_since "$t0" -u "$UNIT" -p err | grep -c 'collectors\[0\]\.address' || true)
  check config-error-priority "$([ "$errs" -gt 0 ] && echo 0 || echo 1)" \
    "a bad config at start: $errs line(s) naming collectors[0].address at priority err or above (journalctl -p err)"
  restarts=$(unit_prop "$UNIT" NRestarts)
  sleep 4 # RestartSec=1s: a restart loop would show within this.
  state=$(unit_prop "$UNIT" ActiveState)
  status=$(unit_prop "$UNIT" ExecMainStatus)
  check config-error-no-restart "$([ "$state" = failed ] && [ "$status" = 2 ] && [ "$(unit_prop "$UNIT" NRestarts)" = "$restarts" ] && echo 0 || echo 1)" \
    "after exit $status: $state, restarts $restarts -> $(unit_prop "$UNIT" NRestarts) over 4 s (RestartPreventExitStatus=$(unit_prop "$UNIT" RestartPreventExitStatus))"
  cp "$STATE/agent.json.good" "$CONF"
  systemctl reset-failed "$UNIT"
  systemctl start "$UNIT"
}

check_denials() {
  local hits
  hits=$(agent_journal 0 | grep -i -e 'read-only file system' -e 'operation not permitted' \
    -e 'permission denied' -e 'EROFS' -e 'EPERM' -e 'EACCES' -e 'seccomp' -e 'capabilit' |
    grep -v 'status.*nobody' || true)
  local audit n=0
  if [ -n "$hits" ]; then n=$(grep -c . <<<"$hits"); fi
  audit=$(journalctl -b -k --no-pager -o cat | grep -c 'type=1326\|audit.*denied' || true)
  check journal-denials "$([ "$n" -eq 0 ] && [ "$audit" -eq 0 ] && echo 0 || echo 1)" \
    "the agent's journal this boot: $n lines of seccomp, capability, permission or read-only denials, $audit kernel audit denials${hits:+; first: $(head -n 1 <<<"$hits")}"
}

# The power cut: RELP in, spool always with sync always; reset mid-stream.
powercut_start() {
  local tag acked
  tag="hs-power-$(cat "$STATE/nonce")"
  config_patch "{\"spool\":{\"mode\":\"always\",\"sync\":\"always\"}}"
  plain_conf | jq --arg a "127.0.0.1:$PC_PORT" '.inputs = ((.inputs // [{"type":"tcp","address":"127.0.0.1:5514"},{"type":"udp","address":"127.0.0.1:5514"}]) + [{"type":"relp","address":$a}])' \
    >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
  systemctl restart "$UNIT"
  : >"$OUT/powercut-acked"
  systemd-run --quiet --unit=hs-power -E DENO_DIR="$DENO_DIR" \
    /usr/local/bin/deno run --allow-all "$TOOLS" relp-send "$PC_PORT" "$tag" 1000 "$OUT/powercut-acked"
  if ! wait_until 60 sh -c "a=\$(tail -n 1 '$OUT/powercut-acked'); [ \"\${a:-0}\" -ge 2000 ]"; then
    fail powercut "the agent acknowledged $(tail -n 1 "$OUT/powercut-acked") messages within 60 s; no power cut"
    return 1
  fi
  echo 2 >"$STATE/phase"
  date +%s%3N >"$STATE/powercut-at"
  sync
  acked=$(tail -n 1 "$OUT/powercut-acked")
  info "power cut (sysrq b) with $acked messages acknowledged over RELP (spool always, sync always)"
  echo b >/proc/sysrq-trigger
  sleep 30
  fail powercut "the reset did not happen"
  return 1
}

# --- phase 2 ------------------------------------------------------------------
powercut_check() {
  local tag acked t0
  tag="hs-power-$(cat "$STATE/nonce")"
  acked=$(tail -n 1 "$OUT/powercut-acked")
  t0=$(now_ms)
  info "second boot: $(systemd-analyze 2>/dev/null | head -n 1)"
  if wait_until 120 delivered "$tag" "$acked"; then
    pass powercut "after the reset: $(delivery "$tag" "$acked") of those the agent acknowledged before the power cut (in $(secs_since "$t0") s after the second boot's checks began; agent $(unit_prop "$UNIT" ActiveState))"
  else
    fail powercut "after the reset: $(delivery "$tag" "$acked") acknowledged; agent $(unit_prop "$UNIT" ActiveState)/$(unit_prop "$UNIT" SubState)"
  fi
}

check_uninstall() {
  local rc=0 diff_lines
  systemctl stop hs-power.service 2>/dev/null
  rm -f "$DROPIN" /etc/rsyslog.d/00-host-suite.conf
  rmdir "$(dirname "$DROPIN")" 2>/dev/null
  systemctl daemon-reload
  sh "$STATE/mirror/install.sh" --uninstall --purge >"$OUT/uninstall.log" 2>&1 || rc=$?
  systemctl restart rsyslog.service
  snapshot >"$STATE/after.txt"
  diff "$STATE/before.txt" "$STATE/after.txt" >"$OUT/uninstall.diff"
  diff_lines=$(grep -c '^[<>]' "$OUT/uninstall.diff" || true)
  local logged=1
  logger -t host-suite "hs-final-$(cat "$STATE/nonce")" &&
    wait_until 10 sh -c "grep -q hs-final-$(cat "$STATE/nonce") /var/log/syslog" && logged=0
  check uninstall "$([ "$rc" -eq 0 ] && [ "$diff_lines" -eq 0 ] && [ "$logged" -eq 0 ] && echo 0 || echo 1)" \
    "install.sh --uninstall --purge: exit $rc; /etc, /usr/local, /var/spool, /var/lib/syslog-agent, diversions, installed packages, unit states, /dev/log against before the install: $diff_lines lines differ$([ "$diff_lines" -gt 0 ] && echo " (first: $(grep -m 2 '^[<>]' "$OUT/uninstall.diff" | tr '\n' ' '))"); logger -> rsyslogd -> /var/log/syslog $([ "$logged" -eq 0 ] && echo works || echo fails)"
}

finish() {
  journalctl -b -o short-precise --no-pager >"$OUT/journal-boot$phase.txt" 2>&1
  touch "$OUT/done"
  sync
}

# --- the default variant: Debian 12 as it installs by default, without rsyslog ----
REPO=$SHARE/repo
TCP_SINK_PORT=10603
# What the guest purges to be a default Debian 12 (run.sh's REPO_PACKAGES).
RSYSLOG_PACKAGES=(rsyslog rsyslog-relp librelp0 libestr0 libfastjson4 liblognorm5)

installed_list() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" { print $2 }' | sort; }

# default_setup: one release on the mirror, a TCP collector, then rsyslog
# purged, syslog.socket stopped and no package source but the one added later.
default_setup() {
  local t0 before removed
  t0=$(now_ms)
  : >"$COLLECTED"
  head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/nonce"
  mkdir -p "$STATE/mirror" "$STATE/releases" "$DENO_CACHE"
  cp "$PROJ/install.sh" "$STATE/mirror/install.sh"
  mkdir -p "$STATE/src"
  tar -C "$STATE/src" -xf "$SHARE/tree.tar"
  openssl genpkey -algorithm ed25519 -out "$STATE/test-key.pem" 2>/dev/null
  openssl pkey -in "$STATE/test-key.pem" -pubout -out "$STATE/test-key.pub"
  make_release "$(sed -n 's/^export const VERSION = "\(.*\)";/\1/p' "$PROJ/ground/version.ts")" new
  chmod -R a+rX "$DENO_CACHE" "$STATE/releases"
  start_helpers
  systemctl stop hs-tcp-sink.service 2>/dev/null || true
  systemd-run --quiet --unit=hs-tcp-sink -E DENO_DIR="$DENO_DIR" \
    /usr/local/bin/deno run --allow-all "$TOOLS" tcp-sink "$TCP_SINK_PORT" "$COLLECTED"
  mkdir -p "$(dirname "$DROPIN")"
  printf '[Service]\nEnvironment=DENO_DIR=%s\n' "$DENO_CACHE" >"$DROPIN"
  install_opts
  # Debian 12 as it installs by default: no rsyslog (and none of the libraries
  # only it needs), syslog.socket not listening, no package lists.
  before=$(installed_list)
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${RSYSLOG_PACKAGES[@]}" >"$OUT/purge.log" 2>&1
  removed=$(comm -23 <(echo "$before") <(installed_list) | tr '\n' ' ')
  systemctl stop syslog.socket 2>/dev/null || true
  rm -f /var/log/syslog /var/log/messages /var/log/auth.log /var/log/kern.log /var/log/user.log /var/log/daemon.log
  mkdir -p "$STATE/apt-sources"
  mv /etc/apt/sources.list "$STATE/apt-sources/" 2>/dev/null || true
  find /etc/apt/sources.list.d -mindepth 1 -maxdepth 1 -exec mv {} "$STATE/apt-sources/" \;
  apt-get clean
  rm -rf /var/lib/apt/lists/*
  info "guest: $(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release), $(systemctl --version | head -n 1), kernel $(uname -r); purged: ${removed:-nothing}; syslog.socket $(systemctl is-active syslog.socket); no package source; $(command -v rsyslogd >/dev/null && echo "rsyslogd still there" || echo "no rsyslogd")"
  info "setup (release, cache, mirror, collector, rsyslog purged) took $(secs_since "$t0") s"
}

# check_offline: no package source can give rsyslog: install.sh fails before
# changing anything and names the command.
check_offline() {
  local rc=0 diff_lines
  snapshot >"$STATE/before-offline.txt"
  run_install new --collector "127.0.0.1:$TCP_SINK_PORT" || rc=$?
  cp "$OUT/install-new.log" "$OUT/install-offline.log"
  snapshot >"$STATE/after-offline.txt"
  diff_lines=$(diff "$STATE/before-offline.txt" "$STATE/after-offline.txt" | grep -c '^[<>]' || true)
  check offline "$([ "$rc" -ne 0 ] && [ "$diff_lines" -eq 0 ] && grep -q 'nothing was changed' "$OUT/install-offline.log" && grep -q 'apt-get update && apt-get install rsyslog rsyslog-relp' "$OUT/install-offline.log" && echo 0 || echo 1)" \
    "install.sh with no package source for rsyslog: exit $rc, $diff_lines lines of /etc, /usr/local, /var/spool, packages differ; it said: $(grep -m 1 '^install.sh: cannot fetch' "$OUT/install-offline.log" | cut -c1-120) … $(grep -m 1 '^nothing was changed' "$OUT/install-offline.log")"
}

check_default_variant_install() {
  local rc=0 t0 problems=() conf pkgs
  echo "deb [trusted=yes] file:$REPO ./" >/etc/apt/sources.list.d/host-suite.list
  snapshot >"$STATE/before.txt"
  t0=$(now_ms)
  run_install new --collector "127.0.0.1:$TCP_SINK_PORT" || rc=$?
  [ "$rc" -eq 0 ] || problems+=("install.sh exited $rc: $(tail -n 3 "$OUT/install-new.log" | tr '\n' ' ')")
  pkgs=$(sed -n 's/^ *installed packages: \(.*\) (apt-get;.*/\1/p' "$OUT/install-new.log" | head -n 1)
  [ -n "$pkgs" ] || problems+=("no \"installed packages\" line")
  grep -q '^ *enabled and started: rsyslog.service' "$OUT/install-new.log" || problems+=("rsyslog.service not enabled and started by install.sh")
  is_active_running || problems+=("agent $(unit_prop "$UNIT" ActiveState)/$(unit_prop "$UNIT" SubState)")
  [ "$(systemctl is-active rsyslog.service)" = active ] || problems+=("rsyslog.service $(systemctl is-active rsyslog.service)")
  [ "$(systemctl is-enabled rsyslog.service 2>&1)" = enabled ] || problems+=("rsyslog.service $(systemctl is-enabled rsyslog.service 2>&1)")
  [ "$(systemctl is-active syslog.socket)" = active ] || problems+=("syslog.socket $(systemctl is-active syslog.socket)")
  grep -qs 'omrelp' /etc/rsyslog.d/90-syslog-agent.conf || problems+=("local hop not RELP")
  conf=$(commented_conf)
  grep -q '^[1-9][0-9]* comment lines, agent check-config: .*: ok$' <<<"$conf" || problems+=("agent.json: $conf")
  if [ "${#problems[@]}" -eq 0 ]; then
    pass install "install.sh with only --collector (and the mirror's flags) on Debian 12 without rsyslog, in $(secs_since "$t0") s: installed $pkgs with apt-get from the guest's file: repository, rsyslog.service enabled and active, syslog.socket active, local hop over RELP, agent.json $conf, agent active (running)"
    return 0
  fi
  fail install "${problems[*]}"
  return 1
}

# status_is_ok: agent status --json says ok, rsyslogd running, probe passing
# (STATUS_JSON and STATUS_STATE keep what it said).
status_is_ok() {
  STATUS_JSON=$(/usr/local/bin/agent status --json 2>/dev/null) || true
  STATUS_STATE=$(jq -r '"\(.state) rsyslogd \(.rsyslogd.state) probe \(.rsyslogd.probe.ok)"' <<<"$STATUS_JSON" 2>/dev/null)
  [ "$STATUS_STATE" = "ok rsyslogd running probe true" ]
}

check_default_status() {
  if wait_until 60 status_is_ok; then
    pass status "agent status: $STATUS_STATE ($(/usr/local/bin/agent status 2>&1 | head -n 1))"
  else
    fail status "agent status: ${STATUS_STATE:-no answer} $(jq -c .reasons <<<"$STATUS_JSON" 2>/dev/null)"
  fi
}

# A message logged while the agent is stopped waits in rsyslogd's action queue
# and arrives once the agent is back.
check_while_stopped() {
  local tag t0 inlog=1
  tag="hs-stopped-$(cat "$STATE/nonce")"
  systemctl stop "$UNIT"
  logger -t host-suite "$tag seq=1"
  wait_until 20 grep -q "$tag" /var/log/syslog && inlog=0
  if delivered "$tag" 1; then
    fail while-stopped "the message reached the collector while the agent was stopped"
    systemctl start "$UNIT"
    return
  fi
  t0=$(now_ms)
  systemctl start "$UNIT"
  if [ "$inlog" -eq 0 ] && wait_until 60 delivered "$tag" 1; then
    pass while-stopped "logger while syslog-agent.service was stopped: in /var/log/syslog at once, at the collector $(secs_since "$t0") s after systemctl start"
  else
    fail while-stopped "in /var/log/syslog: $([ "$inlog" -eq 0 ] && echo yes || echo no); at the collector 60 s after start: $(delivery "$tag" 1)"
  fi
}

# Rotation as Debian runs it: logrotate.service (forced), with postrotate "agent rotate".
check_default_logrotate() {
  local rc=0 pid0 pid1 tag t0 diverted lr
  diverted=$(dpkg-divert --list /etc/logrotate.d/rsyslog)
  mkdir -p /etc/systemd/system/logrotate.service.d
  printf '[Service]\nExecStart=\nExecStart=/usr/sbin/logrotate -f /etc/logrotate.conf\n' \
    >/etc/systemd/system/logrotate.service.d/host-suite.conf
  systemctl daemon-reload
  wait_until 30 probe_passes_after 0
  pid0=$(rsyslogd_pid)
  tag="hs-rotate-$(cat "$STATE/nonce")"
  logger -t host-suite "$tag seq=1"
  wait_until 30 delivered "$tag" 1
  t0=$(now_ms)
  systemctl start logrotate.service || rc=$?
  lr=$(journal_since "$t0" -u logrotate.service | grep -i 'rotate' | tail -n 2 | tr '\n' ' ')
  logger -t host-suite "$tag seq=2"
  pid1=$(rsyslogd_pid)
  if [ "$rc" -eq 0 ] && [ -n "$diverted" ] && [ -e /var/log/syslog.1 ] && [ "$pid0" = "$pid1" ] &&
    wait_until 30 delivered "$tag" 2 && wait_until 10 grep -q "$tag seq=2" /var/log/syslog; then
    pass logrotate "systemctl start logrotate.service (logrotate -f): exit 0, /var/log/syslog rotated to syslog.1, rsyslogd $pid0 HUPed and still running, a message after the rotation in the new /var/log/syslog and at the collector; $diverted${lr:+; journal: $lr}"
  else
    fail logrotate "exit $rc; diversion: ${diverted:-none}; syslog.1 $([ -e /var/log/syslog.1 ] && echo present || echo missing); rsyslogd $pid0 -> $pid1; $(delivery "$tag" 2); journal: $lr"
  fi
  rm -f /etc/systemd/system/logrotate.service.d/host-suite.conf
  rmdir /etc/systemd/system/logrotate.service.d 2>/dev/null
  systemctl daemon-reload
}

check_default_uninstall() {
  local rc=0 diff_lines left logged=1
  rm -f "$DROPIN"
  rmdir "$(dirname "$DROPIN")" 2>/dev/null
  systemctl daemon-reload
  sh "$STATE/mirror/install.sh" --uninstall --purge >"$OUT/uninstall.log" 2>&1 || rc=$?
  snapshot >"$STATE/after.txt"
  diff "$STATE/before.txt" "$STATE/after.txt" >"$OUT/uninstall.diff"
  diff_lines=$(grep -c '^[<>]' "$OUT/uninstall.diff" || true)
  left=$(installed_list | grep -xE "$(IFS='|'; echo "${RSYSLOG_PACKAGES[*]}")" | tr '\n' ' ')
  logger -t host-suite "hs-final-$(cat "$STATE/nonce")" &&
    wait_until 10 sh -c "journalctl -b -t host-suite --no-pager -o cat | grep -q hs-final-$(cat "$STATE/nonce")" && logged=0
  check uninstall "$([ "$rc" -eq 0 ] && [ "$diff_lines" -eq 0 ] && [ -z "$left" ] && [ "$logged" -eq 0 ] && echo 0 || echo 1)" \
    "install.sh --uninstall --purge: exit $rc; $(grep -m 1 'removed packages:' "$OUT/uninstall.log" | sed 's/^ *//'); still installed of ${RSYSLOG_PACKAGES[*]}: ${left:-none}; /etc, /usr/local, /var/spool, /var/lib/syslog-agent, diversions, installed packages, unit states, /dev/log against before the install: $diff_lines lines differ$([ "$diff_lines" -gt 0 ] && echo " (first: $(grep -m 2 '^[<>]' "$OUT/uninstall.diff" | tr '\n' ' '))"); syslog.socket $(systemctl is-active syslog.socket); logger -> journal $([ "$logged" -eq 0 ] && echo works || echo fails)"
}

default_main() {
  default_setup
  check_offline
  if check_default_variant_install; then
    check_default_status
    check_logger
    check_while_stopped
    check_default_logrotate
    check_denials
  fi
  check_default_uninstall
}

# --- main ---------------------------------------------------------------------
if [ "$VARIANT" = default ]; then
  default_main
  finish
  exit 0
fi
if [ "$phase" = 1 ]; then
  phase1_setup
  check_install && echo yes >"$STATE/installed"
  if [ -f "$SHARE/debug.sh" ]; then
    # HOST_SUITE_SCRIPT: an operator's own script on the installed guest instead of the checks.
    # shellcheck source=/dev/null
    . "$SHARE/debug.sh" 2>&1 | tee "$OUT/debug.log"
    finish
    exit 0
  fi
  if [ -s "$STATE/installed" ]; then
    check_default_install
    check_compile_flags
    check_upgrade
    check_start
    check_sandbox
    check_security
    check_status_access
    check_logger
    wants rsyslogd && rsyslogd_recovery rsyslogd-kill9 KILL
    wants rsyslogd && rsyslogd_recovery rsyslogd-sigstop STOP
    check_reload
    check_priorities
    check_soak
    wants load && check_restart_load
    wants logrotate && check_logrotate
    wants child && check_child
    check_stop
    wants config && check_config_error
    check_denials
    journalctl -b -o short-precise --no-pager >"$OUT/journal-boot1.txt" 2>&1
    if wants powercut && powercut_start; then exit 0; fi
    check_uninstall
  fi
  finish
else
  info "the agent after the reset: $(unit_prop "$UNIT" ActiveState)/$(unit_prop "$UNIT" SubState)"
  start_helpers
  powercut_check
  check_uninstall
  finish
fi
