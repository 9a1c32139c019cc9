#!/usr/bin/env bash
# Renders a fastshap report.html with headless Chromium and writes a full-page screenshot.
# Fails when Chromium is missing or when the report references the network in a src=/href=.
#
# Usage: tools/check_report.sh DIR/report.html [out.png]
#   HEIGHT=N sets the window height (default: estimated from the page, at most 16000 px);
#   ONLY=ID shows only the top-level section holding the element with that id (e.g.
#   ONLY=evaluation), for pages longer than one screenshot.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 DIR/report.html [out.png]" >&2
    exit 2
fi
report=$1
[[ -f $report ]] || { echo "error: $report not found" >&2; exit 1; }
report_abs=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
out=${2:-${report_abs%.html}.png}
case $out in /*) ;; *) out=$PWD/$out ;; esac

# Network references: any src= or href= attribute whose value starts with http(s):// or //.
if grep -Eio "(src|href)[[:space:]]*=[[:space:]]*[\"']?(https?:)?//[^\"' >]*" "$report" >/tmp/check_report.$$ ; then
    echo "error: $report references the network:" >&2
    head -n 10 /tmp/check_report.$$ >&2
    rm -f /tmp/check_report.$$
    exit 1
fi
rm -f /tmp/check_report.$$
if grep -Eiq "<script|<link[[:space:]]|@import|url\([\"']?https?:" "$report"; then
    echo "error: $report has a script, a <link> or a CSS import/url() to the network" >&2
    exit 1
fi

chromium=""
for c in chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then chromium=$(command -v "$c"); break; fi
done
if [[ -z $chromium ]]; then
    echo "error: chromium not found (Debian: apt-get install chromium)" >&2
    exit 1
fi

page=$report_abs
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
if [[ -n ${ONLY:-} ]]; then
    # Headless screenshots of a scrolled page come out blank: hide the other sections instead.
    [[ $ONLY =~ ^[A-Za-z0-9._-]+$ ]] || { echo "error: ONLY=$ONLY is not an id" >&2; exit 2; }
    grep -q "id=\"$ONLY\"" "$report" || { echo "error: no id=\"$ONLY\" in $report" >&2; exit 1; }
    page=$profile/only.html
    sed "s|</head>|<style>main > *:not(#$ONLY):not(:has(#$ONLY)) { display: none; }</style></head>|" \
        "$report" >"$page"
    HEIGHT=${HEIGHT:-4000}
fi
# Window height: the screenshot is the window, not the page, so estimate the page's length
# from its pieces (images scaled to the ~1124 px column, plots in pairs, table rows, text).
if [[ -z ${HEIGHT:-} ]]; then
    imgs=$(grep -o '<img alt="[^"]*" width="[0-9]*" height="[0-9]*"' "$report" |
        sed -E 's/.*width="([0-9]+)" height="([0-9]+)"/\1 \2/' |
        awk '{ s = ($1 > 1124) ? 1124 / $1 : 1; t += $2 * s + 60 } END { print int(t) }' || true)
    svgs=$(grep -o '<svg' "$report" | wc -l || true)
    rows=$(grep -o '<tr[ >]\|<h[1-6][ >]\|<p[ >]\|<li[ >]' "$report" | wc -l || true)
    HEIGHT=$(( (600 + ${imgs:-0} + svgs * 200 + rows * 26) * 115 / 100 ))
    if (( HEIGHT > 16000 )); then
        echo "note: the page is about $HEIGHT px long; the screenshot shows its first 16000" \
            "(ONLY=<id> $0 ... shows one section)" >&2
        HEIGHT=16000
    fi
fi
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --window-size=1400,"$HEIGHT" \
    --screenshot="$out" "file://$page" >/dev/null 2>&1 || {
    echo "error: chromium failed to render $report_abs" >&2
    exit 1
}
[[ -s $out ]] || { echo "error: no screenshot written to $out" >&2; exit 1; }
echo "$out"
