#!/usr/bin/env bash
# `make test`: install what the tests need that pip cannot (PostgreSQL from Debian's
# packages), then run every test. The tests start the real servers themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "PostgreSQL server not found: installing Debian's postgresql package"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
# The installed package may have started a cluster of its own; the tests use a temporary one.

# Keycloak for the keycloak provider's tests: downloaded once into .cache/keycloak (checked
# against Maven Central's SHA-1). Without Java or the download those tests report themselves
# as skipped with the reason; the rest still runs.
.venv/bin/python -m tests.servers.keycloak fetch || echo "Keycloak not available: its tests will be skipped"

exec .venv/bin/python -m pytest "$@"
