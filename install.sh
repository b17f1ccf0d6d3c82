#!/bin/sh
# install.sh: installs, upgrades or removes syslog-agent on a Linux host.
#
#   curl -fsSL https://<release host>/install.sh | sh -s -- --collector logs.example.org:514
#
# Installs rsyslog (and its RELP module) with the host's package manager where
# rsyslogd is missing (Debian 12 and Fedora do not install it by default), then
# puts the agent binary at /usr/local/bin/agent, a commented config at
# /etc/syslog-agent/agent.json (only when there is none), the systemd unit,
# the rsyslog snippets (the local hop to the agent, over RELP where rsyslog's
# RELP module exists; the watchdog's probe socket; where rsyslog reads the
# journal with imjournal, journald's syslog socket), creates the spool
# directory, takes over the distribution's logrotate entry for rsyslog's files
# (so that "agent rotate" does the HUP), labels the local hop's port for
# SELinux, and starts the service when systemd runs this host. The
# distribution is told by /etc/os-release (ID, ID_LIKE, VERSION_ID). Every
# change outside the agent's own files is printed, and --uninstall undoes it
# (packages it installed are removed again: /var/lib/syslog-agent/install-state
# records them). Running it again changes only what differs, and applies it
# (restart, or reload when that is enough).
# Run with --help for the options. POSIX sh; needs curl or wget for downloads,
# sha256sum (or shasum, or openssl) and openssl 3 to verify them.
#
# The unit and the snippets below are copies of the files in packaging/,
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
# Lifts MemoryDenyWriteExecute= for logrotate.service, whose postrotate runs the agent.
LOGROTATE_DROPIN=/etc/systemd/system/logrotate.service.d/syslog-agent.conf
# The distribution's rotation of rsyslog's files: /etc/logrotate.d/rsyslog on
# Debian, Ubuntu and RHEL 9's rsyslog-logrotate, /etc/logrotate.d/syslog on
# RHEL 8 and older Fedora (pick_distro_logrotate), and where it is moved aside
# to (that name plus .syslog-agent.disabled: logrotate skips names ending in
# .disabled).
DISTRO_LOGROTATE_NAMES="/etc/logrotate.d/rsyslog /etc/logrotate.d/syslog"
DISTRO_LOGROTATE=/etc/logrotate.d/rsyslog
DIVERTED_LOGROTATE=/etc/logrotate.d/rsyslog.syslog-agent.disabled
# The first line of what stands at $DISTRO_LOGROTATE on hosts without dpkg.
LOGROTATE_STUB_MARK="# syslog-agent: moved aside by install.sh"
RSYSLOG_PATH=/etc/rsyslog.d/90-syslog-agent.conf
PROBE_PATH=/etc/rsyslog.d/91-syslog-agent-probe.conf
PROBE_SOCKET=/run/syslog-agent-probe.sock
# Where rsyslog reads the journal with imjournal (RHEL, Fedora): journald's
# syslog socket read for the agent, and journald told to forward to it.
JOURNAL_PATH=/etc/rsyslog.d/89-syslog-agent-journal.conf
JOURNALD_DROPIN=/etc/systemd/journald.conf.d/syslog-agent.conf
# What install.sh changed on the host beyond its own files (packages it
# installed, SELinux port labels), for --uninstall to undo.
STATE_DIR=/var/lib/syslog-agent
STATE_PATH=/var/lib/syslog-agent/install-state
# The local hop's ports (the agent's RELP and TCP inputs for rsyslogd).
RELP_PORT=2514
TCP_PORT=5514
SPOOL_DIR=/var/spool/syslog-agent
DEFAULT_RELEASES=https://github.com/syslog-agent/syslog-agent/releases
# Where rsyslog's modules live (Debian/Ubuntu multiarch, RHEL, others).
RSYSLOG_MODULE_DIRS="/usr/lib/x86_64-linux-gnu/rsyslog /usr/lib/aarch64-linux-gnu/rsyslog /usr/lib64/rsyslog /usr/lib/rsyslog"

# The release signing key (ed25519). SHA256SUMS.sig is this key's signature
# of SHA256SUMS; its private half is a secret of the release workflow
# (.github/workflows/release.yml), never in the repository.
RELEASE_KEY='-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAxngVHWSvu8Y0YBrZZizRwZQuHb1yf6Ki0o5TEUxS2Nw=
-----END PUBLIC KEY-----'

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
TRUSTED_KEY=""
INSECURE_HTTP=0
WATCHDOG=1
ROTATE=1
RELP=auto
RSYSLOG_INSTALL=1

# --- state ---------------------------------------------------------------------
WORK_DIR=""
PARTIAL=""
CHANGES=0
BIN_CHANGED=0
UNIT_CHANGED=0
CONF_CHANGED=0
RSYSLOG_CHANGED=0
DROPIN_CHANGED=0
JOURNALD_CHANGED=0
# Lines saying what was changed outside the agent's own files.
OUTSIDE=""
# The distribution (detect_os): /etc/os-release's ID, ID_LIKE, VERSION_ID,
# PRETTY_NAME; FAMILY debian, rhel, suse or other; PKG its package manager.
OS_ID=""
OS_LIKE=""
OS_VERSION=""
OS_NAME=""
FAMILY=other
PKG=""
# 1 when this host has no rsyslogd and --no-rsyslog-install left it so.
NO_RSYSLOG=0
# 1 when this run installs rsyslog's RELP module (so omrelp will be there).
OMRELP_PLANNED=0
# 1 when the journal hop is used (89-syslog-agent-journal.conf).
JOURNAL_HOP=0
# Why the local hop is not RELP (choose_hop), for the config's comment.
RELP_WHY="rsyslog's RELP module is missing"
# SELinux on the target: Enforcing, Permissive, or empty (off or absent).
SELINUX=""
# With --root: the commands the host still needs, joined with " && ".
HOST_NEXT=""
# The paths (without $ROOT) this run wrote or would write, for restorecon.
WRITTEN=""
# The state file's lines (STATE_PATH), as read at the start and added to.
STATE=""

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
  --base-url URL          https:// directory holding agent-<target>,
                          SHA256SUMS and SHA256SUMS.sig (default: the
                          release's download location; or set
                          SYSLOG_AGENT_BASE_URL)
  --binary PATH           install this agent binary instead of downloading
                          (air-gapped hosts)
  --sha256sums FILE       verify --binary against this SHA256SUMS file and
                          its signature FILE.sig
  --trusted-key FILE      trust SHA256SUMS signed by this ed25519 public key
                          (PEM) instead of the release key: your own builds
                          or tests. Prints a warning.
  --insecure-http         allow a plain http:// --base-url (the signature
                          still has to verify)
  --arch x86_64|aarch64   target architecture (default: uname -m)
  --no-start              install, but do not enable or start the service

What the default install does to protect the host, and how to leave each out:
  --no-watchdog           the agent does not watch rsyslog.service (a new
                          config gets no rsyslogd section) and no probe
                          socket; implies --no-logrotate
  --no-logrotate          keep the distribution's /etc/logrotate.d/rsyslog
                          instead of diverting it to one whose postrotate
                          runs "agent rotate"
  --no-relp               the local hop rsyslogd -> agent over plain TCP even
                          where rsyslog's RELP module exists
  --with-relp             install rsyslog's RELP module (rsyslog-relp) with
                          the host's package manager when it is missing
  --no-rsyslog-install    where rsyslogd is missing, do not install rsyslog
                          (and its RELP module) with the package manager:
                          the agent then receives nothing unless something
                          sends to its inputs (127.0.0.1:5514 TCP and UDP)

Remove:
  --uninstall             remove the binary, unit and snippets, put the
                          distribution's logrotate entry back, remove the
                          packages and SELinux port labels install.sh added;
                          keep the config and the spool
  --purge                 --uninstall, and remove the config and the spool too

Both:
  --root DIR              work in a staging root instead of / (packagers, tests;
                          nothing is started or installed, root is not
                          needed; DIR/etc/os-release tells the distribution,
                          and the commands the host still needs are printed)
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
# stop WHAT: a write failed part way. What is printed above was done; the
# file being written is removed; the service is not touched.
stop() {
  die "$*; stopped here: the lines above say what was already done, nothing after it was changed, and the running agent (if any) was not restarted"
}
# outside LINE: records (and prints) a change to something not the agent's own.
outside() {
  say "$1"
  OUTSIDE="$OUTSIDE
  $1"
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
# Restart=always means always: never give up after a burst of failures...
StartLimitIntervalSec=0

[Service]
Type=notify
NotifyAccess=main
WatchdogSec=30s
ExecStart=/usr/local/bin/agent run --config /etc/syslog-agent/agent.json
ExecReload=/usr/local/bin/agent reload
Restart=always
RestartSec=1s
# ...except a config error (exit code 2, logged at priority err): restarting
# cannot fix it, so the unit fails at once instead of retrying every second
# forever. Fix the config (agent check-config), then systemctl restart.
RestartPreventExitStatus=2
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
# The whole file system is read-only except these. ProtectSystem=strict
# leaves the API file systems writable, /dev, /proc and /sys, and /run too
# (systemd 252 does not make it read-only): ReadOnlyPaths=/run does, and
# RuntimeDirectory= (/run/syslog-agent) stays writable, as systemd mounts it
# after. systemd has no SpoolDirectory=, and StateDirectory= would put the
# spool under /var/lib, so the spool is a ReadWritePaths= entry;
# ExecStartPre= (run outside the sandbox, "+") creates it when missing so that
# the namespace can be set up. A spool.dir elsewhere needs a drop-in with
# ReadWritePaths= for it. So does rsyslogd.mode "child": the child rsyslogd
# creates its sockets in /run (under systemd its system socket
# /run/systemd/journal/syslog, which syslog.socket holds otherwise, and the
# watchdog's probe socket): systemctl edit syslog-agent, [Service]
# ReadWritePaths=/run.
ProtectSystem=strict
ReadOnlyPaths=/run
ExecStartPre=+/bin/mkdir -p -m 0750 /var/spool/syslog-agent
ReadWritePaths=/var/spool/syslog-agent
# For a child rsyslogd: its log files and its work directory ("-": optional).
ReadWritePaths=-/var/log -/var/spool/rsyslog -/var/lib/rsyslog
ProtectHome=yes
PrivateTmp=yes
PrivateMounts=yes
# Not PrivateDevices=: a child rsyslogd creates /dev/log, which must be the
# host's (the agent puts journald's /dev/log symlink back when it stops), and
# writes emergency messages to users' terminals. The device cgroup allows
# only that instead.
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
emit_rsyslog_tcp() {
  cat <<'SYSLOG_AGENT_EOF'
# /etc/rsyslog.d/90-syslog-agent.conf, installed by syslog-agent's install.sh
# where rsyslog's RELP module (omrelp) is missing. Forwards every message to
# the local syslog-agent's TCP input (127.0.0.1:5514, RFC 6587 octet
# counting), which relays it to the central collectors and spools it to disk
# while they are away.
#
# Plain TCP has no acknowledgement: what sat in the connection when the agent
# restarted is lost (measured: 25 of 60,000 messages at 3,000 a second over two
# agent restarts). With rsyslog-relp installed, install.sh puts the RELP
# variant here instead (packaging/rsyslog/90-syslog-agent-relp.conf).
#
# The action has a small in-memory queue of its own, so rsyslogd never waits
# on the agent: while the agent restarts, messages wait here and are sent when
# it is back; should the queue fill, new messages are dropped at once
# (queue.timeoutEnqueue="0") instead of blocking rsyslogd and every program
# that calls syslog(). Local files are written as before.
#
# The action sits in a ruleset of its own, which the watchdog's probe socket
# (91-syslog-agent-probe.conf) feeds directly: canaries take the same queue
# and action as every other message, and never reach the local files.
ruleset(name="syslog-agent") {
  action(type="omfwd" name="syslog-agent"
         target="127.0.0.1" port="5514" protocol="tcp"
         TCP_Framing="octet-counted"
         queue.type="LinkedList" queue.size="10000"
         queue.timeoutEnqueue="0"
         action.resumeRetryCount="-1" action.resumeInterval="1")
}
# Every message goes to the agent, but those 89-syslog-agent-journal.conf
# marks: on hosts where rsyslog reads the journal with imjournal (RHEL, Fedora)
# the agent takes the journal's messages from journald's syslog socket instead,
# where imjournal's rate limit cannot drop them. Elsewhere nothing is marked.
if $.syslog_agent != "via-journald" then call syslog-agent
# Canaries sent through /dev/log instead (a probe.target of unix:///dev/log)
# have been forwarded by now: keep them out of the files the rules after this
# one write. On hosts whose own rules sort before this file (Ubuntu's
# 50-default.conf) they still land there; the default probe socket avoids that.
:msg, contains, "agent-canary-" stop
SYSLOG_AGENT_EOF
}
# <<< embedded packaging/rsyslog/90-syslog-agent.conf

# >>> embedded packaging/rsyslog/90-syslog-agent-relp.conf (deno task embed; edit that file, not this)
emit_rsyslog_relp() {
  cat <<'SYSLOG_AGENT_EOF'
# /etc/rsyslog.d/90-syslog-agent.conf, installed by syslog-agent's install.sh
# where rsyslog's RELP module (omrelp, package rsyslog-relp) is present.
# Forwards every message over RELP to the local syslog-agent's RELP input
# (127.0.0.1:2514), which relays it to the central collectors and spools it
# to disk while they are away. RELP acknowledges each message: what was in
# flight when the agent restarted is sent again, not lost.
#
# The action has a small in-memory queue of its own, so rsyslogd never waits
# on the agent: while the agent restarts, messages wait here and are sent when
# it is back; should the queue fill, new messages are dropped at once
# (queue.timeoutEnqueue="0") instead of blocking rsyslogd and every program
# that calls syslog(). Local files are written as before.
#
# windowSize="1024": with librelp's default of 128, omrelp stalls for about
# 200 ms each time its window fills on loopback, which caps it near 700
# messages a second.
#
# The action sits in a ruleset of its own, which the watchdog's probe socket
# (91-syslog-agent-probe.conf) feeds directly: canaries take the same queue
# and action as every other message, and never reach the local files.
module(load="omrelp")
ruleset(name="syslog-agent") {
  action(type="omrelp" name="syslog-agent" target="127.0.0.1" port="2514"
         windowSize="1024"
         queue.type="LinkedList" queue.size="10000"
         queue.timeoutEnqueue="0"
         action.resumeRetryCount="-1" action.resumeInterval="1")
}
# Every message goes to the agent, but those 89-syslog-agent-journal.conf
# marks: on hosts where rsyslog reads the journal with imjournal (RHEL, Fedora)
# the agent takes the journal's messages from journald's syslog socket instead,
# where imjournal's rate limit cannot drop them. Elsewhere nothing is marked.
if $.syslog_agent != "via-journald" then call syslog-agent
# Canaries sent through /dev/log instead (a probe.target of unix:///dev/log)
# have been forwarded by now: keep them out of the files the rules after this
# one write. On hosts whose own rules sort before this file (Ubuntu's
# 50-default.conf) they still land there; the default probe socket avoids that.
:msg, contains, "agent-canary-" stop
SYSLOG_AGENT_EOF
}
# <<< embedded packaging/rsyslog/90-syslog-agent-relp.conf

# >>> embedded packaging/rsyslog/91-syslog-agent-probe.conf (deno task embed; edit that file, not this)
emit_rsyslog_probe() {
  cat <<'SYSLOG_AGENT_EOF'
# /etc/rsyslog.d/91-syslog-agent-probe.conf, installed by syslog-agent's
# install.sh (not with --no-watchdog). The socket the agent's watchdog sends
# its canaries to (rsyslogd.probe.target "unix:///run/syslog-agent-probe.sock"):
# each canary goes through rsyslogd's main queue and the "syslog-agent"
# forwarding action of 90-syslog-agent.conf back to the agent, which proves
# rsyslogd is processing messages.
#
# Not /dev/log: under systemd that socket is journald's, which stores every
# canary (one line per probe interval) before rsyslogd sees it. Messages on
# this socket go to the "syslog-agent" ruleset only: never to the journal nor
# to the local files. Not under /run/syslog-agent/: systemd empties that
# directory whenever the agent stops, and rsyslogd creates this socket only
# when it starts. Needs imuxsock loaded, as every distribution's rsyslog.conf
# does.
input(type="imuxsock" Socket="/run/syslog-agent-probe.sock"
      ruleset="syslog-agent" RateLimit.Interval="0")
SYSLOG_AGENT_EOF
}
# <<< embedded packaging/rsyslog/91-syslog-agent-probe.conf

# >>> embedded packaging/rsyslog/89-syslog-agent-journal.conf (deno task embed; edit that file, not this)
emit_rsyslog_journal() {
  cat <<'SYSLOG_AGENT_EOF'
# /etc/rsyslog.d/89-syslog-agent-journal.conf, installed by syslog-agent's
# install.sh where rsyslog reads the journal with imjournal and not journald's
# syslog socket (RHEL, Rocky, Alma, Fedora: rsyslog.conf loads imjournal and
# imuxsock with SysSock.Use="off"), together with
# /etc/systemd/journald.conf.d/syslog-agent.conf (ForwardToSyslog=yes).
#
# Why: imjournal has a rate limit, 20,000 messages per 10 minutes by default
# (Ratelimit.Interval="600", Ratelimit.Burst="20000"); past it, messages are
# dropped until the interval ends. It is a parameter of the module, set where
# rsyslog.conf loads it, and rsyslog refuses a second module(load="imjournal")
# from rsyslog.d ("module 'imjournal' already in this config, cannot be
# added"): raising it means editing the distribution's rsyslog.conf. Instead,
# the agent's feed does not depend on it: journald forwards every message it
# gets from syslog(3), the journal API and services' stdout to its syslog
# socket, as Debian's journald does by default, and this input reads that
# socket straight into the "syslog-agent" ruleset of 90-syslog-agent.conf.
# The same messages still come in through imjournal and go to the local files
# as before (imjournal's limit applies to those, as it did), but
# 90-syslog-agent.conf does not forward that copy: the rule below marks it.
# Messages journald does not forward (the kernel's, the audit's) have no mark
# and still reach the agent through imjournal.
#
# journald drops forwarded messages when this socket's buffer is full
# ("Forwarding to syslog missed N messages" in its log), as on Debian; its own
# rate limit (RateLimitBurst= per service) applies before the journal too.
input(type="imuxsock" Socket="/run/systemd/journal/syslog"
      ruleset="syslog-agent" RateLimit.Interval="0")
if $inputname == "imjournal" and ($!_TRANSPORT == "syslog" or $!_TRANSPORT == "journal"
    or $!_TRANSPORT == "stdout") then {
  set $.syslog_agent = "via-journald";
}
SYSLOG_AGENT_EOF
}
# <<< embedded packaging/rsyslog/89-syslog-agent-journal.conf

# >>> embedded packaging/journald/syslog-agent.conf (deno task embed; edit that file, not this)
emit_journald_dropin() {
  cat <<'SYSLOG_AGENT_EOF'
# /etc/systemd/journald.conf.d/syslog-agent.conf, installed by syslog-agent's
# install.sh with /etc/rsyslog.d/89-syslog-agent-journal.conf, where rsyslog
# reads the journal with imjournal (RHEL, Fedora); install.sh --uninstall
# removes it and restarts systemd-journald.
#
# journald then forwards what it receives to /run/systemd/journal/syslog, as
# Debian's journald does by default, where rsyslogd takes it for the agent
# without going through imjournal's rate limit (20,000 messages per 10
# minutes by default): see 89-syslog-agent-journal.conf. The journal itself
# and the local files are unchanged.
[Journal]
ForwardToSyslog=yes
SYSLOG_AGENT_EOF
}
# <<< embedded packaging/journald/syslog-agent.conf

# >>> embedded packaging/logrotate/logrotate.service.conf (deno task embed; edit that file, not this)
emit_logrotate_dropin() {
  cat <<'SYSLOG_AGENT_EOF'
# /etc/systemd/system/logrotate.service.d/syslog-agent.conf, installed by
# syslog-agent's install.sh with /etc/logrotate.d/syslog-agent, removed with it.
#
# Debian's (and others') logrotate.service runs logrotate, and with it every
# postrotate script, under MemoryDenyWriteExecute=yes. "agent rotate" is the
# agent binary, JavaScript on V8, whose JIT compiler needs memory that is
# written, then executed: under that setting it panics at start ("Check
# failed: success || errno == ENOMEM") and rsyslogd gets no HUP. A binary
# made by deno compile ignores DENO_V8_FLAGS (--jitless would need baking into
# the agent itself, slowing the relay), so this lifts that one setting for
# logrotate.service; the rest of its sandbox stays.
[Service]
MemoryDenyWriteExecute=no
SYSLOG_AGENT_EOF
}
# <<< embedded packaging/logrotate/logrotate.service.conf

# >>> embedded packaging/logrotate/syslog-agent (deno task embed; edit that file, not this)
emit_logrotate() {
  cat <<'SYSLOG_AGENT_EOF'
# /etc/logrotate.d/syslog-agent: rotation of rsyslog's files, with the HUP
# done by syslog-agent. install.sh puts it in place of the distribution's
# /etc/logrotate.d/rsyslog, which it moves aside (dpkg-divert where dpkg
# exists, so that rsyslog upgrades write theirs to the diverted name) to
# /etc/logrotate.d/rsyslog.syslog-agent.disabled (logrotate skips names ending
# in .disabled); install.sh --uninstall puts it back.
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
# Debian's logrotate.service runs this script under MemoryDenyWriteExecute=yes,
# which V8's JIT cannot live with ("agent rotate" would panic at start): the
# drop-in /etc/systemd/system/logrotate.service.d/syslog-agent.conf, installed
# with this file, lifts that one setting.
#
# The file list is Debian's (bookworm's, plus the files of older releases:
# mail.info/warn/err, daemon.log, lpr.log, debug, messages) and RHEL's
# (messages, secure, maillog, spooler, cron), skipped where they do not exist.
# Add the files of your own rules.
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
/var/log/secure
/var/log/maillog
/var/log/spooler
/var/log/cron
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
      --trusted-key)
        need_value "$1" "$#"
        TRUSTED_KEY=$2
        shift 2
        ;;
      --insecure-http)
        INSECURE_HTTP=1
        shift
        ;;
      --no-watchdog)
        WATCHDOG=0
        ROTATE=0
        shift
        ;;
      --no-logrotate)
        ROTATE=0
        shift
        ;;
      --no-relp)
        RELP=no
        shift
        ;;
      --with-relp)
        RELP=install
        shift
        ;;
      --no-rsyslog-install)
        RSYSLOG_INSTALL=0
        shift
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
    if [ -z "$ROOT" ]; then usage_error "--root /: leave --root out to install on this host"; fi
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
  if [ "$RELP" = install ] && [ -n "$ROOT" ]; then
    usage_error "--with-relp installs a package on this host: not with --root (install rsyslog-relp into the image yourself)"
  fi
  if [ -n "$TRUSTED_KEY" ] && [ ! -f "$TRUSTED_KEY" ]; then
    usage_error "--trusted-key: no such file: $TRUSTED_KEY"
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

# sha256_of FILE: prints FILE's SHA-256 in hex (nothing when it cannot be read).
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" 2>/dev/null | awk '{ print $1 }'
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" 2>/dev/null | awk '{ print $1 }'
  else
    openssl dgst -sha256 -r "$1" 2>/dev/null | awk '{ print $1 }'
  fi
}

need_sha256_tool() {
  if ! command -v sha256sum >/dev/null 2>&1 && ! command -v shasum >/dev/null 2>&1 &&
    ! command -v openssl >/dev/null 2>&1; then
    die "cannot verify checksums: install sha256sum (coreutils), shasum or openssl"
  fi
}

# mode_of PATH: permission bits in octal, like 755.
mode_of() {
  stat -c '%a' "$1"
}

changed() { CHANGES=$((CHANGES + 1)); }

# in_root PATH: with --root, fails unless PATH (absolute, inside $ROOT) stays
# inside $ROOT once every symlink in it is followed: a staging tree whose etc
# is a symlink to /etc must not make this script write the host's /etc.
in_root() {
  if [ -z "$ROOT" ]; then return 0; fi
  if ! ir_real=$(realpath -m -- "$1" 2>/dev/null); then
    die "--root: cannot resolve $1 (needs realpath -m, GNU coreutils)"
  fi
  case "$ir_real" in
    "$ROOT_REAL" | "$ROOT_REAL"/*) ;;
    *) die "--root: $1 leads to $ir_real, outside $ROOT (a symlink in the staging tree); nothing was done to it. Replace the symlink with a directory" ;;
  esac
}

# in_root_parent PATH: in_root for PATH's directory (for removals: rm never
# follows the last component).
in_root_parent() {
  in_root "$(dirname "$1")"
}

# fetch URL FILE: downloads URL to FILE with curl or wget; fails on HTTP
# errors. Only https (and http with --insecure-http), redirects included.
fetch() {
  if [ "$INSECURE_HTTP" -eq 1 ]; then f_proto='=https,http'; else f_proto='=https'; fi
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --proto "$f_proto" --proto-redir "$f_proto" --retry 2 --connect-timeout 15 --max-time 600 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    if [ "$INSECURE_HTTP" -eq 1 ]; then
      wget -q --tries=3 --timeout=15 -O "$2" "$1"
    else
      wget -q --https-only --tries=3 --timeout=15 -O "$2" "$1"
    fi
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

# verify_signature SUMS SIG WHERE: fails unless SIG is the release key's (or
# --trusted-key's) ed25519 signature of SUMS. The checksum alone proves the
# download is whole, not where it came from: a mirror serving its own binary
# serves matching sums too.
verify_signature() {
  if ! command -v openssl >/dev/null 2>&1; then
    die "cannot check the signature of SHA256SUMS: install openssl (3.0 or later); nothing was installed"
  fi
  if [ -n "$TRUSTED_KEY" ]; then
    vs_key=$TRUSTED_KEY
    vs_who="the key in $TRUSTED_KEY (--trusted-key)"
  else
    vs_key="$WORK_DIR/release-key.pem"
    printf '%s\n' "$RELEASE_KEY" >"$vs_key" || die "cannot write $vs_key"
    vs_who="the syslog-agent release key"
  fi
  if ! vs_out=$(openssl pkeyutl -verify -rawin -pubin -inkey "$vs_key" -in "$1" -sigfile "$2" 2>&1); then
    die "signature: $3 is not signed by $vs_who ($(printf '%s' "$vs_out" | head -n 1)); nothing was installed. Use the release's own files, or --trusted-key for a build of your own (openssl 3.0 or later is needed)"
  fi
  say "verified: signature of SHA256SUMS by $vs_who"
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

# make_dir DIR MODE: mkdir -p $ROOT/DIR (checked); MODE only on a new one.
make_dir() {
  md_path="$ROOT$1"
  in_root "$md_path"
  if [ -d "$md_path" ]; then return 0; fi
  if ! mkdir -p "$md_path"; then stop "cannot create $md_path"; fi
  if ! chmod "$2" "$md_path"; then stop "cannot chmod $2 $md_path"; fi
}

# check_binary FILE: the agent binary at FILE (next to where it goes, not in
# TMPDIR, which may be mounted noexec) runs on this host.
check_binary() {
  if ! cb_version=$("$1" version 2>&1 </dev/null); then
    rm -f "$1"
    die "the agent binary does not run on this host: $cb_version; nothing was installed"
  fi
  say "binary: $(printf '%s' "$cb_version" | tr '\n' ' ')"
}

# put_file SRC DEST MODE [CHECK]: installs SRC's content at $ROOT/DEST with
# MODE (octal, like 755), through a temporary file in the same directory and
# a rename, so DEST is never seen half written. Every step is checked: the
# temporary file must hold SRC's bytes (its SHA-256) before CHECK (a command
# given the temporary file) and the rename, and DEST after it; any failure
# stops the script with the reason. Says what it did; returns 1 when DEST was
# already right.
put_file() {
  pf_dest="$ROOT$2"
  in_root "$pf_dest"
  pf_sum=$(sha256_of "$1")
  if [ -z "$pf_sum" ]; then stop "cannot read $1"; fi
  if [ -f "$pf_dest" ] && [ "$(sha256_of "$pf_dest")" = "$pf_sum" ]; then
    if [ "$(mode_of "$pf_dest")" = "$3" ]; then
      say "unchanged: $pf_dest"
      return 1
    fi
    if [ "$DRY_RUN" -eq 1 ]; then
      say "would update: $pf_dest (mode 0$3)"
    else
      if ! chmod "$3" "$pf_dest"; then stop "cannot chmod $3 $pf_dest"; fi
      say "updated: $pf_dest (mode 0$3)"
    fi
    changed
    return 0
  fi
  if [ -e "$pf_dest" ]; then pf_verb=updated; else pf_verb=installed; fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would ${pf_verb%ed}: $pf_dest (0$3)"
    written "$2"
    changed
    return 0
  fi
  pf_dir=$(dirname "$2")
  make_dir "$pf_dir" 755
  if ! PARTIAL=$(mktemp "$ROOT$pf_dir/.$(basename "$pf_dest").new.XXXXXX"); then
    PARTIAL=""
    stop "cannot create a temporary file in $ROOT$pf_dir"
  fi
  if ! cat "$1" >"$PARTIAL"; then
    stop "writing $pf_dest failed (is $ROOT$pf_dir full? see df $ROOT$pf_dir); it is unchanged"
  fi
  if ! chmod "$3" "$PARTIAL"; then stop "cannot chmod $3 $PARTIAL"; fi
  pf_got=$(sha256_of "$PARTIAL")
  if [ "$pf_got" != "$pf_sum" ]; then
    stop "writing $pf_dest failed: the new file's sha256 is ${pf_got:-unreadable}, expected $pf_sum; it is unchanged"
  fi
  if [ "$#" -ge 4 ]; then "$4" "$PARTIAL"; fi
  if ! mv -f "$PARTIAL" "$pf_dest"; then stop "cannot rename $PARTIAL to $pf_dest"; fi
  PARTIAL=""
  pf_got=$(sha256_of "$pf_dest")
  if [ "$pf_got" != "$pf_sum" ]; then
    stop "$pf_dest: after the rename its sha256 is ${pf_got:-unreadable}, expected $pf_sum"
  fi
  say "$pf_verb: $pf_dest (0$3)"
  written "$2"
  changed
  return 0
}

# written PATH: PATH (without $ROOT) was written by this run (for restorecon).
written() {
  WRITTEN="$WRITTEN $1"
}

# put_dir DIR MODE: creates $ROOT/DIR with MODE when it is missing.
put_dir() {
  in_root "$ROOT$1"
  if [ -d "$ROOT$1" ]; then
    say "unchanged: $ROOT$1"
    return 0
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would create: $ROOT$1 (0$2)"
  else
    make_dir "$1" "$2"
    say "created: $ROOT$1 (0$2)"
  fi
  written "$1"
  changed
}

# remove PATH: removes $ROOT/PATH (a file or a symlink); returns 1 when absent.
remove() {
  in_root_parent "$ROOT$1"
  if [ ! -e "$ROOT$1" ] && [ ! -L "$ROOT$1" ]; then
    say "unchanged: $ROOT$1 is not there"
    return 1
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would remove: $ROOT$1"
  else
    if ! rm -f "$ROOT$1"; then stop "cannot remove $ROOT$1"; fi
    say "removed: $ROOT$1"
  fi
  changed
  return 0
}

# remove_tree DIR: removes $ROOT/DIR and everything in it.
remove_tree() {
  in_root_parent "$ROOT$1"
  if [ ! -e "$ROOT$1" ] && [ ! -L "$ROOT$1" ]; then
    say "unchanged: $ROOT$1 is not there"
    return 0
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would remove: $ROOT$1 (and everything in it)"
  else
    if ! rm -rf "$ROOT$1"; then stop "cannot remove $ROOT$1"; fi
    say "removed: $ROOT$1"
  fi
  changed
}

# remove_empty_dir DIR: removes DIR (already prefixed with $ROOT) when empty.
remove_empty_dir() {
  in_root_parent "$1"
  if [ "$DRY_RUN" -eq 0 ] && [ -d "$1" ] && [ ! -L "$1" ]; then rmdir "$1" 2>/dev/null || true; fi
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

# host_next COMMAND: with --root, a command the host still needs (printed at the end).
host_next() {
  HOST_NEXT="${HOST_NEXT:+$HOST_NEXT && }$1"
}

# conf_code FILE: FILE without its // and /* */ comments (strings kept as they
# are, so "unix:///run/…" stays), for the greps on an existing agent.json:
# what a comment says never decides anything.
conf_code() {
  awk '
    {
      line = $0; out = ""; n = length(line); instr = 0; i = 1
      while (i <= n) {
        c = substr(line, i, 1)
        if (incomment) {
          if (substr(line, i, 2) == "*/") { incomment = 0; i += 2 } else i++
          continue
        }
        if (instr) {
          out = out c
          if (c == "\\") { out = out substr(line, i + 1, 1); i += 2; continue }
          if (c == "\"") instr = 0
          i++
          continue
        }
        if (c == "\"") { instr = 1; out = out c; i++; continue }
        if (substr(line, i, 2) == "//") break
        if (substr(line, i, 2) == "/*") { incomment = 1; i += 2; continue }
        out = out c
        i++
      }
      print out
    }' "$1"
}

# --- the distribution ----------------------------------------------------------

# os_field NAME FILE: the value of NAME= in an os-release FILE, unquoted.
os_field() {
  sed -n "s/^$1=//p" "$2" | head -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

# detect_os: OS_ID, OS_LIKE, OS_VERSION, OS_NAME from $ROOT/etc/os-release
# (or /usr/lib/os-release); FAMILY from ID and ID_LIKE, never from which files
# or commands happen to exist; PKG, the family's package manager.
detect_os() {
  do_file=""
  for do_f in "$ROOT/etc/os-release" "$ROOT/usr/lib/os-release"; do
    if [ -f "$do_f" ]; then
      do_file=$do_f
      break
    fi
  done
  if [ -n "$do_file" ]; then
    OS_ID=$(os_field ID "$do_file")
    OS_LIKE=$(os_field ID_LIKE "$do_file")
    OS_VERSION=$(os_field VERSION_ID "$do_file")
    OS_NAME=$(os_field PRETTY_NAME "$do_file")
  fi
  case " $OS_ID $OS_LIKE " in
    *" debian "* | *" ubuntu "*) FAMILY=debian ;;
    *" rhel "* | *" fedora "* | *" centos "*) FAMILY=rhel ;;
    *" suse "* | *" opensuse "* | *" sles "*) FAMILY=suse ;;
    *) FAMILY=other ;;
  esac
  PKG=""
  case "$FAMILY" in
    debian) PKG=apt-get ;;
    rhel)
      # dnf on RHEL 8 and later and on Fedora; yum where only yum is.
      PKG=dnf
      if [ -z "$ROOT" ] && ! command -v dnf >/dev/null 2>&1 && command -v yum >/dev/null 2>&1; then PKG=yum; fi
      ;;
    suse) PKG=zypper ;;
    *)
      if [ -z "$ROOT" ]; then
        for do_pm in apt-get dnf yum zypper; do
          if command -v "$do_pm" >/dev/null 2>&1; then
            PKG=$do_pm
            break
          fi
        done
      fi
      ;;
  esac
}

# describe_os: one line on what was detected.
describe_os() {
  if [ -z "$OS_ID" ]; then
    say "system: no $ROOT/etc/os-release: distribution unknown${PKG:+ (packages with $PKG)}"
    return 0
  fi
  dos_extra=""
  if [ "$FAMILY" = rhel ]; then
    case "$OS_ID:$OS_VERSION" in
      fedora:*) ;;
      *:[89] | *:[89].*) ;;
      *) dos_extra="; not one of the RHEL-family releases this installer knows (RHEL, Rocky, Alma 8-9, Fedora): it goes on as for those" ;;
    esac
  fi
  say "system: ${OS_NAME:-$OS_ID} (ID=$OS_ID${OS_LIKE:+ ID_LIKE=\"$OS_LIKE\"}${OS_VERSION:+ VERSION_ID=$OS_VERSION}): $FAMILY family${PKG:+, packages with $PKG}${SELINUX:+, SELinux $SELINUX}$dos_extra"
}

# relp_package: the package of rsyslog's RELP module in this family.
relp_package() {
  if [ "$FAMILY" = suse ] || [ "$PKG" = zypper ]; then echo rsyslog-module-relp; else echo rsyslog-relp; fi
}

# pkg_command PACKAGES: how the operator installs PACKAGES here (for messages).
pkg_command() {
  case "$PKG" in
    apt-get) echo "apt-get update && apt-get install $*" ;;
    zypper) echo "zypper install $*" ;;
    '') echo "install $* with the package manager" ;;
    *) echo "$PKG install $*" ;;
  esac
}

# have_rsyslogd: rsyslogd is installed (under --root: in the root).
have_rsyslogd() {
  if [ -n "$ROOT" ]; then
    [ -x "$ROOT/usr/sbin/rsyslogd" ] || [ -x "$ROOT/sbin/rsyslogd" ]
    return
  fi
  command -v rsyslogd >/dev/null 2>&1 || [ -x /usr/sbin/rsyslogd ]
}

# installed_packages: the names of the installed packages, sorted (empty
# where the family's query tool is missing).
installed_packages() {
  case "$PKG" in
    apt-get)
      dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null | awk '$1 ~ /^.i/ { print $2 }'
      ;;
    *) if command -v rpm >/dev/null 2>&1; then rpm -qa --qf '%{NAME}\n' 2>/dev/null; fi ;;
  esac | sort -u
}

# pkg_run LOG ARGS...: runs the package manager with ARGS, output to LOG.
pkg_run() {
  pr_log=$1
  shift
  case "$PKG" in
    apt-get) DEBIAN_FRONTEND=noninteractive apt-get "$@" >>"$pr_log" 2>&1 </dev/null ;;
    zypper) zypper --non-interactive "$@" >>"$pr_log" 2>&1 </dev/null ;;
    *) "$PKG" "$@" >>"$pr_log" 2>&1 </dev/null ;;
  esac
}

# pkg_fetch PACKAGES: downloads PACKAGES and what they need without installing
# anything (apt-get: with fresh package lists when the old ones lack them).
pkg_fetch() {
  pf_log="$WORK_DIR/packages.log"
  case "$PKG" in
    apt-get)
      if pkg_run "$pf_log" install -y -q --download-only "$@"; then return 0; fi
      say "note: apt-get cannot fetch $* with its package lists as they are: apt-get update"
      pkg_run "$pf_log" update -q && pkg_run "$pf_log" install -y -q --download-only "$@"
      ;;
    dnf | yum) pkg_run "$pf_log" install -y -q --downloadonly "$@" ;;
    zypper) pkg_run "$pf_log" install --download-only "$@" ;;
    *) return 1 ;;
  esac
}

# ensure_rsyslog: where rsyslogd is missing, installs rsyslog and its RELP
# module with the package manager (fetched first: offline, it stops before
# anything is changed, naming the command), records them for --uninstall, and
# enables and starts rsyslog.service; with --no-rsyslog-install, says what
# the agent then gets (nothing) and leaves rsyslog's parts out.
ensure_rsyslog() {
  if have_rsyslogd; then return 0; fi
  er_pkgs=rsyslog
  if [ "$RELP" != no ]; then er_pkgs="rsyslog $(relp_package)"; fi
  if [ "$RSYSLOG_INSTALL" -eq 0 ]; then
    NO_RSYSLOG=1
    WATCHDOG=0
    ROTATE=0
    warn "no rsyslogd on this host, and --no-rsyslog-install: rsyslog is not installed. The agent will receive NOTHING unless something sends to its inputs (127.0.0.1:$TCP_PORT over TCP or UDP): programs' syslog(3) messages go to the journal only. No rsyslog snippets, no watchdog, no logrotate takeover. To have them: $(pkg_command "$er_pkgs"), then run install.sh again"
    return 0
  fi
  if [ -n "$ROOT" ]; then
    say "note: no rsyslogd in $ROOT: the host needs rsyslog ($(pkg_command rsyslog)); the rest is staged as for a host that has it"
    host_next "$(pkg_command rsyslog) && systemctl enable --now rsyslog.service"
    return 0
  fi
  if [ -z "$PKG" ] || ! command -v "$PKG" >/dev/null 2>&1; then
    die "no rsyslogd on this host, and no package manager to install it with (${PKG:-none known for ID=${OS_ID:-unknown}}): install rsyslog and its RELP module yourself, then run install.sh again; or give --no-rsyslog-install (the agent then receives nothing unless something sends to its inputs); nothing was installed"
  fi
  if [ "$RELP" != no ]; then OMRELP_PLANNED=1; fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would install: packages $er_pkgs ($PKG; rsyslogd is missing; --uninstall removes them again)"
    say "would run: systemctl enable --now rsyslog.service"
    changed
    return 0
  fi
  say "no rsyslogd on this host: installing $er_pkgs with $PKG (--no-rsyslog-install leaves it out)"
  # shellcheck disable=SC2086 # the names are words (no globbing: set -f)
  if ! pkg_fetch $er_pkgs; then
    die "cannot fetch $er_pkgs with $PKG: $(tail -n 3 "$WORK_DIR/packages.log" | tr '\n' ' ')
nothing was changed. Make the package sources reachable and run: $(pkg_command "$er_pkgs")
then run install.sh again (or give --no-rsyslog-install: the agent then receives nothing unless something sends to its inputs)"
  fi
  er_before=$(installed_packages)
  # shellcheck disable=SC2086
  if ! pkg_run "$WORK_DIR/packages.log" install -y -q $er_pkgs; then
    die "$PKG install $er_pkgs failed: $(tail -n 3 "$WORK_DIR/packages.log" | tr '\n' ' '); nothing of syslog-agent was installed. Fix it, then run install.sh again"
  fi
  er_after=$(installed_packages)
  er_new=$(printf '%s\n' "$er_after" | awk -v before="$er_before" '
    BEGIN { n = split(before, b, "\n"); for (i = 1; i <= n; i++) had[b[i]] = 1 }
    $0 != "" && !($0 in had) { print }' | tr '\n' ' ')
  # Without a query tool (rpm, dpkg-query): the packages asked for.
  if [ -z "$er_new" ]; then er_new="$er_pkgs "; fi
  for er_p in $er_new; do state_add "package $PKG $er_p"; done
  outside "installed packages: ${er_new% } ($PKG; rsyslogd was missing; --uninstall removes them)"
  changed
  if ! have_rsyslogd; then
    stop "$PKG installed $er_pkgs, but there is still no rsyslogd"
  fi
  if manages_services; then
    if ! systemctl enable --now --quiet rsyslog.service; then
      stop "systemctl enable --now rsyslog.service failed: see journalctl -u rsyslog"
    fi
    outside "enabled and started: rsyslog.service"
  else
    say "note: systemd is not running here: start rsyslogd with your init system"
  fi
  check_journald_forward
}

# check_journald_forward: on the Debian family, rsyslog reads journald's syslog
# socket (/run/systemd/journal/syslog, syslog.socket), which is fed only while
# journald forwards to it (ForwardToSyslog=, "yes" in Debian's build). Says so
# when a journald.conf turned it off.
check_journald_forward() {
  if [ "$FAMILY" != debian ] || [ -n "$ROOT" ]; then return 0; fi
  cjf_value=$(
    {
      cat /etc/systemd/journald.conf 2>/dev/null || true
      for cjf_d in /usr/lib/systemd/journald.conf.d /run/systemd/journald.conf.d /etc/systemd/journald.conf.d; do
        if [ -d "$cjf_d" ]; then find "$cjf_d" -maxdepth 1 -name '*.conf' -exec cat {} + 2>/dev/null || true; fi
      done
    } | sed -n 's/^[[:space:]]*ForwardToSyslog[[:space:]]*=[[:space:]]*//p' | tail -n 1
  )
  case "$cjf_value" in
    no | false | 0 | off)
      warn "journald does not forward to rsyslog here (ForwardToSyslog=$cjf_value in a journald.conf): programs' syslog(3) messages reach the journal but not rsyslogd, nor the agent. Set ForwardToSyslog=yes (and systemctl restart systemd-journald) to have them"
      ;;
  esac
}

# rsyslog_reads_journal: rsyslog's config loads imjournal and keeps imuxsock
# off journald's syslog socket (SysSock.Use="off", or the legacy
# $OmitLocalLogging on): RHEL's and Fedora's rsyslog.conf. Without an
# rsyslog.conf (rsyslog not there yet), the RHEL family's.
rsyslog_reads_journal() {
  rrj_conf="$ROOT/etc/rsyslog.conf"
  if [ ! -f "$rrj_conf" ]; then
    [ "$FAMILY" = rhel ]
    return
  fi
  rrj_text=$(
    {
      cat "$rrj_conf"
      if [ -d "$ROOT/etc/rsyslog.d" ]; then
        find "$ROOT/etc/rsyslog.d" -maxdepth 1 -name '*.conf' ! -name '*syslog-agent*' -exec cat {} + 2>/dev/null || true
      fi
    } | sed 's/#.*//'
  )
  # shellcheck disable=SC2016 # a literal $ in the pattern
  rrj_off='syssock\.use[[:space:]]*=[[:space:]]*"(off|0)"|\$OmitLocalLogging[[:space:]]+on'
  printf '%s\n' "$rrj_text" | grep -qi 'imjournal' &&
    printf '%s\n' "$rrj_text" | grep -Eqi "$rrj_off"
}

# --- SELinux ------------------------------------------------------------------

# detect_selinux: SELINUX=Enforcing or Permissive when SELinux is on (getenforce;
# under --root, the root's /etc/selinux/config), else empty.
detect_selinux() {
  SELINUX=""
  if [ -n "$ROOT" ]; then
    if [ -f "$ROOT/etc/selinux/config" ]; then
      case "$(sed -n 's/^[[:space:]]*SELINUX[[:space:]]*=[[:space:]]*//p' "$ROOT/etc/selinux/config" | tail -n 1)" in
        enforcing) SELINUX=Enforcing ;;
        permissive) SELINUX=Permissive ;;
      esac
    fi
    return 0
  fi
  if command -v getenforce >/dev/null 2>&1; then
    case "$(getenforce 2>/dev/null || true)" in
      Enforcing) SELINUX=Enforcing ;;
      Permissive) SELINUX=Permissive ;;
    esac
  fi
}

# selinux_port_type PORT: the type semanage gives tcp PORT by a rule of its
# own (not the catch-all unreserved, reserved or ephemeral ranges).
selinux_port_type() {
  semanage port -l 2>/dev/null | awk -v p="$1" '
    $2 == "tcp" && $1 !~ /^(unreserved|reserved|hi_reserved|ephemeral)_port_t$/ {
      for (i = 3; i <= NF; i++) {
        r = $i; sub(/,$/, "", r)
        n = split(r, ab, "-"); lo = ab[1] + 0; hi = (n > 1 ? ab[2] : ab[1]) + 0
        if (p + 0 >= lo && p + 0 <= hi) { print $1; exit }
      }
    }'
}

# selinux_label_port PORT: a confined rsyslogd (domain syslogd_t) may
# name_connect only to ports of the types its policy names: syslogd_port_t
# (udp 514, tcp/udp 601, tcp/udp 20514), syslog_tls_port_t (tcp/udp 6514,
# 10514), rsh_port_t (tcp 514) and a few others (postgresql, mysqld, http,
# wap_wsp; smtp with a boolean). The local hop's ports, 2514 (RELP) and 5514
# (TCP), are unreserved_port_t, which it may not: omrelp/omfwd to the agent
# fail with a denial. This gives the hop's port syslogd_port_t (recorded; undone
# by --uninstall).
selinux_label_port() {
  slp_port=$1
  if [ -z "$SELINUX" ]; then return 0; fi
  if [ -n "$ROOT" ]; then
    host_next "semanage port -a -t syslogd_port_t -p tcp $slp_port"
    return 0
  fi
  if ! command -v semanage >/dev/null 2>&1; then
    warn "SELinux is $SELINUX and semanage is missing: a confined rsyslogd (syslogd_t) may not connect to the agent on 127.0.0.1:$slp_port (unreserved_port_t), so the local hop is denied$([ "$SELINUX" = Permissive ] && echo " once SELinux enforces"). Install semanage (dnf install policycoreutils-python-utils), then run: semanage port -a -t syslogd_port_t -p tcp $slp_port"
    return 0
  fi
  slp_type=$(selinux_port_type "$slp_port")
  case "$slp_type" in
    syslogd_port_t | syslog_tls_port_t)
      say "unchanged: SELinux lets rsyslogd connect to tcp port $slp_port ($slp_type)"
      return 0
      ;;
    '') ;;
    *)
      warn "SELinux: tcp port $slp_port is $slp_type, which a confined rsyslogd (syslogd_t) may not connect to: the local hop is denied under enforcing. Not changed (something else may rely on that label): relabel it yourself (semanage port -m -t syslogd_port_t -p tcp $slp_port)"
      return 0
      ;;
  esac
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would run: semanage port -a -t syslogd_port_t -p tcp $slp_port (SELinux $SELINUX: lets rsyslogd connect to the agent there)"
    changed
    return 0
  fi
  if ! slp_out=$(semanage port -a -t syslogd_port_t -p tcp "$slp_port" 2>&1); then
    stop "semanage port -a -t syslogd_port_t -p tcp $slp_port failed: $slp_out"
  fi
  state_add "selinux-port tcp $slp_port"
  outside "labeled (SELinux): tcp port $slp_port as syslogd_port_t (semanage port -a), so that rsyslogd (syslogd_t) may connect to the agent there"
  changed
}

# selinux_restorecon: the default SELinux labels on what this run wrote.
selinux_restorecon() {
  if [ -z "$SELINUX" ] || [ -z "$WRITTEN" ]; then return 0; fi
  sr_paths=""
  for sr_p in $WRITTEN; do
    case " $sr_paths " in *" $sr_p "*) ;; *) sr_paths="$sr_paths $sr_p" ;; esac
  done
  if [ -n "$ROOT" ]; then
    host_next "restorecon -R$sr_paths"
    return 0
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would run: restorecon -R$sr_paths"
    return 0
  fi
  if ! command -v restorecon >/dev/null 2>&1; then
    warn "SELinux is $SELINUX and restorecon is missing: the files above keep the labels they were created with"
    return 0
  fi
  # shellcheck disable=SC2086 # the paths are words (no globbing: set -f)
  if sr_out=$(restorecon -R $sr_paths 2>&1); then
    say "relabeled (SELinux): restorecon -R$sr_paths"
  else
    warn "restorecon -R$sr_paths: $sr_out"
  fi
}

# selinux_unlabel: --uninstall: the port labels this installer added.
selinux_unlabel() {
  for su_port in $(state_values selinux-port); do
    if [ "$DRY_RUN" -eq 1 ]; then
      say "would run: semanage port -d -t syslogd_port_t -p tcp $su_port"
      changed
      continue
    fi
    if ! command -v semanage >/dev/null 2>&1; then
      warn "semanage is missing: tcp port $su_port keeps the label syslogd_port_t install.sh gave it (semanage port -d -t syslogd_port_t -p tcp $su_port removes it)"
      continue
    fi
    if su_out=$(semanage port -d -t syslogd_port_t -p tcp "$su_port" 2>&1); then
      outside "unlabeled (SELinux): tcp port $su_port (semanage port -d)"
    else
      warn "semanage port -d -t syslogd_port_t -p tcp $su_port: $su_out"
    fi
    state_remove "selinux-port tcp $su_port"
    changed
  done
}

# --- the installer's state: what it changed on the host beyond its own files -

# state_read: STATE from STATE_PATH (under --root: the root's).
state_read() {
  STATE=""
  if [ -f "$ROOT$STATE_PATH" ]; then STATE=$(grep -v '^#' "$ROOT$STATE_PATH" || true); fi
}

# state_values KIND: the last word of each state line of KIND.
state_values() {
  printf '%s\n' "$STATE" | awk -v k="$1" '$1 == k { print $NF }'
}

# state_write: STATE to STATE_PATH (removed when empty), through a rename.
state_write() {
  if [ "$DRY_RUN" -eq 1 ]; then return 0; fi
  in_root "$ROOT$STATE_PATH"
  if [ -z "$STATE" ]; then
    if [ -e "$ROOT$STATE_PATH" ]; then
      rm -f "$ROOT$STATE_PATH" || stop "cannot remove $ROOT$STATE_PATH"
      say "removed: $ROOT$STATE_PATH"
      remove_empty_dir "$ROOT$STATE_DIR"
    fi
    return 0
  fi
  make_dir "$STATE_DIR" 755
  sw_tmp="$ROOT$STATE_PATH.new"
  {
    echo "# $STATE_PATH: what syslog-agent's install.sh changed on this host beyond"
    echo "# its own files (packages it installed, SELinux port labels), for"
    echo "# install.sh --uninstall to undo. Written by install.sh: do not edit."
    printf '%s\n' "$STATE"
  } >"$sw_tmp" || stop "cannot write $sw_tmp"
  mv -f "$sw_tmp" "$ROOT$STATE_PATH" || stop "cannot rename $sw_tmp to $ROOT$STATE_PATH"
  written "$STATE_DIR"
}

# state_add LINE: records LINE (once) and writes the state file.
state_add() {
  if printf '%s\n' "$STATE" | grep -qxF -- "$1"; then return 0; fi
  STATE="${STATE:+$STATE
}$1"
  state_write
}

# state_remove LINE: forgets LINE and writes the state file.
state_remove() {
  STATE=$(printf '%s\n' "$STATE" | grep -vxF -- "$1" || true)
  state_write
}

# remove_packages: --uninstall: the packages this installer installed, removed
# again (apt-get purge, as before the install), unless that would also remove
# something installed since that needs them.
remove_packages() {
  rp_pkgs=$(state_values package | tr '\n' ' ')
  rp_pm=$(printf '%s\n' "$STATE" | awk '$1 == "package" { print $2; exit }')
  if [ -z "$rp_pkgs" ]; then return 0; fi
  rp_pkgs=${rp_pkgs% }
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would remove: packages $rp_pkgs ($rp_pm; install.sh installed them)"
    changed
    return 0
  fi
  if [ -n "$ROOT" ]; then
    host_next "$rp_pm remove $rp_pkgs"
    return 0
  fi
  if ! command -v "$rp_pm" >/dev/null 2>&1; then
    warn "$rp_pm is missing: the packages install.sh installed stay: $rp_pkgs"
    return 0
  fi
  rp_log="$WORK_DIR/packages.log"
  PKG=$rp_pm
  case "$rp_pm" in
    apt-get)
      # What purging them would take along: only theirs, or keep them all.
      # shellcheck disable=SC2086 # the names are words (no globbing: set -f)
      rp_extra=$(apt-get -s purge $rp_pkgs 2>/dev/null | awk -v mine=" $rp_pkgs " '
        ($1 == "Purg" || $1 == "Remv") && index(mine, " " $2 " ") == 0 { print $2 }' | tr '\n' ' ')
      if [ -n "$rp_extra" ]; then
        warn "kept the packages install.sh installed ($rp_pkgs): removing them would also remove ${rp_extra}which were installed since. Remove them yourself when nothing needs them"
        return 0
      fi
      # shellcheck disable=SC2086
      rp_ok=0 && pkg_run "$rp_log" purge -y -q $rp_pkgs || rp_ok=1
      ;;
    zypper)
      # shellcheck disable=SC2086
      rp_ok=0 && pkg_run "$rp_log" remove $rp_pkgs || rp_ok=1
      ;;
    *)
      # shellcheck disable=SC2086
      rp_ok=0 && pkg_run "$rp_log" remove -y -q $rp_pkgs || rp_ok=1
      ;;
  esac
  if [ "$rp_ok" -ne 0 ]; then
    warn "$rp_pm could not remove $rp_pkgs: $(tail -n 3 "$rp_log" | tr '\n' ' ')"
    return 0
  fi
  outside "removed packages: $rp_pkgs ($rp_pm; install.sh had installed them)"
  for rp_p in $rp_pkgs; do state_remove "package $rp_pm $rp_p"; done
  changed
  # Debian's syslog.socket outlives rsyslog.service: as before the install.
  if [ "$rp_pm" = apt-get ] && manages_services && ! have_rsyslogd &&
    systemctl is-active --quiet syslog.socket 2>/dev/null; then
    systemctl stop syslog.socket 2>/dev/null || true
    outside "stopped: syslog.socket (it served the rsyslog just removed)"
  fi
}

# --- install -------------------------------------------------------------------

# get_binary: the agent binary, verified, at $WORK_DIR/agent.
get_binary() {
  if [ -n "$BINARY" ]; then
    if [ ! -f "$BINARY" ]; then die "--binary: no such file: $BINARY"; fi
    need_sha256_tool
    if ! cp "$BINARY" "$WORK_DIR/agent"; then die "cannot copy $BINARY to $WORK_DIR; nothing was installed"; fi
    if [ -n "$SUMS_FILE" ]; then
      if [ ! -f "$SUMS_FILE" ]; then die "--sha256sums: no such file: $SUMS_FILE"; fi
      if [ ! -f "$SUMS_FILE.sig" ]; then
        die "signature: no $SUMS_FILE.sig next to $SUMS_FILE: copy the release's SHA256SUMS.sig too (unsigned sums are refused); nothing was installed"
      fi
      verify_signature "$SUMS_FILE" "$SUMS_FILE.sig" "$SUMS_FILE"
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
  case "$gb_base" in
    https://*) ;;
    http://*)
      if [ "$INSECURE_HTTP" -eq 0 ]; then
        die "refusing plain http: $gb_base (anyone on the path can change what it serves): use https, or add --insecure-http for a mirror on a network you trust (the signature is still checked); nothing was installed"
      fi
      warn "--insecure-http: downloading over plain http from $gb_base; only the signature protects it"
      ;;
    *) usage_error "--base-url: expected an https:// URL, got \"$gb_base\"" ;;
  esac
  gb_name="agent-$TARGET"
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would download: $gb_base/$gb_name, $gb_base/SHA256SUMS and $gb_base/SHA256SUMS.sig, and verify the signature and the checksum"
    return 1
  fi
  say "downloading: $gb_base/$gb_name"
  if ! fetch "$gb_base/$gb_name" "$WORK_DIR/agent"; then
    die "download failed: $gb_base/$gb_name; nothing was installed"
  fi
  if ! fetch "$gb_base/SHA256SUMS" "$WORK_DIR/SHA256SUMS"; then
    die "download failed: $gb_base/SHA256SUMS; nothing was installed"
  fi
  if ! fetch "$gb_base/SHA256SUMS.sig" "$WORK_DIR/SHA256SUMS.sig"; then
    die "download failed: $gb_base/SHA256SUMS.sig: unsigned sums are refused; nothing was installed"
  fi
  verify_signature "$WORK_DIR/SHA256SUMS" "$WORK_DIR/SHA256SUMS.sig" "$gb_base/SHA256SUMS"
  verify "$WORK_DIR/agent" "$WORK_DIR/SHA256SUMS" "$gb_name" "$gb_base/SHA256SUMS"
  return 0
}

# have_omrelp: rsyslog's RELP output module is installed (under --root: in
# the root), or this run installs it.
have_omrelp() {
  if [ "$OMRELP_PLANNED" -eq 1 ]; then return 0; fi
  for ho_dir in $RSYSLOG_MODULE_DIRS; do
    if [ -f "$ROOT$ho_dir/omrelp.so" ]; then return 0; fi
  done
  return 1
}

# install_relp_package: --with-relp, on a host without omrelp.
install_relp_package() {
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would install: package rsyslog-relp (--with-relp)"
    return 0
  fi
  if command -v apt-get >/dev/null 2>&1; then
    irp_how="apt-get install rsyslog-relp"
    irp_ok=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q rsyslog-relp </dev/null || irp_ok=1
  elif command -v dnf >/dev/null 2>&1; then
    irp_how="dnf install rsyslog-relp"
    irp_ok=0
    dnf install -y -q rsyslog-relp </dev/null || irp_ok=1
  elif command -v yum >/dev/null 2>&1; then
    irp_how="yum install rsyslog-relp"
    irp_ok=0
    yum install -y -q rsyslog-relp </dev/null || irp_ok=1
  elif command -v zypper >/dev/null 2>&1; then
    irp_how="zypper install rsyslog-module-relp"
    irp_ok=0
    zypper --non-interactive install rsyslog-module-relp </dev/null || irp_ok=1
  else
    die "--with-relp: no apt-get, dnf, yum or zypper here: install rsyslog's RELP module yourself, or drop --with-relp; nothing was installed"
  fi
  if [ "$irp_ok" -ne 0 ] || ! have_omrelp; then
    die "--with-relp: $irp_how failed (or installed no omrelp.so in $RSYSLOG_MODULE_DIRS); nothing was installed. Fix the package source, or drop --with-relp (the local hop is TCP then)"
  fi
  outside "installed package: $irp_how (--with-relp; --uninstall keeps it)"
}

# choose_hop: HOP=relp or tcp, the local hop rsyslogd -> agent. An existing
# config decides (its inputs must match the snippet); else rsyslog's RELP
# module does, and the flags.
choose_hop() {
  if [ "$NO_RSYSLOG" -eq 1 ]; then
    HOP=none
    return 0
  fi
  if [ "$RELP" = install ] && ! have_omrelp; then install_relp_package; fi
  if [ -e "$ROOT$CONF_PATH" ]; then
    ch_code=$(conf_code "$ROOT$CONF_PATH")
    if printf '%s\n' "$ch_code" | grep -q '"relp"' && printf '%s\n' "$ch_code" | grep -q '127\.0\.0\.1:2514'; then
      HOP=relp
    else
      HOP=tcp
    fi
    if [ "$HOP" = relp ] && ! have_omrelp; then
      warn "$CONF_PATH has the RELP input 127.0.0.1:2514 but rsyslog's RELP module (omrelp) is missing: the local hop is TCP (127.0.0.1:5514) until it is installed (--with-relp, or the rsyslog-relp package) and install.sh runs again"
      HOP=tcp
    elif [ "$HOP" = tcp ] && [ "$RELP" != no ] && have_omrelp; then
      say "note: rsyslog's RELP module is here, but $CONF_PATH has no RELP input: to make the local hop RELP (acknowledged), add { \"type\": \"relp\", \"address\": \"127.0.0.1:2514\" } to its inputs and run install.sh again"
    fi
  else
    case "$RELP" in
      no) HOP=tcp ;;
      install) HOP=relp ;;
      *) if have_omrelp; then HOP=relp; else HOP=tcp; fi ;;
    esac
  fi
  if [ "$HOP" = tcp ]; then
    if [ "$RELP" = no ]; then ch_why="--no-relp"; else ch_why="rsyslog's RELP module omrelp is not installed"; fi
    RELP_WHY=$ch_why
    warn "the local hop rsyslogd -> agent is plain TCP ($ch_why): messages in flight when the agent restarts can be lost (measured: 25 of 60,000 at 3,000 messages a second over two agent restarts). For acknowledged delivery install rsyslog-relp (or use --with-relp) on a first install"
  else
    say "local hop: rsyslogd -> agent over RELP (127.0.0.1:2514, acknowledged)"
  fi
}

# write_config FILE: the initial config, from --collector, --protocol, the
# hop and the watchdog: JSON with comments (the agent reads // and /* */
# comments and trailing commas, as deno.json does) saying what each part is
# for and which install.sh flag changes it.
write_config() {
  commented_config >"$1" || die "cannot write $1 (is ${TMPDIR:-/tmp} full?); nothing was installed"
}

# commented_config: the initial config with its comments, on stdout.
commented_config() {
  {
    cat <<HEAD
// $CONF_PATH: syslog-agent's config, written by install.sh on the
// first install; install.sh never changes it afterwards (edit it, check it with
// "agent check-config $CONF_PATH", apply it with "systemctl reload
// syslog-agent"). JSON with comments and trailing commas, as deno.json takes.
// Every key and its default: the README's "Config reference".
{
  // Where messages come in.
HEAD
    case "$HOP" in
      relp)
        echo "  // rsyslogd forwards every message it gets to 127.0.0.1:$RELP_PORT over RELP,"
        echo "  // acknowledged ($RSYSLOG_PATH); install.sh"
        echo "  // --no-relp makes that hop plain TCP to 127.0.0.1:$TCP_PORT instead. The TCP and"
        echo "  // UDP inputs take anything else on this host that sends syslog there."
        ;;
      tcp)
        echo "  // rsyslogd forwards every message it gets to 127.0.0.1:$TCP_PORT over plain"
        echo "  // TCP ($RSYSLOG_PATH), not RELP:"
        echo "  // $RELP_WHY. For an acknowledged hop, install rsyslog-relp, add"
        echo "  // { \"type\": \"relp\", \"address\": \"127.0.0.1:$RELP_PORT\" } here and run install.sh"
        echo "  // again. UDP on the same port takes anything else that sends syslog there."
        ;;
      *)
        echo "  // No rsyslog on this host (install.sh --no-rsyslog-install): only what"
        echo "  // something sends to these inputs reaches the agent. Install rsyslog and run"
        echo "  // install.sh again to have programs' syslog(3) messages forwarded here."
        ;;
    esac
    printf '  "inputs": [\n'
    printf '    { "type": "tcp", "address": "127.0.0.1:%s" },\n' "$TCP_PORT"
    printf '    { "type": "udp", "address": "127.0.0.1:%s" },\n' "$TCP_PORT"
    if [ "$HOP" = relp ]; then printf '    { "type": "relp", "address": "127.0.0.1:%s" },\n' "$RELP_PORT"; fi
    printf '  ],\n'
    echo "  // The central collectors (install.sh --collector HOST:PORT, repeatable), tried"
    echo "  // in order: the first healthy one gets the traffic. \"protocol\" is tcp, tls or"
    echo "  // relp (install.sh --protocol). While none is reachable the agent spools to"
    echo "  // $SPOOL_DIR (\"spool\": mode, maxBytes, sync)."
    printf '  "collectors": [\n'
    for wc_address in $COLLECTORS; do
      printf '    { "address": "%s", "protocol": "%s" },\n' "$wc_address" "${PROTOCOL:-tcp}"
    done
    printf '  ],\n'
    if [ "$WATCHDOG" -eq 1 ]; then
      echo "  // The watchdog (install.sh --no-watchdog leaves it out, with the probe"
      echo "  // socket and the logrotate takeover): the agent watches the distribution's"
      echo "  // rsyslog.service and restarts it when rsyslogd dies or stops passing"
      echo "  // messages, and \"agent rotate\" (logrotate's postrotate) HUPs it and proves"
      echo "  // it survived."
      printf '  "rsyslogd": {\n'
      echo "    // \"external\": rsyslog.service runs rsyslogd; the agent watches it."
      printf '    "mode": "external",\n'
      printf '    "pidFile": "/run/rsyslogd.pid",\n'
      printf '    "restartCommand": ["systemctl", "restart", "rsyslog"],\n'
      echo "    // A canary goes into rsyslogd through its probe socket"
      echo "    // ($PROBE_PATH) and must come back through an"
      echo "    // input; never into the journal or the local files."
      printf '    "probe": { "target": "unix://%s" },\n' "$PROBE_SOCKET"
      printf '  },\n'
    fi
    printf '}\n'
  }
}

# effective_conf: the config the agent will run with (the existing one, or
# the one this run writes).
effective_conf() {
  if [ -e "$ROOT$CONF_PATH" ]; then printf '%s' "$ROOT$CONF_PATH"; else printf '%s' "$WORK_DIR/agent.json"; fi
}

# manages_rsyslogd: the effective config has rsyslogd.mode "external" or "child".
manages_rsyslogd() {
  conf_code "$(effective_conf)" | grep -Eq '"mode"[[:space:]]*:[[:space:]]*"(external|child)"'
}

install_config() {
  if [ -e "$ROOT$CONF_PATH" ]; then
    in_root "$ROOT$CONF_PATH"
    if [ -n "$COLLECTORS" ] || [ -n "$PROTOCOL" ]; then
      say "unchanged: $ROOT$CONF_PATH (exists, so --collector and --protocol were not applied: an existing config is never overwritten)"
    else
      say "unchanged: $ROOT$CONF_PATH"
    fi
    return 0
  fi
  put_dir "$CONF_DIR" 755
  if put_file "$WORK_DIR/agent.json" "$CONF_PATH" 644; then CONF_CHANGED=1; fi
}

# install_probe: the watchdog's probe socket, when the config sends canaries to it.
install_probe() {
  if conf_code "$(effective_conf)" | grep -q "unix://$PROBE_SOCKET"; then
    emit_rsyslog_probe >"$WORK_DIR/probe" || die "cannot write $WORK_DIR/probe"
    if put_file "$WORK_DIR/probe" "$PROBE_PATH" 644; then RSYSLOG_CHANGED=1; fi
  elif [ -e "$ROOT$PROBE_PATH" ] || [ -L "$ROOT$PROBE_PATH" ]; then
    if remove "$PROBE_PATH"; then RSYSLOG_CHANGED=1; fi
  fi
}

# install_journal_hop: where rsyslog reads the journal with imjournal (RHEL,
# Fedora), journald forwards to its syslog socket and rsyslogd reads that
# socket for the agent (89-syslog-agent-journal.conf), so that imjournal's rate
# limit does not decide what reaches the agent; elsewhere, neither.
install_journal_hop() {
  if [ "$JOURNAL_HOP" -eq 1 ]; then
    emit_rsyslog_journal >"$WORK_DIR/journal" || die "cannot write $WORK_DIR/journal"
    if put_file "$WORK_DIR/journal" "$JOURNAL_PATH" 644; then RSYSLOG_CHANGED=1; fi
    emit_journald_dropin >"$WORK_DIR/journald" || die "cannot write $WORK_DIR/journald"
    if put_file "$WORK_DIR/journald" "$JOURNALD_DROPIN" 644; then
      JOURNALD_CHANGED=1
      if [ "$DRY_RUN" -eq 0 ]; then outside "changed: journald forwards to its syslog socket (ForwardToSyslog=yes, $ROOT$JOURNALD_DROPIN), which rsyslogd reads for the agent ($ROOT$JOURNAL_PATH) instead of imjournal, whose rate limit (20,000 messages per 10 minutes) would drop them"; fi
    fi
    return 0
  fi
  if [ -e "$ROOT$JOURNAL_PATH" ] || [ -L "$ROOT$JOURNAL_PATH" ]; then
    if remove "$JOURNAL_PATH"; then RSYSLOG_CHANGED=1; fi
  fi
  if [ -e "$ROOT$JOURNALD_DROPIN" ] || [ -L "$ROOT$JOURNALD_DROPIN" ]; then
    if remove "$JOURNALD_DROPIN"; then
      JOURNALD_CHANGED=1
      remove_empty_dir "$ROOT$(dirname "$JOURNALD_DROPIN")"
      if [ "$DRY_RUN" -eq 0 ]; then outside "restored: journald's own ForwardToSyslog= (removed $ROOT$JOURNALD_DROPIN)"; fi
    fi
  fi
}

# --- logrotate: the distribution's entry for rsyslog's files, moved aside ------

# set_distro_logrotate PATH: the distribution's entry is PATH.
set_distro_logrotate() {
  DISTRO_LOGROTATE=$1
  DIVERTED_LOGROTATE="$1.syslog-agent.disabled"
}

# pick_distro_logrotate: which of DISTRO_LOGROTATE_NAMES is the distribution's
# entry for rsyslog's files here: one taken over already, else the one that
# exists (RHEL 8: syslog; Debian, Ubuntu, RHEL 9's rsyslog-logrotate: rsyslog),
# else the family's usual name.
pick_distro_logrotate() {
  if [ "$FAMILY" = rhel ]; then
    pdl_names="/etc/logrotate.d/syslog /etc/logrotate.d/rsyslog"
  else
    pdl_names=$DISTRO_LOGROTATE_NAMES
  fi
  for pdl_n in $pdl_names; do
    set_distro_logrotate "$pdl_n"
    if is_stub || [ -f "$ROOT$DIVERTED_LOGROTATE" ]; then return 0; fi
    if uses_dpkg && diverted_by_us; then return 0; fi
  done
  for pdl_n in $pdl_names; do
    if [ -f "$ROOT$pdl_n" ]; then
      set_distro_logrotate "$pdl_n"
      return 0
    fi
  done
  set_distro_logrotate "${pdl_names%% *}"
}

# uses_dpkg: the distribution's packages are dpkg's (not on the RHEL or SUSE
# families, even where a dpkg is installed: rpm would not honour a diversion).
uses_dpkg() {
  [ "$FAMILY" != rhel ] && [ "$FAMILY" != suse ] &&
    command -v dpkg-divert >/dev/null 2>&1 && [ -d "$ROOT/var/lib/dpkg" ]
}

dpkg_divert() {
  if [ -n "$ROOT" ]; then dpkg-divert --root "$ROOT" "$@"; else dpkg-divert "$@"; fi
}

diverted_by_us() {
  [ "$(dpkg_divert --listpackage "$DISTRO_LOGROTATE" 2>/dev/null)" = syslog-agent ]
}

# is_stub: what stands at the distribution's path is our comment-only file.
is_stub() {
  [ -f "$ROOT$DISTRO_LOGROTATE" ] && [ "$(head -n 1 "$ROOT$DISTRO_LOGROTATE")" = "$LOGROTATE_STUB_MARK" ]
}

emit_stub() {
  cat <<STUB
$LOGROTATE_STUB_MARK
# syslog-agent's install.sh moved the distribution's rotation of rsyslog's
# files to $DIVERTED_LOGROTATE (logrotate skips it) and
# rotates them with $LOGROTATE_PATH, whose postrotate runs
# "agent rotate". This comment-only file keeps the name taken, so that an
# rsyslog package upgrade writes its version next to it (.rpmnew) instead of
# bringing a second entry for the same files back. install.sh --uninstall
# puts the distribution's file back.
STUB
}

# take_over_logrotate: the distribution's entry moved aside, ours in place.
take_over_logrotate() {
  in_root "$ROOT$DISTRO_LOGROTATE"
  in_root "$ROOT$DIVERTED_LOGROTATE"
  if uses_dpkg; then
    if diverted_by_us; then
      say "unchanged: $ROOT$DISTRO_LOGROTATE is diverted to $ROOT$DIVERTED_LOGROTATE (dpkg-divert)"
    elif [ "$DRY_RUN" -eq 1 ]; then
      say "would divert: $ROOT$DISTRO_LOGROTATE to $ROOT$DIVERTED_LOGROTATE (dpkg-divert --package syslog-agent --rename)"
      changed
    else
      if ! tl_out=$(dpkg_divert --package syslog-agent --rename --divert "$DIVERTED_LOGROTATE" --add "$DISTRO_LOGROTATE" 2>&1); then
        stop "dpkg-divert of $DISTRO_LOGROTATE failed: $tl_out"
      fi
      outside "diverted: $ROOT$DISTRO_LOGROTATE to $ROOT$DIVERTED_LOGROTATE (dpkg-divert --package syslog-agent --rename: rsyslog upgrades update it there; logrotate skips it)"
      changed
    fi
  elif is_stub; then
    say "unchanged: $ROOT$DISTRO_LOGROTATE is moved aside to $ROOT$DIVERTED_LOGROTATE"
  elif [ -f "$ROOT$DISTRO_LOGROTATE" ]; then
    if [ "$DRY_RUN" -eq 1 ]; then
      say "would move aside: $ROOT$DISTRO_LOGROTATE to $ROOT$DIVERTED_LOGROTATE (no dpkg here), a comment-only file in its place"
      written "$DISTRO_LOGROTATE"
      changed
    else
      if ! mv -f "$ROOT$DISTRO_LOGROTATE" "$ROOT$DIVERTED_LOGROTATE"; then
        stop "cannot move $ROOT$DISTRO_LOGROTATE to $ROOT$DIVERTED_LOGROTATE"
      fi
      emit_stub >"$WORK_DIR/stub" || die "cannot write $WORK_DIR/stub"
      put_file "$WORK_DIR/stub" "$DISTRO_LOGROTATE" 644 >/dev/null || true
      outside "moved aside: $ROOT$DISTRO_LOGROTATE to $ROOT$DIVERTED_LOGROTATE (no dpkg here: renamed; logrotate skips it), and a comment-only file in its place, so that a package upgrade does not bring the entry back"
    fi
  else
    say "note: no $ROOT$DISTRO_LOGROTATE here: nothing to move aside"
  fi
  emit_logrotate >"$WORK_DIR/logrotate" || die "cannot write $WORK_DIR/logrotate"
  put_file "$WORK_DIR/logrotate" "$LOGROTATE_PATH" 644 || true
  warn_uncovered
  emit_logrotate_dropin >"$WORK_DIR/dropin" || die "cannot write $WORK_DIR/dropin"
  if put_file "$WORK_DIR/dropin" "$LOGROTATE_DROPIN" 644; then
    DROPIN_CHANGED=1
    if [ "$DRY_RUN" -eq 0 ]; then outside "changed: logrotate.service runs with MemoryDenyWriteExecute=no ($ROOT$LOGROTATE_DROPIN), which its postrotate \"agent rotate\" (V8) needs"; fi
  fi
}

# warn_uncovered: says which files the distribution's (moved aside) entry
# rotated that ours does not: they are no longer rotated.
warn_uncovered() {
  if [ ! -f "$ROOT$DIVERTED_LOGROTATE" ]; then return 0; fi
  wu_missing=$(awk '
    NR == FNR { if ($1 ~ /^\//) ours[$1] = 1; next }
    /^[[:space:]]*#/ { next }
    inside { if ($0 ~ /[}]/) inside = 0; next }
    {
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^[{]/) { inside = 1; break }
        p = $i
        if (sub(/[{]$/, "", p)) inside = 1
        if (p ~ /^\// && !(p in ours)) print p
        if (inside) break
      }
    }
  ' "$WORK_DIR/logrotate" "$ROOT$DIVERTED_LOGROTATE" | sort -u | tr '\n' ' ')
  if [ -n "$wu_missing" ]; then
    warn "the distribution's logrotate entry (now $ROOT$DIVERTED_LOGROTATE) also rotated ${wu_missing}which $LOGROTATE_PATH does not: they are not rotated now. Give them an entry of your own in /etc/logrotate.d with postrotate /usr/local/bin/agent rotate (an upgrade replaces $LOGROTATE_PATH), or run install.sh --no-logrotate"
  fi
}

# restore_logrotate: ours removed, the distribution's entry (whichever name it
# has) back.
restore_logrotate() {
  remove "$LOGROTATE_PATH" || true
  if remove "$LOGROTATE_DROPIN"; then
    DROPIN_CHANGED=1
    remove_empty_dir "$ROOT$(dirname "$LOGROTATE_DROPIN")"
    if [ "$DRY_RUN" -eq 0 ]; then outside "restored: logrotate.service's own MemoryDenyWriteExecute= (removed $ROOT$LOGROTATE_DROPIN)"; fi
  fi
  for rl_name in $DISTRO_LOGROTATE_NAMES; do
    set_distro_logrotate "$rl_name"
    restore_distro_entry
  done
}

# restore_distro_entry: DISTRO_LOGROTATE back, if this installer moved it aside.
restore_distro_entry() {
  in_root "$ROOT$DISTRO_LOGROTATE"
  in_root "$ROOT$DIVERTED_LOGROTATE"
  if uses_dpkg && diverted_by_us; then
    if [ "$DRY_RUN" -eq 1 ]; then
      say "would restore: $ROOT$DISTRO_LOGROTATE (dpkg-divert --rename --remove)"
    else
      if ! rl_out=$(dpkg_divert --package syslog-agent --rename --remove "$DISTRO_LOGROTATE" 2>&1); then
        stop "dpkg-divert --remove of $DISTRO_LOGROTATE failed: $rl_out"
      fi
      outside "restored: $ROOT$DISTRO_LOGROTATE (dpkg-divert --rename --remove)"
    fi
    changed
  elif [ -f "$ROOT$DIVERTED_LOGROTATE" ]; then
    if [ -e "$ROOT$DISTRO_LOGROTATE" ] && ! is_stub; then
      warn "$ROOT$DISTRO_LOGROTATE is back (a package upgrade?): kept it; the older copy stays at $ROOT$DIVERTED_LOGROTATE (remove it)"
      return 0
    fi
    if [ "$DRY_RUN" -eq 1 ]; then
      say "would restore: $ROOT$DISTRO_LOGROTATE from $ROOT$DIVERTED_LOGROTATE"
    else
      if ! mv -f "$ROOT$DIVERTED_LOGROTATE" "$ROOT$DISTRO_LOGROTATE"; then
        stop "cannot move $ROOT$DIVERTED_LOGROTATE back to $ROOT$DISTRO_LOGROTATE"
      fi
      outside "restored: $ROOT$DISTRO_LOGROTATE (from $ROOT$DIVERTED_LOGROTATE)"
    fi
    changed
  fi
}

install_logrotate() {
  if [ "$NO_RSYSLOG" -eq 1 ]; then
    say "skipped: logrotate takeover (no rsyslog here)"
    restore_logrotate
    return 0
  fi
  if [ "$ROTATE" -eq 0 ]; then
    say "skipped: logrotate takeover (--no-logrotate or --no-watchdog): the distribution's rotation of rsyslog's files stays"
    restore_logrotate
    return 0
  fi
  if ! manages_rsyslogd; then
    say "skipped: logrotate takeover: $CONF_PATH has no rsyslogd.mode \"external\" or \"child\", which \"agent rotate\" needs; set it, then run install.sh again"
    restore_logrotate
    return 0
  fi
  pick_distro_logrotate
  take_over_logrotate
}

# apply_to_running: the agent runs; make it use what changed.
apply_to_running() {
  if [ "$BIN_CHANGED" -eq 1 ] || [ "$UNIT_CHANGED" -eq 1 ] || [ "$CONF_CHANGED" -eq 1 ]; then
    systemctl restart "$UNIT_NAME" || die "systemctl restart $UNIT_NAME failed: see journalctl -u $UNIT_NAME"
    say "restarted: $UNIT_NAME (its binary, unit or config changed)"
    return 0
  fi
  # The config may have been edited since the agent started: the agent
  # knows what differs, and says when a reload is not enough.
  if ar_out=$("$BIN_PATH" reload --config "$CONF_PATH" 2>&1 </dev/null); then
    case "$ar_out" in
      *"next restart"*)
        systemctl restart "$UNIT_NAME" || die "systemctl restart $UNIT_NAME failed: see journalctl -u $UNIT_NAME"
        say "restarted: $UNIT_NAME (agent reload: $ar_out)"
        changed
        ;;
      *"no changes to apply"*)
        say "unchanged: $UNIT_NAME is running (agent reload: no changes to apply)"
        ;;
      *)
        say "reloaded: $UNIT_NAME ($ar_out)"
        changed
        ;;
    esac
  else
    systemctl restart "$UNIT_NAME" || die "systemctl restart $UNIT_NAME failed: see journalctl -u $UNIT_NAME"
    say "restarted: $UNIT_NAME (agent reload did not answer: $(printf '%s' "$ar_out" | head -n 1))"
    changed
  fi
}

# start_services: enables and (re)starts the agent; restarts rsyslog for its snippets.
start_services() {
  if ! "$BIN_PATH" check-config "$CONF_PATH" </dev/null; then
    die "$CONF_PATH is not valid (see above): fix it, then run: systemctl enable --now $UNIT_NAME"
  fi
  if [ "$UNIT_CHANGED" -eq 1 ] || [ "$DROPIN_CHANGED" -eq 1 ]; then
    systemctl daemon-reload
    say "reloaded: systemd units"
  fi
  if ! systemctl is-enabled --quiet "$UNIT_NAME" 2>/dev/null; then
    systemctl enable --quiet "$UNIT_NAME"
    say "enabled: $UNIT_NAME"
    changed
  fi
  if systemctl is-active --quiet "$UNIT_NAME"; then
    apply_to_running
  else
    systemctl start "$UNIT_NAME" || die "systemctl start $UNIT_NAME failed: see journalctl -u $UNIT_NAME"
    say "started: $UNIT_NAME"
    changed
  fi
  if [ "$JOURNALD_CHANGED" -eq 1 ]; then
    systemctl restart systemd-journald.service || warn "systemctl restart systemd-journald failed: $JOURNALD_DROPIN takes effect at its next start"
    outside "restarted: systemd-journald.service (to read $JOURNALD_DROPIN)"
  fi
  if [ "$RSYSLOG_CHANGED" -eq 1 ]; then
    if ! systemctl is-active --quiet rsyslog.service; then
      if manages_rsyslogd; then
        say "note: rsyslog.service is not running: the agent's watchdog (rsyslogd.mode external) starts it; until then nothing reaches the agent"
      else
        warn "rsyslog.service is not running: nothing reaches the agent until it does (systemctl enable --now rsyslog)"
      fi
    elif command -v rsyslogd >/dev/null 2>&1 && ! rsyslogd -N1 >/dev/null 2>&1; then
      warn "rsyslogd -N1 finds a problem in the rsyslog config (run it to see): rsyslog.service was not restarted; fix it, then: systemctl restart rsyslog"
    else
      systemctl restart rsyslog.service
      outside "restarted: rsyslog.service (to load $RSYSLOG_PATH and $PROBE_PATH)"
    fi
  fi
}

do_install() {
  if [ -z "$COLLECTORS" ] && [ ! -e "$ROOT$CONF_PATH" ]; then
    usage_error "no $ROOT$CONF_PATH yet: give the central collector with --collector HOST:PORT"
  fi
  detect_arch
  TARGET="$ARCH-unknown-linux-gnu"
  detect_os
  detect_selinux
  describe_os
  # Everything is fetched and verified before anything is written; rsyslog's
  # packages are fetched before they are installed.
  if get_binary; then have_binary=1; else have_binary=0; fi
  ensure_rsyslog
  choose_hop
  if [ "$NO_RSYSLOG" -eq 0 ] && rsyslog_reads_journal; then JOURNAL_HOP=1; fi
  if [ ! -e "$ROOT$CONF_PATH" ]; then write_config "$WORK_DIR/agent.json"; fi
  if [ "$have_binary" -eq 1 ]; then
    if [ -z "$ROOT" ] && [ "$DRY_RUN" -eq 0 ]; then
      # Run from where it goes (not TMPDIR, which may be noexec), before the rename.
      if put_file "$WORK_DIR/agent" "$BIN_PATH" 755 check_binary; then BIN_CHANGED=1; fi
    else
      if put_file "$WORK_DIR/agent" "$BIN_PATH" 755; then BIN_CHANGED=1; fi
    fi
  else
    say "would install: $ROOT$BIN_PATH (0755)"
    written "$BIN_PATH"
    changed
  fi
  emit_unit >"$WORK_DIR/unit" || die "cannot write $WORK_DIR/unit"
  if put_file "$WORK_DIR/unit" "$UNIT_PATH" 644; then UNIT_CHANGED=1; fi
  if [ "$NO_RSYSLOG" -eq 1 ]; then
    say "skipped: the rsyslog snippets (no rsyslog here)"
  else
    if [ "$HOP" = relp ]; then
      emit_rsyslog_relp >"$WORK_DIR/rsyslog" || die "cannot write $WORK_DIR/rsyslog"
    else
      emit_rsyslog_tcp >"$WORK_DIR/rsyslog" || die "cannot write $WORK_DIR/rsyslog"
    fi
    if put_file "$WORK_DIR/rsyslog" "$RSYSLOG_PATH" 644; then RSYSLOG_CHANGED=1; fi
    install_probe
    install_journal_hop
  fi
  install_config
  put_dir "$SPOOL_DIR" 750
  install_logrotate
  case "$HOP" in
    relp) selinux_label_port "$RELP_PORT" ;;
    tcp) selinux_label_port "$TCP_PORT" ;;
  esac
  selinux_restorecon
  if [ -n "$ROOT" ]; then
    host_next "systemctl daemon-reload && systemctl enable --now $UNIT_NAME"
    if [ "$JOURNAL_HOP" -eq 1 ]; then host_next "systemctl restart systemd-journald"; fi
    if [ "$NO_RSYSLOG" -eq 0 ]; then host_next "systemctl restart rsyslog"; fi
  fi

  if [ "$DRY_RUN" -eq 1 ]; then
    if [ -n "$ROOT" ]; then say "would leave for the host: $HOST_NEXT"; fi
    say "dry run: nothing was changed ($CHANGES change(s) planned)"
    return 0
  fi
  if [ -n "$ROOT" ]; then
    say "staged into $ROOT; nothing was started or installed. On the host: $HOST_NEXT"
  elif [ "$NO_START" -eq 1 ]; then
    say "not started (--no-start). Next: systemctl daemon-reload && systemctl enable --now $UNIT_NAME$([ "$JOURNAL_HOP" -eq 1 ] && echo " && systemctl restart systemd-journald")$([ "$NO_RSYSLOG" -eq 0 ] && echo " && systemctl restart rsyslog"); then: agent status"
  elif ! manages_services; then
    say "systemd is not running on this host (no /run/systemd/system): start the agent with your init system: $BIN_PATH run --config $CONF_PATH; then: agent status"
  else
    start_services
    say "done. Check it with: agent status"
  fi
  report_outside
  if [ "$CHANGES" -eq 0 ]; then
    say "nothing to do: syslog-agent is installed as asked"
  fi
}

report_outside() {
  if [ -n "$OUTSIDE" ]; then
    say "changed outside syslog-agent's own files (--uninstall undoes these):$OUTSIDE"
  fi
}

# --- uninstall -----------------------------------------------------------------

do_uninstall() {
  detect_os
  if manages_services && [ -e "$UNIT_PATH" ]; then
    systemctl disable --now --quiet "$UNIT_NAME" || warn "systemctl disable --now $UNIT_NAME failed; removing the files anyway"
    say "stopped and disabled: $UNIT_NAME"
  fi
  un_rsyslog=0
  remove "$BIN_PATH" || true
  UNIT_CHANGED=0
  if remove "$UNIT_PATH"; then UNIT_CHANGED=1; fi
  # Left by "systemctl enable" when a staged root was enabled offline.
  if [ -e "$ROOT$WANTS_LINK" ] || [ -L "$ROOT$WANTS_LINK" ]; then remove "$WANTS_LINK" || true; fi
  restore_logrotate
  un_removes_rsyslog=0
  if [ -n "$(state_values package)" ]; then un_removes_rsyslog=1; fi
  if [ "$un_removes_rsyslog" -eq 0 ] && have_rsyslogd && [ -e "$ROOT/etc/logrotate.d" ]; then
    un_any=0
    for un_name in $DISTRO_LOGROTATE_NAMES; do
      if [ -e "$ROOT$un_name" ]; then un_any=1; fi
    done
    if [ "$un_any" -eq 0 ]; then
      say "note: rsyslog's log files are not rotated: neither of $DISTRO_LOGROTATE_NAMES is there (restore it, e.g. apt-get install --reinstall -o Dpkg::Options::=--force-confmiss rsyslog, or dnf reinstall rsyslog)"
    fi
  fi
  if remove "$RSYSLOG_PATH"; then un_rsyslog=1; fi
  if [ -e "$ROOT$PROBE_PATH" ] || [ -L "$ROOT$PROBE_PATH" ]; then
    if remove "$PROBE_PATH"; then un_rsyslog=1; fi
  else
    remove "$PROBE_PATH" || true
  fi
  JOURNAL_HOP=0
  install_journal_hop
  if [ "$RSYSLOG_CHANGED" -eq 1 ]; then un_rsyslog=1; fi
  selinux_unlabel
  remove_packages
  if [ "$PURGE" -eq 1 ]; then
    remove_tree "$CONF_DIR"
    remove_tree "$SPOOL_DIR"
  else
    if [ -e "$ROOT$CONF_DIR" ]; then say "kept: $ROOT$CONF_DIR (--purge removes it)"; fi
    if [ -e "$ROOT$SPOOL_DIR" ]; then say "kept: $ROOT$SPOOL_DIR (--purge removes it)"; fi
  fi
  if manages_services; then
    if [ "$UNIT_CHANGED" -eq 1 ] || [ "$DROPIN_CHANGED" -eq 1 ]; then systemctl daemon-reload; fi
    if [ "$JOURNALD_CHANGED" -eq 1 ]; then
      systemctl restart systemd-journald.service || warn "systemctl restart systemd-journald failed"
      outside "restarted: systemd-journald.service (without $JOURNALD_DROPIN)"
    fi
    if [ "$un_rsyslog" -eq 1 ] && have_rsyslogd && systemctl is-active --quiet rsyslog.service; then
      systemctl restart rsyslog.service
      outside "restarted: rsyslog.service (without syslog-agent's snippets)"
    fi
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "dry run: nothing was changed ($CHANGES change(s) planned)"
  elif [ "$CHANGES" -eq 0 ]; then
    say "nothing to do: syslog-agent is not installed"
  else
    if [ -n "$OUTSIDE" ]; then say "changed outside syslog-agent's own files:$OUTSIDE"; fi
    if [ -n "$ROOT" ] && [ -n "$HOST_NEXT" ]; then say "on the host: $HOST_NEXT"; fi
    say "syslog-agent removed"
  fi
}

main() {
  parse_args "$@"
  need_root
  if [ -n "$ROOT" ]; then
    ROOT_REAL=$(realpath -m -- "$ROOT") || die "--root: cannot resolve $ROOT"
  fi
  if [ -n "$TRUSTED_KEY" ]; then
    warn "WARNING: --trusted-key $TRUSTED_KEY: the release key is NOT used; whatever that key signed is installed as syslog-agent. Only for builds of your own and tests"
  fi
  trap cleanup EXIT
  trap 'cleanup; exit 130' INT
  trap 'cleanup; exit 143' TERM
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/syslog-agent-install.XXXXXX") || die "cannot create a temporary directory in ${TMPDIR:-/tmp}: set TMPDIR to a writable directory"
  if [ "$DRY_RUN" -eq 1 ]; then say "dry run: showing what would be done"; fi
  state_read
  if [ "$UNINSTALL" -eq 1 ]; then
    do_uninstall
  else
    do_install
  fi
}

main "$@"
