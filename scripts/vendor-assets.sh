#!/usr/bin/env bash
# Vendor the front-end libraries the web UI uses into
# src/shanzhi/web/static/vendor/, so the product works offline (no CDN at run
# time). The output is committed to git; re-run this script only to change a
# pinned version, then commit the result.
#
# Each package is fetched with `npm pack NAME@VERSION` (the npm registry, no
# CDN), its tarball checked against the registry's dist.integrity, and only the
# browser dist files (plus LICENSE/NOTICE) are copied, flat, under stable names.
#
# Needs: node/npm, tar, sed, sha256sum.
set -euo pipefail

# ---- pinned versions --------------------------------------------------------
MAPLIBRE_VERSION="6.17.0"   # maplibre-gl: newest 6.x (6.x ships ESM only, see below)
HTMX_VERSION="2.0.11"       # htmx.org: newest 2.x (4.x is a different API; do not bump)
ECHARTS_VERSION="6.1.0"     # echarts: newest 6.x
# -----------------------------------------------------------------------------

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/src/shanzhi/web/static/vendor"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/shanzhi-vendor.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# Declared and computed integrity of each tarball, for VERSIONS.txt.
declare -A INTEGRITY=()

# fetch NAME VERSION -> extracts into $TMP/NAME/package, checks integrity
fetch() {
    local name="$1" version="$2"
    local dest="$TMP/$name"
    mkdir -p "$dest"
    echo "vendor-assets: npm pack $name@$version" >&2
    local tgz
    tgz="$(cd "$dest" && npm pack --silent "$name@$version" | tail -n 1)"
    tgz="$dest/$tgz"
    [ -f "$tgz" ] || { echo "vendor-assets: npm pack produced no tarball for $name@$version" >&2; exit 1; }

    local declared actual
    declared="$(npm view "$name@$version" dist.integrity)"
    actual="$(node -e 'const c=require("crypto"),fs=require("fs");
process.stdout.write("sha512-"+c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$tgz")"
    if [ -z "$declared" ] || [ "$declared" != "$actual" ]; then
        echo "vendor-assets: integrity mismatch for $name@$version" >&2
        echo "  registry: $declared" >&2
        echo "  tarball:  $actual" >&2
        exit 1
    fi
    INTEGRITY["$name"]="$declared"
    tar -xzf "$tgz" -C "$dest"
}

# copy SRC DEST: copy a dist file, dropping a trailing `//# sourceMappingURL=`
# comment (the .map files are not vendored; Django's ManifestStaticFilesStorage
# would otherwise fail collectstatic on the missing map).
copy() {
    local src="$1" dst="$2"
    [ -f "$src" ] || { echo "vendor-assets: missing $src" >&2; exit 1; }
    mkdir -p "$(dirname "$dst")"
    sed -E '/^[[:space:]]*\/[\/*][#@] sourceMappingURL=[^[:space:]]*([[:space:]]*\*\/)?[[:space:]]*$/d' "$src" > "$dst"
}

# Fresh output directory: only what this script writes ends up in vendor/.
rm -rf "$VENDOR"
mkdir -p "$VENDOR"

# ---- maplibre-gl ------------------------------------------------------------
# maplibre-gl 6.x ships only ES modules (no UMD/global `maplibregl`). Load it as
#   <script type="module">
#     import * as maplibregl from "{% static 'vendor/maplibre-gl/maplibre-gl.js' %}";
#   </script>
# The library starts its web worker from `./maplibre-gl-worker.mjs` relative to
# its own URL (import.meta.url), so that file must stay beside maplibre-gl.js
# under exactly that name. (The CSP build of 5.x does not exist in 6.x: the
# worker is always a separate file.)
fetch maplibre-gl "$MAPLIBRE_VERSION"
P="$TMP/maplibre-gl/package"
copy "$P/dist/maplibre-gl.mjs"        "$VENDOR/maplibre-gl/maplibre-gl.js"
copy "$P/dist/maplibre-gl-worker.mjs" "$VENDOR/maplibre-gl/maplibre-gl-worker.mjs"
copy "$P/dist/maplibre-gl.css"        "$VENDOR/maplibre-gl/maplibre-gl.css"
cp "$P/LICENSE.txt" "$VENDOR/maplibre-gl/LICENSE.txt"

# ---- htmx.org ---------------------------------------------------------------
fetch htmx.org "$HTMX_VERSION"
P="$TMP/htmx.org/package"
copy "$P/dist/htmx.min.js" "$VENDOR/htmx/htmx.min.js"
cp "$P/LICENSE" "$VENDOR/htmx/LICENSE"

# ---- alpinejs: no longer vendored ------------------------------------------
# Standard Alpine.js evaluates its attribute expressions with `new Function`,
# which the Content-Security-Policy (no 'unsafe-eval', core/middleware.py)
# refuses; the few behaviours it gave the pages are plain scripts in
# web/static/web/page.js and intake_form.js.

# ---- echarts ----------------------------------------------------------------
fetch echarts "$ECHARTS_VERSION"
P="$TMP/echarts/package"
copy "$P/dist/echarts.min.js" "$VENDOR/echarts/echarts.min.js"
cp "$P/LICENSE" "$VENDOR/echarts/LICENSE"
cp "$P/NOTICE" "$VENDOR/echarts/NOTICE"   # Apache-2.0: NOTICE travels with it

# ---- VERSIONS.txt -----------------------------------------------------------
{
    echo "# Vendored front-end libraries (written by scripts/vendor-assets.sh; do not edit)."
    echo "# name version npm-tarball-integrity (npm view NAME@VERSION dist.integrity)"
    echo "maplibre-gl $MAPLIBRE_VERSION ${INTEGRITY[maplibre-gl]}"
    echo "htmx.org $HTMX_VERSION ${INTEGRITY[htmx.org]}"
    echo "echarts $ECHARTS_VERSION ${INTEGRITY[echarts]}"
    echo "#"
    echo "# Files are copied from each tarball's dist/ unchanged except that a trailing"
    echo "# '//# sourceMappingURL=' line is removed (source maps are not vendored)."
    echo "# sha256 of each vendored file:"
    (cd "$VENDOR" && find . -type f ! -name VERSIONS.txt | LC_ALL=C sort | sed 's|^\./||' \
        | while read -r f; do echo "#   $(sha256sum "$f" | cut -d' ' -f1)  $f"; done)
} > "$VENDOR/VERSIONS.txt"

echo "vendor-assets: wrote $VENDOR" >&2
(cd "$VENDOR" && find . -type f | LC_ALL=C sort | xargs du -b | sed 's|\./||' >&2)
echo "vendor-assets: total $(du -sb "$VENDOR" | cut -f1) bytes" >&2
