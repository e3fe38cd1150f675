#!/usr/bin/env bash
# Install Debian's Chromium and a CJK font so headless screenshots / Playwright
# end-to-end tests can render the UI (including Chinese text), and poppler-utils
# (pdftotext) for the tests that read the PDFs the product writes.
#
# Idempotent: does nothing when /usr/bin/chromium exists and fontconfig already
# knows a font covering Chinese. Never downloads a browser build of its own
# (no `playwright install`): Playwright is pointed at /usr/bin/chromium.
set -euo pipefail

have_chromium() { [ -x /usr/bin/chromium ]; }
# pdftotext, and the CJK mappings it needs to read text set in the built-in Chinese fonts
have_pdftotext() { command -v pdftotext >/dev/null 2>&1 && [ -d /usr/share/poppler/cMap/Adobe-GB1 ]; }
have_zh_font() {
    command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family 2>/dev/null)" ]
}

if have_chromium && have_zh_font && have_pdftotext; then
    echo "install-browser: chromium and a Chinese font are already installed"
    /usr/bin/chromium --version 2>/dev/null || true
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser: chromium and/or a Chinese (zh) font are missing," >&2
    echo "install-browser: and installing them needs root (apt-get). Re-run as root." >&2
    exit 1
fi

echo "install-browser: installing chromium + fonts-noto-cjk from Debian"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    chromium fonts-noto-cjk poppler-utils poppler-data

# Refresh the font cache so fc-list/Chromium see the new fonts right away.
if command -v fc-cache >/dev/null 2>&1; then
    fc-cache -f >/dev/null 2>&1 || true
fi

if ! have_chromium; then
    echo "install-browser: /usr/bin/chromium still missing after install" >&2
    exit 1
fi
if ! have_zh_font; then
    echo "install-browser: no font for lang=zh found after install" >&2
    exit 1
fi
/usr/bin/chromium --version 2>/dev/null || true
echo "install-browser: done"
