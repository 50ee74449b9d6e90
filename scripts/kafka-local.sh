#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) for dev and CI.
#
#   bash scripts/kafka-local.sh start [--fresh]   # prints progress on stderr, LAST stdout line = bootstrap address
#   bash scripts/kafka-local.sh stop
#   bash scripts/kafka-local.sh status            # "running 127.0.0.1:PORT (pid N)" (exit 0) or "stopped" (exit 1)
#   bash scripts/kafka-local.sh logs [LINES]      # tail of the broker log
#   bash scripts/kafka-local.sh tool CLASS ARGS... # a Kafka tool from the cached jars, e.g. kafka.admin.ConfigCommand
#
#   addr=$(bash scripts/kafka-local.sh start | tail -n1)
#
# No Docker and no Kafka tarball needed: the broker jars come from Maven Central through the
# machine's Maven (org.apache.kafka:kafka_2.13 + runtime deps + a log4j2 slf4j binding), cached in
# <cache>/kafka/<version>/libs. Broker state lives in <cache>/kafka-run/<port>/.
#
# Environment:
#   KAFKA_VERSION         Kafka version from Maven Central           (default 4.1.2)
#   KAFKA_LOCAL_PORT      client listener port; controller = port+1  (default 19092)
#   KAFKA_LOCAL_FRESH=1   same as `start --fresh`: wipe the run folder first
#   KAFKA_HEAP_OPTS       broker heap                                (default -Xmx768m -Xms256m)
#   KAFKA_START_TIMEOUT   seconds to wait for the broker to answer   (default 120)
#   KAFKA_STOP_TIMEOUT    seconds between SIGTERM and SIGKILL        (default 30)
#   KAFKA_LOCAL_OVERLAY   properties file appended to the generated server.properties (a later key wins:
#                         scripts/kafka-secure.sh adds its TLS and SASL listeners this way)
#   KAFKA_LOCAL_FORMAT_ARGS  extra arguments of the storage format, one a line (e.g. --add-scram ...)
#   AC_CACHE_DIR          cache root instead of <repo>/.cache
#   JAVA_HOME             Java 17+ to use (default: `java` on PATH)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
PORT="${KAFKA_LOCAL_PORT:-19092}"
HOST=127.0.0.1
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx768m -Xms256m}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

CACHE_ROOT="${AC_CACHE_DIR:-$ROOT/.cache}"
[[ "$CACHE_ROOT" = /* ]] || CACHE_ROOT="$PWD/$CACHE_ROOT"   # the run path must be absolute: stop matches it in /proc
DIST_DIR="$CACHE_ROOT/kafka/$KAFKA_VERSION"
LIBS="$DIST_DIR/libs"
RUN_DIR="$CACHE_ROOT/kafka-run/$PORT"
DATA_DIR="$RUN_DIR/data"
LOG_DIR="$RUN_DIR/logs"
PID_FILE="$RUN_DIR/kafka.pid"
ADDR="$HOST:$PORT"

log() { echo "kafka-local: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] && (( PORT > 0 && PORT < 65535 )) || die "KAFKA_LOCAL_PORT must be a port number, got '$PORT'"
CONTROLLER_PORT=$((PORT + 1))

# ---------------------------------------------------------------------------------------------
# Jars: fetched once per version. Everything lands in a temp folder that is renamed into place
# and then marked complete, so an interrupted download is simply redone on the next start.
# ---------------------------------------------------------------------------------------------
# Maven's output goes to stderr: stdout is reserved for the bootstrap address. Debian's Maven 3.8
# prints bare ANSI resets even with -B, so those are stripped. pipefail keeps mvn's exit status.
run_mvn() {
  mvn -q -B -Dstyle.color=never -f "$DIST_DIR/pom.xml" "$@" 2>&1 </dev/null \
    | sed -u 's/\x1b\[[0-9;]*m//g' >&2
}

ensure_jars() {
  if [[ -f "$DIST_DIR/.complete" && -d "$LIBS" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch Kafka $KAFKA_VERSION jars)"
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS (one-time)..."
  mkdir -p "$DIST_DIR"
  rm -rf "$LIBS" "$LIBS.tmp" "$DIST_DIR/.complete"
  cat >"$DIST_DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.ac-list-sync</groupId>
  <artifactId>kafka-local-libs</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  local plugin=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
  run_mvn "$plugin:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" \
    || die "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION"

  # kafka_2.13's pom brings log4j-api/-core and slf4j-api but no slf4j binding (the Kafka
  # distribution adds it itself), so without one the broker logs nothing at all. Pick the binding
  # that matches the slf4j major version and the log4j version Kafka resolved to.
  local log4j_jar log4j_ver binding=log4j-slf4j-impl
  log4j_jar="$(cd "$LIBS.tmp" && ls log4j-core-*.jar 2>/dev/null | head -n1)"
  [[ -n "$log4j_jar" ]] || die "no log4j-core jar among Kafka's dependencies; cannot set up broker logging"
  log4j_ver="${log4j_jar#log4j-core-}"; log4j_ver="${log4j_ver%.jar}"
  if ls "$LIBS.tmp"/slf4j-api-2.*.jar >/dev/null 2>&1; then binding=log4j-slf4j2-impl; fi
  run_mvn "$plugin:copy" -Dartifact="org.apache.logging.log4j:$binding:$log4j_ver" \
    -DoutputDirectory="$LIBS.tmp" || die "mvn could not fetch $binding:$log4j_ver"

  mv "$LIBS.tmp" "$LIBS"
  touch "$DIST_DIR/.complete"
  log "cached $(ls "$LIBS" | wc -l) jars"
}

# ---------------------------------------------------------------------------------------------
# Config files, regenerated on every start (cheap, and picks up script changes).
# ---------------------------------------------------------------------------------------------
write_config() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  # Static single-voter quorum: formatting needs only a cluster id (no --standalone dance).
  cat >"$RUN_DIR/server.properties" <<EOF
# Generated by scripts/kafka-local.sh; edits are overwritten on the next start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA_DIR

# One node: every internal topic must have replication factor 1 or it can never be created.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer partitions for internal topics (default 50): the first consumer group / transaction on a
# fresh broker is ready much sooner, which is what tests care about.
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.num.partitions=1

# Tests want groups to settle now, and topics to appear on first use.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
EOF
  if [[ -n "${KAFKA_LOCAL_OVERLAY:-}" ]]; then
    [[ -f "$KAFKA_LOCAL_OVERLAY" ]] || die "KAFKA_LOCAL_OVERLAY: no file $KAFKA_LOCAL_OVERLAY"
    { echo; echo "# From $KAFKA_LOCAL_OVERLAY (KAFKA_LOCAL_OVERLAY)"; cat "$KAFKA_LOCAL_OVERLAY"; } >>"$RUN_DIR/server.properties"
  fi

  # log4j2 properties format: understood by log4j-core without extra jars (the YAML config that
  # the Kafka tarball ships would need jackson-dataformat-yaml wiring). Broker log -> server.log.
  cat >"$RUN_DIR/log4j2.properties" <<EOF
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $LOG_DIR/server.log
appender.file.filePattern = $LOG_DIR/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF

  # One-shot tools (storage format): warnings to the console, captured in logs/format.log, so
  # they don't clobber the broker's server.log.
  cat >"$RUN_DIR/log4j2-tool.properties" <<EOF
status = warn
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
EOF
}

java_cmd() { # java_cmd HEAP LOG4J_CONFIG MAIN ARGS... -> the full command line in array KJAVA
  local heap="$1" log4j="$2"; shift 2
  # shellcheck disable=SC2206  # heap options are meant to word-split
  KJAVA=("$JAVA" $heap -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true
    -Dkafka.local.run="$RUN_DIR"
    -Dlog4j2.configurationFile="$log4j" -Dkafka.logs.dir="$LOG_DIR"
    -cp "$LIBS/*" "$@")
}

# ---------------------------------------------------------------------------------------------
# Storage: formatted once per run folder. Reformatted when its metadata does not match what we
# recorded (missing/half-written meta.properties, other cluster id, other node id).
# ---------------------------------------------------------------------------------------------
storage_is_consistent() {
  local meta="$DATA_DIR/meta.properties"
  [[ -f "$RUN_DIR/.formatted" && -f "$RUN_DIR/cluster.id" && -f "$meta" ]] || return 1
  [[ -d "$DATA_DIR/__cluster_metadata-0" ]] || return 1
  grep -qx "cluster.id=$(cat "$RUN_DIR/cluster.id")" "$meta" || return 1
  grep -qx "node.id=1" "$meta" || return 1
}

ensure_storage() {
  if storage_is_consistent; then return 0; fi
  if [[ -e "$DATA_DIR" ]] && [[ -n "$(ls -A "$DATA_DIR" 2>/dev/null)" ]]; then
    log "storage in $DATA_DIR is missing or inconsistent metadata; reformatting (old data discarded)"
  fi
  rm -rf "$DATA_DIR" "$RUN_DIR/.formatted"
  mkdir -p "$DATA_DIR"
  # A Kafka Uuid is 16 random bytes in unpadded URL-safe base64 (what `storage random-uuid` prints).
  head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22 >"$RUN_DIR/cluster.id"
  log "formatting KRaft storage (cluster id $(cat "$RUN_DIR/cluster.id"))"
  local extra=()
  [[ -n "${KAFKA_LOCAL_FORMAT_ARGS:-}" ]] && mapfile -t extra <<<"$KAFKA_LOCAL_FORMAT_ARGS"
  java_cmd "-Xmx256m" "$RUN_DIR/log4j2-tool.properties" kafka.tools.StorageTool format -t "$(cat "$RUN_DIR/cluster.id")" \
    -c "$RUN_DIR/server.properties" "${extra[@]}"
  if ! "${KJAVA[@]}" </dev/null >"$LOG_DIR/format.log" 2>&1; then
    tail -n 30 "$LOG_DIR/format.log" >&2
    die "formatting storage failed (full output: $LOG_DIR/format.log)"
  fi
  touch "$RUN_DIR/.formatted"
}

# ---------------------------------------------------------------------------------------------
# Process checks.
# ---------------------------------------------------------------------------------------------
# Prints the PID from the PID file if it is alive AND is a java process whose command line
# contains our run folder (a recycled PID must never be signalled).
our_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid cmd
  pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmd="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  [[ "$cmd" == *java* && "$cmd" == *"-Dkafka.local.run=$RUN_DIR "* ]] || return 1
  echo "$pid"
}

# Speaks the Kafka protocol: sends ApiVersions (v0, no client id) and checks that a response
# with our correlation id comes back. Proves the broker accepts and serves requests, not merely
# that something listens on the port.
broker_answers() {
  local out
  out="$(timeout 5 bash -c '
      exec 3<>"/dev/tcp/$0/$1" || exit 1
      printf "\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\xff\xff" >&3
      head -c 8 <&3 | od -An -tx1 | tr -d " \n"' "$HOST" "$PORT" 2>/dev/null)" || return 1
  [[ "${out:8:8}" == 00000001 ]]
}

port_in_use() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null; }

log_tail() {
  local f
  for f in "$LOG_DIR/server.log" "$LOG_DIR/stdout.log"; do
    [[ -s "$f" ]] || continue
    echo "----- last lines of $f -----" >&2
    tail -n "${1:-40}" "$f" >&2
  done
}

# Waits until our process has logged "Kafka Server started" (this run: the log is rotated at each
# start) and answers ApiVersions. Fails early if the process dies.
wait_ready() {
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail 60
      die "broker process $pid exited during startup"
    fi
    if grep -q "Kafka Server started" "$LOG_DIR/server.log" 2>/dev/null && broker_answers; then
      return 0
    fi
    if (( SECONDS >= deadline )); then
      log_tail 60
      # A broker that is not ready in time is not left behind holding the port and ~1 GB of RAM.
      stop_locked
      die "broker did not answer on $ADDR within ${START_TIMEOUT}s (KAFKA_START_TIMEOUT); stopped it"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------------
# Commands.
# ---------------------------------------------------------------------------------------------
lock_run_dir() {
  # Serialises concurrent start/stop calls for this port (fd 9 is closed for the broker itself).
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock -w "$((START_TIMEOUT + 60))" 9 || die "another kafka-local.sh holds $RUN_DIR/.lock"
}

cmd_start() {
  local fresh="${KAFKA_LOCAL_FRESH:-0}" arg
  for arg in "$@"; do
    case "$arg" in
      --fresh) fresh=1 ;;
      *) die "unknown option for start: $arg" ;;
    esac
  done
  command -v "$JAVA" >/dev/null || die "java not found (need Java 17+; set JAVA_HOME)"
  lock_run_dir

  local pid
  if [[ "$fresh" == 1 ]]; then
    if our_pid >/dev/null; then stop_locked; fi
    log "--fresh: wiping $RUN_DIR"
    # Keep the lock file we hold; everything else goes.
    find "$RUN_DIR" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
  elif pid="$(our_pid)"; then
    log "broker already running (pid $pid), checking it answers..."
    wait_ready "$pid"
    echo "$ADDR"
    return 0
  fi
  rm -f "$PID_FILE"

  if port_in_use "$PORT" || port_in_use "$CONTROLLER_PORT"; then
    die "port $PORT or $CONTROLLER_PORT on $HOST is taken by a process this script did not start; set KAFKA_LOCAL_PORT"
  fi

  ensure_jars
  write_config
  ensure_storage

  # Start this run with a fresh server.log so the readiness check cannot see an old "started".
  [[ -f "$LOG_DIR/server.log" ]] && mv -f "$LOG_DIR/server.log" "$LOG_DIR/server.previous.log"
  rm -f "$LOG_DIR"/server.log.[0-9]*

  java_cmd "$HEAP_OPTS" "$RUN_DIR/log4j2.properties" kafka.Kafka "$RUN_DIR/server.properties"
  log "starting Kafka $KAFKA_VERSION on $ADDR (controller $HOST:$CONTROLLER_PORT, run folder $RUN_DIR)"
  # setsid: own session, so the broker outlives this script and the caller's Ctrl-C / job control.
  # All std fds go to files and the lock fd is closed: a caller doing $(... start | tail -n1)
  # would otherwise wait on our pipe for as long as the broker lives. The inner shell records its
  # own PID, then exec's java in place, so the PID file names the java process itself.
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" "${KJAVA[@]}" \
    </dev/null >"$LOG_DIR/stdout.log" 2>&1 9>&- &
  local started=$SECONDS
  for _ in $(seq 1 50); do [[ -s "$PID_FILE" ]] && break; sleep 0.1; done
  pid="$(cat "$PID_FILE" 2>/dev/null)" || { log_tail 40; die "broker process did not come up"; }
  wait_ready "$pid"  # also reports a JVM that died right away (bad heap options, wrong Java...)
  log "ready after $((SECONDS - started))s (pid $pid)"
  echo "$ADDR"
}

stop_locked() {
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping broker pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_stop() { lock_run_dir; stop_locked; }

cmd_status() {
  local pid
  if pid="$(our_pid)"; then
    echo "running $ADDR (pid $pid)"
  else
    echo "stopped"
    return 1
  fi
}

cmd_logs() {
  local f="$LOG_DIR/server.log"
  [[ -f "$f" ]] || die "no broker log yet ($f)"
  tail -n "${1:-100}" "$f"
}

# A one-shot Kafka tool with the broker's jars (warnings on stderr); its exit status is the command's.
cmd_tool() {
  [[ $# -ge 1 ]] || die "tool needs a main class, e.g. kafka.admin.ConfigCommand"
  ensure_jars
  write_config
  java_cmd "-Xmx256m" "$RUN_DIR/log4j2-tool.properties" "$@"
  "${KJAVA[@]}" </dev/null
}

usage() {
  cat >&2 <<EOF
usage: $0 start [--fresh] | stop | status | logs [LINES] | tool CLASS ARGS...
  start   provision Kafka $KAFKA_VERSION if needed, start it on $ADDR; last stdout line = address
  stop    stop the broker this script started
  status  'running $ADDR (pid N)' (exit 0) or 'stopped' (exit 1)
  logs    tail of the broker log
  tool    run a Kafka tool class from the cached jars
EOF
  exit 2
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    tool) cmd_tool "$@" ;;
    *) usage ;;
  esac
}

main "$@"
