#!/usr/bin/env bash
# ZooKeeper 3.8 (Debian package), standalone, own config; for the coordination tests.
# Usage: zookeeper.sh install|start|stop|status      Env: SLUICE_ZK_PORT (default 12181)
# The package's own /etc/zookeeper config and service are not used: we run the server class.
set -euo pipefail
SVC=zookeeper
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${SLUICE_ZK_PORT:-12181}"
DIR="$SLUICE_SVC_DIR/zookeeper"
PIDFILE="$DIR/zk.pid"
MATCH="$DIR/zoo.cfg"   # the JVM's last argument: identifies our instance
# Debian's zookeeper.jar has a manifest Class-Path with its deps: these three jars suffice.
CP=/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar

# Send a four-letter-word command and print the answer (no nc on the image: bash /dev/tcp).
# timeout: a SIGSTOPped server accepts the connect but never answers.
fourlw() {
  # shellcheck disable=SC2016  # $1/$2 are expanded by the inner bash, from the args after _
  timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf %s "$2" >&3 && cat <&3' \
    _ "$PORT" "$1" 2>/dev/null
}
healthy() { [ "$(fourlw ruok)" = imok ]; }

write_config() {
  # admin.enableServer=false: the Jetty admin server would take port 8080 (the manager's).
  # 4lw whitelist: 3.5+ allows only srvr by default; the ready check needs ruok.
  cat > "$DIR/zoo.cfg" <<EOF
# Written by tests/services/zookeeper.sh at each start; edits here are lost.
tickTime=2000
dataDir=$DIR/data
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr,conf
EOF
  cat > "$DIR/log4j.properties" <<EOF
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=$DIR/zookeeper.log
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n
EOF
}

installed() {
  command -v java >/dev/null && [ -f /usr/share/java/zookeeper.jar ] &&
    [ -f /usr/share/java/slf4j-log4j12.jar ] && [ -f /usr/share/java/log4j-1.2.jar ]
}

svc_packages() { echo zookeeper; }

svc_install() {
  if installed; then
    log "installed: zookeeper $(dpkg-query -W -f='${Version}' zookeeper 2>/dev/null || echo '?')"
    return 0
  fi
  # shellcheck disable=SC2046  # word splitting of the package list is intended
  apt_install $(svc_packages)
  installed || die "zookeeper jars or java missing after install"
}

svc_start() {
  installed || die "not installed: run $SVC_SCRIPTS_DIR/install.sh zookeeper"
  already_running && return 0
  mkdir -p "$DIR/data"
  write_config
  local t0; t0=$(now)
  # setsid: own session, so a Ctrl-C or a kill of the caller's process group does not reach it.
  setsid java -Xmx256m -Dzookeeper.log.dir="$DIR" \
    -Dlog4j.configuration="file:$DIR/log4j.properties" -cp "$CP" \
    org.apache.zookeeper.server.ZooKeeperServerMain "$DIR/zoo.cfg" \
    > "$DIR/zk.out" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  await_ready "$t0" "$DIR/zookeeper.log" "$DIR/zk.out"
}

svc_stop() { stop_service TERM; }
svc_status() { status_service; }

dispatch "$@"
