#!/usr/bin/env bash
# Debian packages the project uses, installed only when missing:
#   dataset-fashion-mnist  Fashion-MNIST under /usr/share/datasets/fashion-mnist (offline data)
#   chromium               headless browser for the test that opens the built book
#   chromium-driver        chromedriver, through which the browser tests move chapter 4's control
set -euo pipefail
missing=()
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: please install these Debian packages: ${missing[*]} (needs apt-get as root)" >&2
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
