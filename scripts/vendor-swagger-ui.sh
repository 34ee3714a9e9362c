#!/usr/bin/env bash
# Vendor Swagger UI (the /docs renderer) from the npm registry into the package,
# so /docs works offline: no CDN, no network at page load. `make vendor-docs`.
# To upgrade: change VERSION, run this, open /docs, commit the result.
set -euo pipefail
PACKAGE=swagger-ui-dist
VERSION=${VERSION:-5.36.0}
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/resimply/web/static/swagger-ui"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null && tar xzf "$PACKAGE-$VERSION.tgz")
rm -rf "$dest"
mkdir -p "$dest"
for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE; do
  cp "$tmp/package/$f" "$dest/$f"
done
printf '%s@%s\n' "$PACKAGE" "$VERSION" >"$dest/VERSION"
echo "vendored $PACKAGE@$VERSION into ${dest#"$here"/}"
