#!/usr/bin/env bash
# Refresh static/vendor from the npm registry at the versions pinned in package.json.
# The files are committed, so running the engine needs neither npm nor a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
for pkg in bootstrap chart.js htmx.org; do
  version=$(python3 -c "import json; print(json.load(open('package.json'))['dependencies']['$pkg'])")
  (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null && mkdir "$pkg" && tar xzf ./*"$version".tgz -C "$pkg")
done
cp "$tmp/bootstrap/package/dist/css/bootstrap.min.css" \
   "$tmp/bootstrap/package/dist/js/bootstrap.bundle.min.js" \
   "$tmp/chart.js/package/dist/chart.umd.min.js" \
   "$tmp/htmx.org/package/dist/htmx.min.js" static/vendor/
rm -rf "$tmp"
