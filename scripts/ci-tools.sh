#!/usr/bin/env bash
# Extra tools the tests need, installed idempotently (called by .ci/run when present).
#   promtool: checks helm/ac-list-sync/files/prometheus-alerts.yml (test/observability/alerts.test.ts).
#   kcat: a librdkafka producer, so the codec tests read what a non-JavaScript client writes (test/integration/codecs.test.ts).
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1; then
  echo "== installing promtool (Debian package prometheus)"
  export DEBIAN_FRONTEND=noninteractive
  # Only promtool is wanted: keep the package's service from being started by the install (policy-rc.d 101),
  # and stop it anyway if an init system started it.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends prometheus >/dev/null
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl stop prometheus || true
  elif command -v service >/dev/null 2>&1; then
    service prometheus stop >/dev/null 2>&1 || true
  fi
fi
echo "== $(promtool --version 2>&1 | head -n1)"

# ---- Deployment checks (test/deploy/*.test.ts): helm and docker-compose ----------------------------------------
# helm is built from the Go module proxy with the machine's Go, pinned, into .cache/bin (git-ignored), where the
# tests look for it. The module and build caches are Go's own (per machine, outside the clone): CI runs in a fresh
# clone, and with those caches warm a rebuild is a link of a few seconds; a cold build compiles for minutes.
HELM_VERSION=v3.19.0

install_helm() {
  local root bin start
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  bin="$root/.cache/bin"
  if [ -x "$bin/helm" ] && [ "$("$bin/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; then
    echo "== helm $HELM_VERSION (cached in .cache/bin)"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "ci-tools: go is needed to build helm $HELM_VERSION" >&2
    return 1
  fi
  echo "== building helm $HELM_VERSION from the Go module proxy with $(go version | cut -d' ' -f3) (GOCACHE $(go env GOCACHE))"
  start=$SECONDS
  # The -X flags are those of helm's own Makefile: the full version, and Kubernetes 1.34 (its client-go v0.34) as
  # the version `helm template` and `helm lint` assume instead of the source default 1.20.
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=34"
  ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=34"
  GOBIN="$bin" GOFLAGS="-mod=mod -modcacherw" GOTOOLCHAIN=local go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "== helm $("$bin/helm" version --template '{{.Version}}') built in $((SECONDS - start)) s"
}

install_docker_compose() {
  if ! command -v docker-compose >/dev/null 2>&1; then
    echo "== installing docker-compose (Debian package; validates docker-compose.yml, runs nothing)"
    # No recommends: they would pull in a Docker engine, which CI neither has nor needs.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends docker-compose >/dev/null
  fi
  echo "== docker-compose $(docker-compose version --short)"
}

install_kcat() {
  if ! command -v kcat >/dev/null 2>&1; then
    echo "== installing kcat (Debian package; librdkafka's producer for test/integration/codecs.test.ts)"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends kcat >/dev/null
  fi
  echo "== $(kcat -V 2>&1 | grep -m1 -o 'Version .*librdkafka [0-9.]*')"
}

install_helm
install_docker_compose
install_kcat
