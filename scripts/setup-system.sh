#!/usr/bin/env bash
# Installs what oqsbot and its tests need from Debian: Chromium and its
# WebDriver, Japanese fonts (PDFs and screenshots; IPAexGothic for the PDFs
# Chromium prints in tests/pdf_chromium.rs), poppler (pdftotext and the
# CMaps it reads Japanese PDFs with), NSS tools (client certificates), and
# for scripts/windows.sh the mingw-w64 cross compiler and Wine.
# Does nothing when everything is already there.
set -euo pipefail

packages=(chromium chromium-driver fonts-ipafont-gothic fonts-ipafont-mincho fonts-ipaexfont poppler-utils poppler-data libnss3-tools gcc-mingw-w64-x86-64 wine wine64)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
