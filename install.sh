#!/bin/sh
# install.sh: installs, upgrades or removes syslog-agent on a Linux host.
#
#   curl -fsSL https://<release host>/install.sh | sh -s -- --collector logs.example.org:514
#
# Puts the agent binary at /usr/local/bin/agent, a config at
# /etc/syslog-agent/agent.json (only when there is none), the systemd unit,
# a logrotate snippet and an rsyslog forwarding snippet, creates the spool
# directory, and starts the service when systemd runs this host. Nothing else
# on the host is touched. Running it again changes only what differs.
# Run with --help for the options. POSIX sh; needs curl or wget for downloads
# and sha256sum (or shasum, or openssl) to verify them.
#
# The unit and the two snippets below are copies of the files in packaging/,
# made by `deno task embed` (this script is piped from curl, so it cannot read
# them): edit those files, never the copies here.

# -f: no pathname expansion anywhere (a collector like [::1]:514 is a glob).
set -euf
umask 022

# --- names and paths (SPEC.md) -------------------------------------------------
BIN_PATH=/usr/local/bin/agent
CONF_DIR=/etc/syslog-agent
CONF_PATH=/etc/syslog-agent/agent.json
UNIT_NAME=syslog-agent.service
UNIT_PATH=/etc/systemd/system/syslog-agent.service
WANTS_LINK=/etc/systemd/system/multi-user.target.wants/syslog-agent.service
LOGROTATE_PATH=/etc/logrotate.d/syslog-agent
# The distribution's rotation of rsyslog's files (Debian, Ubuntu, RHEL alike).
DISTRO_LOGROTATE=/etc/logrotate.d/rsyslog
RSYSLOG_PATH=/etc/rsyslog.d/90-syslog-agent.conf
SPOOL_DIR=/var/spool/syslog-agent
DEFAULT_RELEASES=https://github.com/syslog-agent/syslog-agent/releases

# --- options -------------------------------------------------------------------
ROOT=""
DRY_RUN=0
NO_START=0
UNINSTALL=0
PURGE=0
BINARY=""
SUMS_FILE=""
RELEASE=""
BASE_URL=""
PROTOCOL=""
COLLECTORS=""
ARCH=""

# --- state ---------------------------------------------------------------------
WORK_DIR=""
PARTIAL=""
CHANGES=0
BIN_CHANGED=0
UNIT_CHANGED=0
RSYSLOG_CHANGED=0

usage() {
  cat <<'USAGE'
Usage: install.sh [OPTIONS]
       curl -fsSL https://<release host>/install.sh | sh -s -- [OPTIONS]

Install:
  --collector HOST:PORT   a central collector (repeatable; tried in order).
                          Needed on a first install; an existing
                          /etc/syslog-agent/agent.json is never overwritten.
  --protocol tcp|tls|relp the collectors' protocol (default tcp)
  --version VERSION       release to download (default: the latest)
  --base-url URL          directory holding agent-<target> and SHA256SUMS
                          (default: the release's download location;
                          or set SYSLOG_AGENT_BASE_URL)
  --binary PATH           install this agent binary instead of downloading
                          (air-gapped hosts)
  --sha256sums FILE       verify --binary against this SHA256SUMS file
  --arch x86_64|aarch64   target architecture (default: uname -m)
  --no-start              install, but do not enable or start the service

Remove:
  --uninstall             remove the binary, unit and snippets; keep the
                          config and the spool
  --purge                 --uninstall, and remove the config and the spool too

Both:
  --root DIR              work in a staging root instead of / (packagers, tests;
                          nothing is started, root is not needed)
  --dry-run               print what would be done and change nothing
  -h, --help              this text

Needs root unless --root (or --dry-run) is given.
USAGE
}

say() { printf '%s\n' "$*"; }
warn() { printf 'install.sh: %s\n' "$*" >&2; }
die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}
usage_error() {
  printf 'install.sh: %s; see install.sh --help\n' "$*" >&2
  exit 2
}

cleanup() {
  if [ -n "$PARTIAL" ]; then rm -f "$PARTIAL"; fi
  if [ -n "$WORK_DIR" ]; then rm -rf "$WORK_DIR"; fi
}

# >>> embedded packaging/systemd/syslog-agent.service (deno task embed; edit that file, not this)
emit_unit() {
  cat <<'SYSLOG_AGENT_EOF'
# syslog-agent: relays local syslog to central collectors, spools to disk while
# they are away, and can supervise rsyslogd. Installed by install.sh to
# /etc/systemd/system/syslog-agent.service; change it with a drop-in
# (systemctl edit syslog-agent), which an upgrade never overwrites.
[Unit]
Description=syslog-agent: keeps syslog flowing to the central collectors
Documentation=https://github.com/syslog-agent/syslog-agent
Wants=network-online.target
After=network-online.target
# Restart=always means always: never give up after a burst of failures.
StartLimitIntervalSec=0

[Service]
Type=notify
NotifyAccess=main
WatchdogSec=30s
ExecStart=/usr/local/bin/agent run --config /etc/syslog-agent/agent.json
ExecReload=/usr/local/bin/agent reload
Restart=always
RestartSec=1s
# SIGTERM goes to the agent alone: it stops its child rsyslogd itself, in order,
# after it has put what it holds into the spool. SIGKILL to all that is left
# after TimeoutStopSec.
KillMode=mixed
TimeoutStopSec=15s
LimitNOFILE=65536

# /run/syslog-agent holds the control socket (0660, group adm): the directory
# is 0755 so that the group can reach it.
RuntimeDirectory=syslog-agent
RuntimeDirectoryMode=0755
UMask=0027

# --- Sandbox ---------------------------------------------------------------
# The agent runs as root because in rsyslogd.mode "child" it starts the host's
# rsyslogd, which reads the kernel log, binds port 514, creates /dev/log,
# writes /var/log as other users and may drop privileges itself. Everything
# below is the strongest setting that still lets that child do its job.
#
# The whole file system is read-only except these. systemd has no
# SpoolDirectory=, and StateDirectory= would put the spool under /var/lib,
# so the spool is a ReadWritePaths= entry; ExecStartPre= (run outside the
# sandbox, "+") creates it when missing so that the namespace can be set up.
# A spool.dir elsewhere needs a drop-in with ReadWritePaths= for it.
ProtectSystem=strict
ExecStartPre=+/bin/mkdir -p -m 0750 /var/spool/syslog-agent
ReadWritePaths=/var/spool/syslog-agent
# For a child rsyslogd: its log files and its work directory ("-": optional).
ReadWritePaths=-/var/log -/var/spool/rsyslog -/var/lib/rsyslog
ProtectHome=yes
PrivateTmp=yes
PrivateMounts=yes
# Not PrivateDevices=: a child rsyslogd creates /dev/log, which must be the
# host's, and writes emergency messages to users' terminals. The device
# cgroup allows only that instead.
DevicePolicy=closed
DeviceAllow=char-pts w
DeviceAllow=char-tty w
DeviceAllow=/dev/console w
DeviceAllow=/dev/kmsg rw
# Not ProtectKernelLogs= nor ProcSubset=pid: they hide /proc/kmsg from
# rsyslogd's imklog. Not ProtectProc=invisible: it hides an rsyslogd started by
# rsyslog.service (more capabilities than the agent) from the agent watching it.
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
NoNewPrivileges=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
RestrictRealtime=yes
LockPersonality=yes
RemoveIPC=yes
# Not MemoryDenyWriteExecute=: the agent is JavaScript on V8, whose JIT
# compiler needs writable-then-executable memory.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
# V8 protects its JIT memory with memory protection keys (@pkey).
SystemCallFilter=@system-service @pkey
SystemCallErrorNumber=EPERM
# CAP_CHOWN: the control socket's group, rsyslogd's $FileOwner/$FileGroup.
# CAP_DAC_OVERRIDE: rsyslogd writing log files owned by other users.
# CAP_KILL: HUP and restart an rsyslogd that dropped privileges.
# CAP_NET_BIND_SERVICE: rsyslogd listening on port 514.
# CAP_SETUID, CAP_SETGID: rsyslogd's $PrivDropToUser/$PrivDropToGroup.
# CAP_SYSLOG: rsyslogd's imklog reading the kernel log.
CapabilityBoundingSet=CAP_CHOWN CAP_DAC_OVERRIDE CAP_KILL CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_SYSLOG

[Install]
WantedBy=multi-user.target
SYSLOG_AGENT_EOF
}
# <<< embedded packaging/systemd/syslog-agent.service

# >>> embedded packaging/rsyslog/90-syslog-agent.conf (deno task embed; edit that file, not this)
emit_rsyslog() {
  cat <<'SYSLOG_AGENT_EOF'
# /etc/rsyslog.d/90-syslog-agent.conf, installed by syslog-agent's install.sh.
# Forwards every message to the local syslog-agent's TCP input
# (127.0.0.1:5514, RFC 6587 octet counting), which relays it to the central
# collectors and spools it to disk while they are away.
#
# The action has a small in-memory queue of its own, so rsyslogd never waits
# on the agent: while the agent restarts, messages wait here and are sent when
# it is back; should the queue fill, new messages are dropped at once
# (queue.timeoutEnqueue="0") instead of blocking rsyslogd and every program
# that calls syslog(). Local files are written as before.
*.* action(type="omfwd" name="syslog-agent"
           target="127.0.0.1" port="5514" protocol="tcp"
           TCP_Framing="octet-counted"
           queue.type="LinkedList" queue.size="10000"
           queue.timeoutEnqueue="0"
           action.resumeRetryCount="-1" action.resumeInterval="1")
SYSLOG_AGENT_EOF
}
# <<< embedded packaging/rsyslog/90-syslog-agent.conf

# >>> embedded packaging/logrotate/syslog-agent (deno task embed; edit that file, not this)
emit_logrotate() {
  cat <<'SYSLOG_AGENT_EOF'
# /etc/logrotate.d/syslog-agent: rotation of rsyslog's files, with the HUP
# done by syslog-agent. Replaces the distribution's /etc/logrotate.d/rsyslog
# (remove that file, or logrotate rotates these files twice).
#
# rsyslogd keeps writing to a renamed file until it gets SIGHUP. The
# distribution's postrotate (/usr/lib/rsyslog/rsyslog-rotate) sends that HUP
# and hopes: when rsyslogd dies of it, or hangs, logging stops until someone
# notices (and without systemd as PID 1 it sends no HUP at all). "agent rotate"
# sends the HUP, then proves rsyslogd survived it (same process alive and a
# canary message back through rsyslogd within a deadline), and restarts
# rsyslogd otherwise. It exits 0 when rsyslogd is healthy afterwards, 1 when it
# is not (logrotate then reports the failed script), 3 when the agent is not
# running. Needs rsyslogd.mode "child" or "external" in agent.json.
#
# The file list is Debian's: bookworm's, plus the files of older releases
# (bullseye and before: mail.info/warn/err, daemon.log, lpr.log, debug,
# messages), skipped where they do not exist. Add the files of your own rules.
/var/log/syslog
/var/log/mail.log
/var/log/mail.info
/var/log/mail.warn
/var/log/mail.err
/var/log/daemon.log
/var/log/kern.log
/var/log/auth.log
/var/log/user.log
/var/log/lpr.log
/var/log/cron.log
/var/log/debug
/var/log/messages
{
	rotate 4
	weekly
	missingok
	notifempty
	compress
	delaycompress
	sharedscripts
	postrotate
		/usr/local/bin/agent rotate
	endscript
}
SYSLOG_AGENT_EOF
}
# <<< embedded packaging/logrotate/syslog-agent

# --- arguments -------------------------------------------------------------------

# need_value OPTION COUNT: fails unless OPTION has a value after it.
need_value() {
  if [ "$2" -lt 2 ]; then usage_error "$1 needs a value"; fi
}

parse_args() {
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --*=*)
        pa_name=${1%%=*}
        pa_value=${1#*=}
        shift
        set -- "$pa_name" "$pa_value" "$@"
        continue
        ;;
      --collector)
        need_value "$1" "$#"
        check_collector "$2"
        COLLECTORS="$COLLECTORS $2"
        shift 2
        ;;
      --protocol)
        need_value "$1" "$#"
        case "$2" in
          tcp | tls | relp) PROTOCOL=$2 ;;
          *) usage_error "--protocol: expected tcp, tls or relp, got \"$2\"" ;;
        esac
        shift 2
        ;;
      --version)
        need_value "$1" "$#"
        RELEASE=${2#v}
        case "$RELEASE" in
          '' | *[!A-Za-z0-9._-]*) usage_error "--version: expected a version like 0.1.0, got \"$2\"" ;;
        esac
        shift 2
        ;;
      --base-url)
        need_value "$1" "$#"
        BASE_URL=$2
        shift 2
        ;;
      --binary)
        need_value "$1" "$#"
        BINARY=$2
        shift 2
        ;;
      --sha256sums | --sha256SUMS)
        need_value "$1" "$#"
        SUMS_FILE=$2
        shift 2
        ;;
      --arch)
        need_value "$1" "$#"
        case "$2" in
          x86_64 | aarch64) ARCH=$2 ;;
          *) usage_error "--arch: expected x86_64 or aarch64, got \"$2\"" ;;
        esac
        shift 2
        ;;
      --root)
        need_value "$1" "$#"
        ROOT=$2
        shift 2
        ;;
      --dry-run)
        DRY_RUN=1
        shift
        ;;
      --no-start)
        NO_START=1
        shift
        ;;
      --uninstall)
        UNINSTALL=1
        shift
        ;;
      --purge)
        UNINSTALL=1
        PURGE=1
        shift
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      *) usage_error "unknown option \"$1\"" ;;
    esac
  done

  if [ -n "$ROOT" ]; then
    case "$ROOT" in
      /*) ;;
      *) ROOT="$(pwd)/$ROOT" ;;
    esac
    while [ "$ROOT" != "${ROOT%/}" ]; do ROOT=${ROOT%/}; done
  fi
  if [ -n "$SUMS_FILE" ] && [ -z "$BINARY" ]; then
    usage_error "--sha256sums goes with --binary (downloads are always verified)"
  fi
  if [ -n "$BINARY" ] && { [ -n "$RELEASE" ] || [ -n "$BASE_URL" ]; }; then
    usage_error "--binary installs a local file: drop --version and --base-url"
  fi
  if [ -n "$RELEASE" ] && [ -n "$BASE_URL" ]; then
    usage_error "--version picks a release at the default location; with --base-url, give the URL of that release's files instead"
  fi
  if [ -z "$BASE_URL" ] && [ -z "$RELEASE" ]; then BASE_URL=${SYSLOG_AGENT_BASE_URL:-}; fi
}

# check_collector HOST:PORT: fails with the expected form unless it is one.
check_collector() {
  cc_host=${1%:*}
  cc_port=${1##*:}
  cc_ok=1
  case "$1" in *:*) ;; *) cc_ok=0 ;; esac
  case "$cc_host" in
    '') cc_ok=0 ;;
    \[*\]) case "$cc_host" in \[*[!0-9A-Fa-f:.]*\] | \[\]) cc_ok=0 ;; esac ;;
    *[!A-Za-z0-9._-]*) cc_ok=0 ;;
  esac
  case "$cc_port" in
    '' | *[!0-9]* | ??????*) cc_ok=0 ;;
    *) if [ "$cc_port" -lt 1 ] || [ "$cc_port" -gt 65535 ]; then cc_ok=0; fi ;;
  esac
  if [ "$cc_ok" -eq 0 ]; then
    usage_error "--collector: expected HOST:PORT (like logs.example.org:514 or [2001:db8::1]:514), got \"$1\""
  fi
}

# --- helpers -------------------------------------------------------------------

# sha256_of FILE: prints FILE's SHA-256 in hex.
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{ print $1 }'
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | awk '{ print $1 }'
  else
    openssl dgst -sha256 -r "$1" | awk '{ print $1 }'
  fi
}

need_sha256_tool() {
  if ! command -v sha256sum >/dev/null 2>&1 && ! command -v shasum >/dev/null 2>&1 &&
    ! command -v openssl >/dev/null 2>&1; then
    die "cannot verify checksums: install sha256sum (coreutils), shasum or openssl"
  fi
}

# same_file A B: true when both files exist with the same content.
same_file() {
  [ -f "$1" ] && [ -f "$2" ] && [ "$(sha256_of "$1")" = "$(sha256_of "$2")" ]
}

# mode_of PATH: permission bits in octal, like 755.
mode_of() {
  stat -c '%a' "$1"
}

changed() { CHANGES=$((CHANGES + 1)); }

# fetch URL FILE: downloads URL to FILE with curl or wget; fails on HTTP errors.
fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 --connect-timeout 15 --max-time 600 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q --tries=3 --timeout=15 -O "$2" "$1"
  else
    die "cannot download: install curl or wget, or use --binary PATH with a file copied here"
  fi
}

# expected_sum SUMS NAME: the hex digest SUMS (sha256sum format) lists for NAME.
expected_sum() {
  awk -v name="$2" '$2 == name || $2 == "*" name { print $1; exit }' "$1"
}

# verify FILE SUMS NAME WHERE: fails unless FILE's SHA-256 is the one SUMS (found
# at WHERE) lists for NAME.
verify() {
  v_want=$(expected_sum "$2" "$3")
  case "$v_want" in
    '') die "checksum: $4 has no entry for $3; nothing was installed" ;;
  esac
  v_got=$(sha256_of "$1")
  if [ "$v_got" != "$v_want" ]; then
    die "checksum mismatch for $3: SHA256SUMS says $v_want, the file is $v_got; nothing was installed"
  fi
  say "verified: $3 sha256 $v_got"
}

detect_arch() {
  if [ -n "$ARCH" ]; then return 0; fi
  da_machine=$(uname -m)
  case "$da_machine" in
    x86_64 | amd64) ARCH=x86_64 ;;
    aarch64 | arm64) ARCH=aarch64 ;;
    *) die "no agent build for this machine ($da_machine): builds exist for x86_64 and aarch64 Linux" ;;
  esac
}

# put_file SRC DEST MODE: installs SRC's content at $ROOT/DEST with MODE
# (octal, like 755), through a temporary file in the same directory and a
# rename, so DEST is never seen half written. Says what it did.
put_file() {
  pf_dest="$ROOT$2"
  if [ -f "$pf_dest" ] && same_file "$1" "$pf_dest"; then
    if [ "$(mode_of "$pf_dest")" = "$3" ]; then
      say "unchanged: $pf_dest"
      return 1
    fi
    if [ "$DRY_RUN" -eq 1 ]; then
      say "would update: $pf_dest (mode 0$3)"
    else
      chmod "$3" "$pf_dest"
      say "updated: $pf_dest (mode 0$3)"
    fi
    changed
    return 0
  fi
  if [ -e "$pf_dest" ]; then pf_verb=updated; else pf_verb=installed; fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would ${pf_verb%ed}: $pf_dest (0$3)"
    changed
    return 0
  fi
  pf_dir=$(dirname "$pf_dest")
  mkdir -p "$pf_dir"
  PARTIAL=$(mktemp "$pf_dir/.$(basename "$pf_dest").XXXXXX")
  cat "$1" >"$PARTIAL"
  chmod "$3" "$PARTIAL"
  mv -f "$PARTIAL" "$pf_dest"
  PARTIAL=""
  say "$pf_verb: $pf_dest (0$3)"
  changed
  return 0
}

# put_dir DIR MODE: creates $ROOT/DIR with MODE when it is missing.
put_dir() {
  if [ -d "$ROOT$1" ]; then
    say "unchanged: $ROOT$1"
    return 0
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would create: $ROOT$1 (0$2)"
  else
    mkdir -p "$ROOT$1"
    chmod "$2" "$ROOT$1"
    say "created: $ROOT$1 (0$2)"
  fi
  changed
}

# remove PATH: removes $ROOT/PATH (a file or a symlink).
remove() {
  if [ ! -e "$ROOT$1" ] && [ ! -L "$ROOT$1" ]; then
    say "unchanged: $ROOT$1 is not there"
    return 1
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would remove: $ROOT$1"
  else
    rm -f "$ROOT$1"
    say "removed: $ROOT$1"
  fi
  changed
  return 0
}

# remove_tree DIR: removes $ROOT/DIR and everything in it.
remove_tree() {
  if [ ! -e "$ROOT$1" ]; then
    say "unchanged: $ROOT$1 is not there"
    return 0
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would remove: $ROOT$1 (and everything in it)"
  else
    rm -rf "$ROOT$1"
    say "removed: $ROOT$1"
  fi
  changed
}

# systemd runs this host, and this run may start and stop services.
manages_services() {
  [ -z "$ROOT" ] && [ "$DRY_RUN" -eq 0 ] && [ -d /run/systemd/system ]
}

need_root() {
  if [ -z "$ROOT" ] && [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "must run as root: it writes /usr/local/bin, /etc and /var/spool. Run it with sudo (curl ... | sudo sh -s -- ...), or give --root DIR to stage the files into a directory"
  fi
}

# --- install -------------------------------------------------------------------

# get_binary: the agent binary, verified, at $WORK_DIR/agent.
get_binary() {
  if [ -n "$BINARY" ]; then
    if [ ! -f "$BINARY" ]; then die "--binary: no such file: $BINARY"; fi
    cp "$BINARY" "$WORK_DIR/agent"
    if [ -n "$SUMS_FILE" ]; then
      if [ ! -f "$SUMS_FILE" ]; then die "--sha256sums: no such file: $SUMS_FILE"; fi
      need_sha256_tool
      gb_name=$(basename "$BINARY")
      if [ -z "$(expected_sum "$SUMS_FILE" "$gb_name")" ]; then gb_name="agent-$TARGET"; fi
      verify "$WORK_DIR/agent" "$SUMS_FILE" "$gb_name" "$SUMS_FILE"
    else
      say "not verified: $BINARY (no --sha256sums given)"
    fi
    return 0
  fi
  need_sha256_tool
  if [ -n "$BASE_URL" ]; then
    gb_base=${BASE_URL%/}
  elif [ -n "$RELEASE" ]; then
    gb_base="$DEFAULT_RELEASES/download/v$RELEASE"
  else
    gb_base="$DEFAULT_RELEASES/latest/download"
  fi
  gb_name="agent-$TARGET"
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would download: $gb_base/$gb_name and $gb_base/SHA256SUMS, and verify the checksum"
    return 1
  fi
  say "downloading: $gb_base/$gb_name"
  if ! fetch "$gb_base/$gb_name" "$WORK_DIR/agent"; then
    die "download failed: $gb_base/$gb_name; nothing was installed"
  fi
  if ! fetch "$gb_base/SHA256SUMS" "$WORK_DIR/SHA256SUMS"; then
    die "download failed: $gb_base/SHA256SUMS; nothing was installed"
  fi
  verify "$WORK_DIR/agent" "$WORK_DIR/SHA256SUMS" "$gb_name" "$gb_base/SHA256SUMS"
  return 0
}

# write_config FILE: the initial config, from --collector and --protocol.
write_config() {
  {
    printf '{\n  "collectors": [\n'
    wc_first=1
    for wc_address in $COLLECTORS; do
      if [ "$wc_first" -eq 0 ]; then printf ',\n'; fi
      wc_first=0
      printf '    { "address": "%s", "protocol": "%s" }' "$wc_address" "${PROTOCOL:-tcp}"
    done
    printf '\n  ]\n}\n'
  } >"$1"
}

install_config() {
  if [ -e "$ROOT$CONF_PATH" ]; then
    if [ -n "$COLLECTORS" ] || [ -n "$PROTOCOL" ]; then
      say "unchanged: $ROOT$CONF_PATH (exists, so --collector and --protocol were not applied: an existing config is never overwritten)"
    else
      say "unchanged: $ROOT$CONF_PATH"
    fi
    return 0
  fi
  put_dir "$CONF_DIR" 755
  write_config "$WORK_DIR/agent.json"
  put_file "$WORK_DIR/agent.json" "$CONF_PATH" 644 || true
}

# install_logrotate: the logrotate snippet, unless the distribution's own
# rotation of the same files is in place. logrotate refuses a second entry for
# a file (it skips our snippet and fails every run), and ours relies on
# "agent rotate", which needs rsyslogd.mode "child" or "external": switching is
# the operator's decision, so it is said, not done.
install_logrotate() {
  emit_logrotate >"$WORK_DIR/logrotate"
  if [ -e "$ROOT$DISTRO_LOGROTATE" ]; then
    if [ -e "$ROOT$LOGROTATE_PATH" ]; then
      put_file "$WORK_DIR/logrotate" "$LOGROTATE_PATH" 644 || true
      warn "both $ROOT$LOGROTATE_PATH and $ROOT$DISTRO_LOGROTATE rotate rsyslog's files: logrotate skips the second and reports an error; remove one of them"
    else
      say "skipped: $ROOT$LOGROTATE_PATH ($ROOT$DISTRO_LOGROTATE rotates those files). To have the agent HUP rsyslogd and prove it survived: set rsyslogd.mode to \"child\" or \"external\" in $CONF_PATH, remove $DISTRO_LOGROTATE, and run install.sh again"
    fi
    return 0
  fi
  put_file "$WORK_DIR/logrotate" "$LOGROTATE_PATH" 644 || true
}

# start_services: enables and (re)starts the agent; reloads rsyslog's config.
start_services() {
  if ! "$BIN_PATH" check-config "$CONF_PATH" </dev/null; then
    die "$CONF_PATH is not valid (see above): fix it, then run: systemctl enable --now $UNIT_NAME"
  fi
  if [ "$UNIT_CHANGED" -eq 1 ]; then
    systemctl daemon-reload
    say "reloaded: systemd units"
  fi
  if ! systemctl is-enabled --quiet "$UNIT_NAME" 2>/dev/null; then
    systemctl enable --quiet "$UNIT_NAME"
    say "enabled: $UNIT_NAME"
    changed
  fi
  if systemctl is-active --quiet "$UNIT_NAME"; then
    if [ "$BIN_CHANGED" -eq 1 ] || [ "$UNIT_CHANGED" -eq 1 ]; then
      systemctl restart "$UNIT_NAME"
      say "restarted: $UNIT_NAME"
    else
      say "unchanged: $UNIT_NAME is running"
    fi
  else
    systemctl start "$UNIT_NAME"
    say "started: $UNIT_NAME"
    changed
  fi
  if [ "$RSYSLOG_CHANGED" -eq 1 ]; then
    if ! systemctl is-active --quiet rsyslog.service; then
      say "note: rsyslog.service is not running; $RSYSLOG_PATH takes effect when it starts"
    elif command -v rsyslogd >/dev/null 2>&1 && ! rsyslogd -N1 >/dev/null 2>&1; then
      warn "rsyslogd -N1 finds a problem in the rsyslog config (run it to see): rsyslog.service was not restarted; fix it, then: systemctl restart rsyslog"
    else
      systemctl restart rsyslog.service
      say "restarted: rsyslog.service (to load $RSYSLOG_PATH)"
    fi
  fi
}

do_install() {
  if [ -z "$COLLECTORS" ] && [ ! -e "$ROOT$CONF_PATH" ]; then
    usage_error "no $ROOT$CONF_PATH yet: give the central collector with --collector HOST:PORT"
  fi
  detect_arch
  TARGET="$ARCH-unknown-linux-gnu"
  # Everything is fetched and verified before anything is written.
  if get_binary; then
    if [ -z "$ROOT" ] && [ "$DRY_RUN" -eq 0 ]; then
      chmod 755 "$WORK_DIR/agent"
      if ! gi_version=$("$WORK_DIR/agent" version 2>&1 </dev/null); then
        die "the agent binary does not run on this host: $gi_version; nothing was installed"
      fi
      say "binary: $(printf '%s' "$gi_version" | tr '\n' ' ')"
    fi
    if put_file "$WORK_DIR/agent" "$BIN_PATH" 755; then BIN_CHANGED=1; fi
  else
    say "would install: $ROOT$BIN_PATH (0755)"
    changed
  fi
  emit_unit >"$WORK_DIR/unit"
  if put_file "$WORK_DIR/unit" "$UNIT_PATH" 644; then UNIT_CHANGED=1; fi
  install_logrotate
  emit_rsyslog >"$WORK_DIR/rsyslog"
  if put_file "$WORK_DIR/rsyslog" "$RSYSLOG_PATH" 644; then RSYSLOG_CHANGED=1; fi
  install_config
  put_dir "$SPOOL_DIR" 750

  if [ "$DRY_RUN" -eq 1 ]; then
    say "dry run: nothing was changed ($CHANGES change(s) planned)"
    return 0
  fi
  if [ -n "$ROOT" ]; then
    say "staged into $ROOT; nothing was started. On the host: systemctl daemon-reload && systemctl enable --now $UNIT_NAME && systemctl restart rsyslog"
  elif [ "$NO_START" -eq 1 ]; then
    say "not started (--no-start). Next: systemctl daemon-reload && systemctl enable --now $UNIT_NAME && systemctl restart rsyslog; then: agent status"
  elif ! manages_services; then
    say "systemd is not running on this host (no /run/systemd/system): start the agent with your init system: $BIN_PATH run --config $CONF_PATH; then: agent status"
  else
    start_services
    say "done. Check it with: agent status"
  fi
  if [ "$CHANGES" -eq 0 ]; then
    say "nothing to do: syslog-agent is installed as asked"
  fi
}

# --- uninstall -----------------------------------------------------------------

do_uninstall() {
  if manages_services && [ -e "$UNIT_PATH" ]; then
    systemctl disable --now --quiet "$UNIT_NAME" || warn "systemctl disable --now $UNIT_NAME failed; removing the files anyway"
    say "stopped and disabled: $UNIT_NAME"
  fi
  un_rsyslog=0
  remove "$BIN_PATH" || true
  un_unit=0
  if remove "$UNIT_PATH"; then un_unit=1; fi
  # Left by "systemctl enable" when a staged root was enabled offline.
  if [ -e "$ROOT$WANTS_LINK" ] || [ -L "$ROOT$WANTS_LINK" ]; then remove "$WANTS_LINK" || true; fi
  if remove "$LOGROTATE_PATH" && [ ! -e "$ROOT$DISTRO_LOGROTATE" ]; then
    say "note: rsyslog's log files are no longer rotated ($ROOT$DISTRO_LOGROTATE is gone too): restore it, e.g. apt-get install --reinstall -o Dpkg::Options::=--force-confmiss rsyslog"
  fi
  if remove "$RSYSLOG_PATH"; then un_rsyslog=1; fi
  if [ "$PURGE" -eq 1 ]; then
    remove_tree "$CONF_DIR"
    remove_tree "$SPOOL_DIR"
  else
    if [ -e "$ROOT$CONF_DIR" ]; then say "kept: $ROOT$CONF_DIR (--purge removes it)"; fi
    if [ -e "$ROOT$SPOOL_DIR" ]; then say "kept: $ROOT$SPOOL_DIR (--purge removes it)"; fi
  fi
  if manages_services; then
    if [ "$un_unit" -eq 1 ]; then systemctl daemon-reload; fi
    if [ "$un_rsyslog" -eq 1 ] && systemctl is-active --quiet rsyslog.service; then
      systemctl restart rsyslog.service
      say "restarted: rsyslog.service (without $RSYSLOG_PATH)"
    fi
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "dry run: nothing was changed ($CHANGES change(s) planned)"
  elif [ "$CHANGES" -eq 0 ]; then
    say "nothing to do: syslog-agent is not installed"
  else
    say "syslog-agent removed"
  fi
}

main() {
  parse_args "$@"
  need_root
  trap cleanup EXIT
  trap 'cleanup; exit 130' INT
  trap 'cleanup; exit 143' TERM
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/syslog-agent-install.XXXXXX")
  if [ "$DRY_RUN" -eq 1 ]; then say "dry run: showing what would be done"; fi
  if [ "$UNINSTALL" -eq 1 ]; then
    do_uninstall
  else
    do_install
  fi
}

main "$@"
