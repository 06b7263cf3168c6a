#!/usr/bin/env bash
# The report test opens out/report.html in Debian's chromium (driven by playwright-core). Install it when it is
# missing and we can (root with apt-get, as on CI); otherwise say what to do. Part of `npm test`.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM_PATH:-}" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the report test (once)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "✖ the report test needs Debian's chromium → run: sudo apt-get install chromium (or set CHROMIUM_PATH)" >&2
exit 1
