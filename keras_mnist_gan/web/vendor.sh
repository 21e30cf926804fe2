#!/usr/bin/env bash
# The onnxruntime-web files the page needs, from the npm package pinned in
# package-lock.json (installed with `npm ci` into a temporary folder).
#   vendor.sh          copy them into vendor/
#   vendor.sh --check  fail unless vendor/ holds exactly those files
set -euo pipefail
cd "$(dirname "$0")"
files="ort.wasm.min.js ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp package.json package-lock.json "$tmp/"
(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --silent)
src="$tmp/node_modules/onnxruntime-web"
version=$(node -p "require('$src/package.json').version")
if [ "${1:-}" = "--check" ]; then
  for f in $files; do cmp "$src/dist/$f" "vendor/$f"; done
  cmp "$src/package.json" vendor/onnxruntime-web.package.json
  echo "vendor/ holds onnxruntime-web $version as package-lock.json pins it"
else
  mkdir -p vendor
  for f in $files; do cp "$src/dist/$f" vendor/; done
  cp "$src/package.json" vendor/onnxruntime-web.package.json  # its version and MIT licence
  echo "copied onnxruntime-web $version into vendor/"
fi
