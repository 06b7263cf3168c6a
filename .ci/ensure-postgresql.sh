#!/usr/bin/env bash
# The ledger's PostgreSQL tests start a throwaway server (initdb + pg_ctl from Debian's postgresql package, in a
# temp dir, on a free port). Install the package when its server binaries are missing and we can (root with
# apt-get, as on CI); otherwise say what to do. Part of `npm test`.
set -euo pipefail
if [ -n "${TREASURY_PG_BIN:-}" ] && [ -x "${TREASURY_PG_BIN}/initdb" ]; then exit 0; fi
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's postgresql for the ledger's PostgreSQL tests (once)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  exit 0
fi
echo "✖ the ledger's PostgreSQL tests need PostgreSQL's server binaries → run: sudo apt-get install postgresql (or set TREASURY_PG_BIN to the folder holding initdb and pg_ctl)" >&2
exit 1
