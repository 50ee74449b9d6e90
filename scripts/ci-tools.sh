#!/usr/bin/env bash
# Extra tools the tests need, installed idempotently (called by .ci/run when present).
#   promtool: checks helm/ac-list-sync/files/prometheus-alerts.yml (test/observability/alerts.test.ts).
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
