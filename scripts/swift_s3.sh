#!/usr/bin/env bash
# A single-node OpenStack Swift with the s3api middleware, for testing stint's
# sync against an S3 server that really checks SigV4 signatures.
#
#   scripts/swift_s3.sh install   install the Debian packages when missing
#   scripts/swift_s3.sh start     lay out config + rings, start, wait until healthy
#   scripts/swift_s3.sh stop      stop the servers this script started
#   scripts/swift_s3.sh env       print the variables a test needs (sh syntax)
#   scripts/swift_s3.sh status    say whether it is up
#
# Everything lives under $SWIFT_S3_DIR (default /tmp/stint-swift): config,
# rings, a plain directory as the one "disk" (mount_check = false), pid files
# and logs. Auth is tempauth with one S3 user (access key `stint:tester`);
# its secret is random, made on the first start and kept 0600 in the state dir.
# Ports (127.0.0.1 only): proxy $SWIFT_S3_PORT (default 18080), object,
# container and account servers and memcached on the four ports after it.
# Keep the base port below 32768: above it, outgoing connections borrow ports.
set -euo pipefail

DIR=${SWIFT_S3_DIR:-/tmp/stint-swift}
PORT=${SWIFT_S3_PORT:-18080}
OBJ_PORT=$((PORT + 1))
CONT_PORT=$((PORT + 2))
ACCT_PORT=$((PORT + 3))
MC_PORT=$((PORT + 4))
REGION=us-east-1
ACCESS_KEY=stint:tester
# tempauth keeps its tokens in memcache, so memcached is needed too.
PACKAGES=(swift-proxy swift-object swift-container swift-account memcached)
SERVERS=(object container account proxy)
PROCS=(memcached "${SERVERS[@]}")
# Debian's python3 (a pyenv or venv python3 on PATH does not see the swift package).
PY=/usr/bin/python3

log() { echo "swift_s3: $*" >&2; }

installed() {
  command -v swift-proxy-server >/dev/null 2>&1 &&
    command -v swift-object-server >/dev/null 2>&1 &&
    command -v swift-container-server >/dev/null 2>&1 &&
    command -v swift-account-server >/dev/null 2>&1 &&
    command -v swift-ring-builder >/dev/null 2>&1 &&
    command -v memcached >/dev/null 2>&1 &&
    "$PY" -c 'import swift.common.middleware.s3api.s3api' >/dev/null 2>&1
}

do_install() {
  if installed; then
    log "Swift is already installed ($(dpkg-query -W -f='${Version}' swift-proxy 2>/dev/null || echo '?'))"
    return 0
  fi
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo -n)
  log "installing ${PACKAGES[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed (trying the install anyway)"
  # Recommends pull in keystone and barbican clients that tempauth does not need.
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >"${TMPDIR:-/tmp}/swift_s3_install.log" 2>&1 || {
    log "apt-get install failed; the last lines of ${TMPDIR:-/tmp}/swift_s3_install.log:"
    tail -5 "${TMPDIR:-/tmp}/swift_s3_install.log" >&2
    return 1
  }
  installed || { log "the packages installed but the s3api middleware is missing"; return 1; }
  log "installed swift $(dpkg-query -W -f='${Version}' swift-proxy)"
}

secret() {
  if [ ! -s "$DIR/secret" ]; then
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/secret")
  fi
  cat "$DIR/secret"
}

write_config() {
  local etc=$DIR/etc user key
  user=$(id -un)
  key=$(secret)
  mkdir -p "$etc" "$DIR/node/d1" "$DIR/run" "$DIR/log" "$DIR/cache"
  cat >"$etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_suffix = stint-test-suffix
swift_hash_path_prefix = stint-test-prefix

[storage-policy:0]
name = Policy-0
default = yes
EOF
  local common="
swift_dir = $etc
devices = $DIR/node
mount_check = false
bind_ip = 127.0.0.1
workers = 1
user = $user
log_level = INFO
"
  cat >"$etc/object-server.conf" <<EOF
[DEFAULT]
$common
bind_port = $OBJ_PORT

[pipeline:main]
pipeline = object-server

[app:object-server]
use = egg:swift#object
EOF
  cat >"$etc/container-server.conf" <<EOF
[DEFAULT]
$common
bind_port = $CONT_PORT

[pipeline:main]
pipeline = container-server

[app:container-server]
use = egg:swift#container
EOF
  cat >"$etc/account-server.conf" <<EOF
[DEFAULT]
$common
bind_port = $ACCT_PORT

[pipeline:main]
pipeline = account-server

[app:account-server]
use = egg:swift#account
EOF
  # s3api must sit before tempauth; slo backs S3 multipart uploads.
  (umask 077 && cat >"$etc/proxy-server.conf" <<EOF
[DEFAULT]
swift_dir = $etc
bind_ip = 127.0.0.1
bind_port = $PORT
workers = 1
user = $user
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = false

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MC_PORT

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:s3api]
use = egg:swift#s3api
location = $REGION
s3_acl = false
allow_multipart_uploads = true
check_bucket_owner = false

[filter:tempauth]
use = egg:swift#tempauth
user_stint_tester = $key .admin

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
EOF
  )
}

build_rings() {
  local etc=$DIR/etc kind port
  for kind in object container account; do
    case $kind in
      object) port=$OBJ_PORT ;;
      container) port=$CONT_PORT ;;
      account) port=$ACCT_PORT ;;
    esac
    # Rebuild when the port changed (the ring records it).
    if [ -f "$etc/$kind.ring.gz" ] && [ -f "$etc/$kind.port" ] && [ "$(cat "$etc/$kind.port")" = "$port" ]; then
      continue
    fi
    rm -f "$etc/$kind.builder" "$etc/$kind.ring.gz"
    (
      cd "$etc"
      swift-ring-builder "$kind.builder" create 6 1 1 >/dev/null
      swift-ring-builder "$kind.builder" add "r1z1-127.0.0.1:$port/d1" 100 >/dev/null
      swift-ring-builder "$kind.builder" rebalance >/dev/null
    ) || { log "swift-ring-builder failed for the $kind ring"; return 1; }
    echo "$port" >"$etc/$kind.port"
  done
}

pid_alive() {
  local f=$DIR/run/$1.pid
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

healthy() {
  "$PY" - "$PORT" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen("http://127.0.0.1:%s/healthcheck" % sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
}

port_free() {
  "$PY" - "$1" <<'EOF' >/dev/null 2>&1
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.close()
EOF
}

do_start() {
  installed || { log "Swift is not installed: run '$0 install' first"; return 1; }
  if pid_alive proxy && healthy; then
    log "already running on 127.0.0.1:$PORT"
    return 0
  fi
  do_stop >/dev/null 2>&1 || true
  local p
  for p in "$PORT" "$OBJ_PORT" "$CONT_PORT" "$ACCT_PORT" "$MC_PORT"; do
    port_free "$p" || { log "port $p on 127.0.0.1 is in use: set SWIFT_S3_PORT to another base port"; return 1; }
  done
  write_config
  build_rings
  local s
  setsid memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 32 -u "$(id -un)" \
    >"$DIR/log/memcached.log" 2>&1 </dev/null &
  echo $! >"$DIR/run/memcached.pid"
  for s in "${SERVERS[@]}"; do
    # -v logs to the console (there is no syslog here); setsid so stop can end the group.
    setsid "swift-$s-server" "$DIR/etc/$s-server.conf" -v \
      >"$DIR/log/$s.log" 2>&1 </dev/null &
    echo $! >"$DIR/run/$s.pid"
  done
  local i
  for i in $(seq 1 120); do
    if healthy && s3_ready; then
      log "running on http://127.0.0.1:$PORT (state in $DIR)"
      return 0
    fi
    for s in "${PROCS[@]}"; do
      if ! pid_alive "$s"; then
        log "$s exited while starting; the last lines of $DIR/log/$s.log:"
        tail -15 "$DIR/log/$s.log" >&2
        do_stop >/dev/null 2>&1 || true
        return 1
      fi
    done
    sleep 0.5
  done
  log "Swift did not become healthy within 60 s; see $DIR/log/"
  tail -5 "$DIR/log/proxy.log" >&2 || true
  do_stop >/dev/null 2>&1 || true
  return 1
}

# A signed S3 ListBuckets through the real middleware stack: healthcheck alone
# answers before auth, rings and the backend servers are ready.
s3_ready() {
  "$PY" - "$PORT" "$ACCESS_KEY" "$(secret)" "$REGION" <<'EOF' >/dev/null 2>&1
import datetime, hashlib, hmac, sys, urllib.request
port, ak, sk, region = sys.argv[1:5]
now = datetime.datetime.now(datetime.timezone.utc)
amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
host = "127.0.0.1:%s" % port
ph = hashlib.sha256(b"").hexdigest()
creq = "\n".join(["GET", "/", "", "host:%s" % host, "x-amz-content-sha256:%s" % ph,
                  "x-amz-date:%s" % amz, "", "host;x-amz-content-sha256;x-amz-date", ph])
scope = "%s/%s/s3/aws4_request" % (day, region)
sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
def h(k, m): return hmac.new(k, m.encode(), hashlib.sha256).digest()
k = h(h(h(h(("AWS4" + sk).encode(), day), region), "s3"), "aws4_request")
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
req = urllib.request.Request("http://%s/" % host, headers={
    "x-amz-date": amz, "x-amz-content-sha256": ph,
    "Authorization": "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s" % (ak, scope, sig)})
with urllib.request.urlopen(req, timeout=3) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
}

do_stop() {
  local s pid any=0
  for s in "${PROCS[@]}"; do
    if [ -f "$DIR/run/$s.pid" ]; then
      pid=$(cat "$DIR/run/$s.pid")
      if kill -0 "$pid" 2>/dev/null; then
        # Each server is its own session leader (setsid): end its workers too.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        any=1
      fi
    fi
  done
  if [ "$any" -eq 1 ]; then
    local i
    for i in $(seq 1 40); do
      local alive=0
      for s in "${PROCS[@]}"; do pid_alive "$s" && alive=1; done
      [ "$alive" -eq 0 ] && break
      sleep 0.25
    done
    for s in "${PROCS[@]}"; do
      if pid_alive "$s"; then
        pid=$(cat "$DIR/run/$s.pid")
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      fi
    done
  fi
  rm -f "$DIR"/run/*.pid
  log "stopped"
}

do_env() {
  cat <<EOF
SWIFT_S3_ENDPOINT=http://127.0.0.1:$PORT
SWIFT_S3_REGION=$REGION
SWIFT_S3_ACCESS_KEY=$ACCESS_KEY
SWIFT_S3_SECRET_KEY=$(secret)
EOF
}

case ${1:-} in
  install) do_install ;;
  start) do_start ;;
  stop) do_stop ;;
  env) do_env ;;
  status)
    if pid_alive proxy && healthy; then echo "running on http://127.0.0.1:$PORT"; else echo "not running"; exit 1; fi
    ;;
  *)
    echo "Usage: $0 install|start|stop|env|status" >&2
    exit 2
    ;;
esac
