#!/usr/bin/env bash
# Local Apicurio Registry 2.4.2.Final (a real, independent Confluent-compatible schema registry) for the Avro tests.
#
#   bash scripts/registry-local.sh start     # progress on stderr, LAST stdout line = the Confluent-compatible URL
#   bash scripts/registry-local.sh stop
#   bash scripts/registry-local.sh status    # "running URL (pid N)" (exit 0) or "stopped" (exit 1)
#   bash scripts/registry-local.sh logs [LINES]
#   bash scripts/registry-local.sh build     # only build (and cache) the runnable registry
#
#   url=$(bash scripts/registry-local.sh start | tail -n1)   # http://127.0.0.1:18081/apis/ccompat/v7
#
# Maven Central serves the registry only as a thin jar (io.apicurio:apicurio-registry-app), so the first start
# builds it once with Quarkus (see ../shared/registry/APICURIO-2.4.2.md for why each step is there): a small Maven
# reactor in <cache>/registry/2.4.2.Final/build with (1) a stand-in for the one deployment module that Central
# lacks (scripts/registry/ConfigIndexProcessor.java) and (2) the app's runtime dependencies + the Quarkus build.
# The runnable quarkus-app/ is cached in <cache>/registry/2.4.2.Final/quarkus-app, like the Kafka jars.
# Storage is in memory: every start is an empty registry.
#
# Environment:
#   REGISTRY_LOCAL_PORT     HTTP port                                   (default 18081)
#   REGISTRY_START_TIMEOUT  seconds to wait for /health/ready            (default 90)
#   REGISTRY_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL          (default 20)
#   AC_CACHE_DIR            cache root instead of <repo>/.cache
#   JAVA_HOME               Java 17+ to use (default: `java` on PATH)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=2.4.2.Final          # the newest release whose dependencies all resolve from Maven Central
QUARKUS_VERSION=2.16.4.Final # what the registry's parent POM pins
CONFIG_INDEX_VERSION=0.1.18.Final
PORT="${REGISTRY_LOCAL_PORT:-18081}"
HOST=127.0.0.1
START_TIMEOUT="${REGISTRY_START_TIMEOUT:-90}"
STOP_TIMEOUT="${REGISTRY_STOP_TIMEOUT:-20}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

CACHE_ROOT="${AC_CACHE_DIR:-$ROOT/.cache}"
[[ "$CACHE_ROOT" = /* ]] || CACHE_ROOT="$PWD/$CACHE_ROOT"   # absolute: stop matches the run path in /proc
DIST_DIR="$CACHE_ROOT/registry/$VERSION"
APP_DIR="$DIST_DIR/quarkus-app"
BUILD_DIR="$DIST_DIR/build"
RUN_DIR="$CACHE_ROOT/registry-run/$PORT"
PID_FILE="$RUN_DIR/registry.pid"
LOG_FILE="$RUN_DIR/registry.log"
URL="http://$HOST:$PORT/apis/ccompat/v7"

log() { echo "registry-local: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] && (( PORT > 0 && PORT < 65536 )) || die "REGISTRY_LOCAL_PORT must be a port number, got '$PORT'"

# ---------------------------------------------------------------------------------------------
# Build: once per version. The reactor lives in BUILD_DIR; quarkus-app/ is copied out and marked
# complete, so an interrupted build is simply redone on the next start.
# ---------------------------------------------------------------------------------------------
# The parent POM lists repositories that cannot be reached from here; a mirror of everything onto
# Maven Central keeps Maven from trying them.
write_settings() {
  cat >"$BUILD_DIR/settings.xml" <<EOF
<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <mirrors>
    <mirror><id>central-only</id><mirrorOf>*</mirrorOf><url>https://repo.maven.apache.org/maven2</url></mirror>
  </mirrors>
</settings>
EOF
}

# The stand-in for the deployment half of apicurio-common-app-components-config-index (not on Central).
write_config_index_module() {
  local dir="$BUILD_DIR/config-index-deployment"
  mkdir -p "$dir/src/main/java/local/aclistsync/registry" "$dir/src/main/resources/META-INF"
  cp "$ROOT/scripts/registry/ConfigIndexProcessor.java" "$dir/src/main/java/local/aclistsync/registry/"
  echo local.aclistsync.registry.ConfigIndexProcessor >"$dir/src/main/resources/META-INF/quarkus-build-steps.list"
  cat >"$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.apicurio</groupId>
  <artifactId>apicurio-common-app-components-config-index-deployment</artifactId>
  <version>$CONFIG_INDEX_VERSION</version>
  <description>Local stand-in built by ac-list-sync's scripts/registry-local.sh (not the upstream module)</description>
  <properties>
    <maven.compiler.release>11</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>io.apicurio</groupId>
      <artifactId>apicurio-common-app-components-config-index</artifactId>
      <version>$CONFIG_INDEX_VERSION</version>
    </dependency>
    <dependency>
      <groupId>io.quarkus</groupId>
      <artifactId>quarkus-arc-deployment</artifactId>
      <version>$QUARKUS_VERSION</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <!-- Maven 3.8's default compiler plugin targets Java 5, which Java 17 no longer compiles for. -->
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.11.0</version></plugin>
    </plugins>
  </build>
</project>
EOF
}

# everit-json-schema under its old coordinates is not on Central; the same packages are, under new ones.
EVERIT_EXCLUSION='<exclusions><exclusion><groupId>com.github.everit-org.json-schema</groupId><artifactId>org.everit.json.schema</artifactId></exclusion></exclusions>'

# The app's non-test dependencies (its own POM's list; versions come from the parent's dependencyManagement).
app_dependencies() {
  local ga
  for ga in \
    io.apicurio:apicurio-registry-common io.apicurio:apicurio-registry-utils-kafka io.apicurio:apicurio-registry-schema-util-provider \
    io.apicurio:apicurio-common-app-components-core io.apicurio:apicurio-common-app-components-logging \
    io.apicurio:apicurio-common-app-components-config io.apicurio:apicurio-common-app-components-config-index \
    io.apicurio:apicurio-common-app-components-auth io.apicurio:apicurio-tenant-manager-client \
    io.apicurio:apicurio-common-rest-client-vertx io.apicurio:apicurio-registry-utils-import-export \
    io.apicurio:apicurio-registry-protobuf-schema-utilities \
    io.quarkus:quarkus-undertow io.quarkus:quarkus-jackson io.quarkus:quarkus-resteasy-jackson io.quarkus:quarkus-smallrye-health \
    io.quarkus:quarkus-micrometer-registry-prometheus io.quarkus:quarkus-vertx io.quarkus:quarkus-oidc io.quarkus:quarkus-scheduler \
    io.quarkus:quarkus-smallrye-context-propagation io.quarkus:quarkus-rest-client io.quarkus:quarkus-rest-client-jackson \
    io.quarkus:quarkus-smallrye-fault-tolerance io.quarkus:quarkus-jdbc-h2 io.quarkus:quarkus-agroal \
    io.sentry:sentry commons-codec:commons-codec org.apache.commons:commons-lang3 \
    com.fasterxml.jackson.dataformat:jackson-dataformat-yaml com.google.guava:guava; do
    echo "    <dependency><groupId>${ga%%:*}</groupId><artifactId>${ga#*:}</artifactId>$EVERIT_EXCLUSION</dependency>"
  done
  echo "    <dependency><groupId>io.apicurio</groupId><artifactId>apicurio-registry-app</artifactId><version>$VERSION</version>$EVERIT_EXCLUSION</dependency>"
  echo "    <dependency><groupId>com.github.erosb</groupId><artifactId>everit-json-schema</artifactId><version>1.14.2</version></dependency>"
}

write_app_module() {
  local dir="$BUILD_DIR/app"
  mkdir -p "$dir"
  cat >"$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>io.apicurio</groupId>
    <artifactId>apicurio-registry</artifactId>
    <version>$VERSION</version>
    <relativePath/>
  </parent>
  <groupId>local.ac-list-sync</groupId>
  <artifactId>registry-app</artifactId>
  <version>$VERSION</version>
  <dependencies>
$(app_dependencies)
  </dependencies>
  <build>
    <plugins>
      <!-- The app's classes and application.properties become this module's classes, then Quarkus builds them. -->
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <executions>
          <execution>
            <id>unpack-app</id>
            <phase>process-classes</phase>
            <goals><goal>unpack</goal></goals>
            <configuration>
              <artifactItems>
                <artifactItem>
                  <groupId>io.apicurio</groupId><artifactId>apicurio-registry-app</artifactId><version>$VERSION</version>
                </artifactItem>
              </artifactItems>
              <outputDirectory>\${project.build.outputDirectory}</outputDirectory>
            </configuration>
          </execution>
        </executions>
      </plugin>
      <plugin>
        <groupId>io.quarkus</groupId>
        <artifactId>quarkus-maven-plugin</artifactId>
        <version>$QUARKUS_VERSION</version>
        <executions><execution><goals><goal>build</goal></goals></execution></executions>
      </plugin>
    </plugins>
  </build>
</project>
EOF
}

run_mvn() { # run_mvn POM ARGS...: Maven's output to the build log (stdout is for the URL)
  local pom="$1"; shift
  mvn -B -Dstyle.color=never -s "$BUILD_DIR/settings.xml" -f "$pom" "$@" </dev/null >>"$BUILD_DIR/build.log" 2>&1
}

ensure_built() {
  if [[ -f "$DIST_DIR/.complete" && -f "$APP_DIR/quarkus-run.jar" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found (needed once to build Apicurio Registry $VERSION)"
  log "building Apicurio Registry $VERSION with Quarkus into $APP_DIR (one-time, a few minutes on a cold Maven cache)..."
  rm -rf "$BUILD_DIR" "$APP_DIR" "$DIST_DIR/.complete"
  mkdir -p "$BUILD_DIR"
  write_settings
  write_config_index_module
  write_app_module
  local started=$SECONDS
  # The stand-in goes to the local Maven repository: the Quarkus build resolves deployment modules from there.
  run_mvn "$BUILD_DIR/config-index-deployment/pom.xml" -q install \
    || { tail -n 40 "$BUILD_DIR/build.log" >&2; die "building the config-index stand-in failed (log: $BUILD_DIR/build.log)"; }
  run_mvn "$BUILD_DIR/app/pom.xml" package -DskipTests -Dcheckstyle.skip -Denforcer.skip -Dquarkus.package.type=fast-jar \
    || { tail -n 60 "$BUILD_DIR/build.log" >&2; die "the Quarkus build failed (log: $BUILD_DIR/build.log)"; }
  [[ -f "$BUILD_DIR/app/target/quarkus-app/quarkus-run.jar" ]] || die "the build made no quarkus-app/quarkus-run.jar (log: $BUILD_DIR/build.log)"
  mv "$BUILD_DIR/app/target/quarkus-app" "$APP_DIR"
  rm -rf "$BUILD_DIR/app/target"
  touch "$DIST_DIR/.complete"
  log "built in $((SECONDS - started))s ($(du -sh "$APP_DIR" | cut -f1))"
}

# ---------------------------------------------------------------------------------------------
# Process checks.
# ---------------------------------------------------------------------------------------------
# The PID from the PID file if it is alive AND is our java process (a recycled PID is never signalled).
our_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid cmd
  pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmd="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  [[ "$cmd" == *java* && "$cmd" == *"-Dregistry.local.run=$RUN_DIR "* ]] || return 1
  echo "$pid"
}

answers() { curl -fsS -m 3 "http://$HOST:$PORT/health/ready" >/dev/null 2>&1 && curl -fsS -m 3 "$URL/subjects" >/dev/null 2>&1; }

port_in_use() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$PORT" 2>/dev/null; }

wait_ready() {
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
  while ! answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$LOG_FILE" >&2 || true
      die "registry process $pid exited during startup"
    fi
    if (( SECONDS >= deadline )); then
      tail -n 40 "$LOG_FILE" >&2 || true
      stop_locked
      die "registry did not answer on $URL within ${START_TIMEOUT}s (REGISTRY_START_TIMEOUT); stopped it"
    fi
    sleep 0.3
  done
}

lock_run_dir() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock -w "$((START_TIMEOUT + 60))" 9 || die "another registry-local.sh holds $RUN_DIR/.lock"
}

cmd_build() {
  mkdir -p "$DIST_DIR"
  exec 8>"$DIST_DIR/.build.lock"
  flock -w 1800 8 || die "another registry-local.sh is building in $DIST_DIR"
  ensure_built
}

cmd_start() {
  command -v "$JAVA" >/dev/null || die "java not found (need Java 17+; set JAVA_HOME)"
  command -v curl >/dev/null || die "curl not found (the readiness check uses it)"
  lock_run_dir
  local pid
  if pid="$(our_pid)"; then
    log "registry already running (pid $pid), checking it answers..."
    wait_ready "$pid"
    echo "$URL"
    return 0
  fi
  rm -f "$PID_FILE"
  port_in_use && die "port $PORT on $HOST is taken by a process this script did not start; set REGISTRY_LOCAL_PORT"
  cmd_build

  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.previous"
  # prod profile: the build-time dev profile would log at DEBUG. One processor is plenty for tests on 2 cores.
  local cmd=("$JAVA" -Xms64m -Xmx384m -XX:ActiveProcessorCount=1 -Dregistry.local.run="$RUN_DIR"
    -Dquarkus.profile=prod -DHTTP_PORT="$PORT" -Dquarkus.http.host="$HOST" -jar "$APP_DIR/quarkus-run.jar")
  log "starting Apicurio Registry $VERSION on $URL (run folder $RUN_DIR)"
  # Own session, std fds to files, lock fds closed: the registry outlives this script and never holds a
  # caller's pipe. The inner shell records its PID, then exec's java, so the PID file names java itself.
  setsid bash -c 'echo $$ >"$0"; cd "$1" && shift && exec "$@"' "$PID_FILE" "$RUN_DIR" "${cmd[@]}" </dev/null >"$LOG_FILE" 2>&1 8>&- 9>&- &
  local started=$SECONDS
  for _ in $(seq 1 50); do [[ -s "$PID_FILE" ]] && break; sleep 0.1; done
  pid="$(cat "$PID_FILE" 2>/dev/null)" || { tail -n 40 "$LOG_FILE" >&2 || true; die "registry process did not come up"; }
  wait_ready "$pid"
  log "ready after $((SECONDS - started))s (pid $pid)"
  echo "$URL"
}

stop_locked() {
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping registry pid $pid (SIGTERM)"
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
  if pid="$(our_pid)"; then echo "running $URL (pid $pid)"; else echo "stopped"; return 1; fi
}

cmd_logs() {
  [[ -f "$LOG_FILE" ]] || die "no registry log yet ($LOG_FILE)"
  tail -n "${1:-100}" "$LOG_FILE"
}

usage() {
  cat >&2 <<EOF
usage: $0 start | stop | status | logs [LINES] | build
  start   build Apicurio Registry $VERSION if needed, start it on port $PORT; last stdout line = $URL
  stop    stop the registry this script started
  status  'running $URL (pid N)' (exit 0) or 'stopped' (exit 1)
  logs    tail of the registry log
  build   only build and cache the runnable registry
EOF
  exit 2
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  build) cmd_build ;;
  *) usage ;;
esac
