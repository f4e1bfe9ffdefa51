#!/usr/bin/env bash
# Installs the browser tests' npm packages (playwright-core, exactly as
# package-lock.json pins it; install scripts off, so no browser download) into
# WORK/node_modules. Skips `npm ci` when WORK already holds this lock file.
# Usage: npm-ci.sh SRC_DIR WORK_DIR   (ctest runs it as the fixture browser.npm_ci)
set -euo pipefail
src=$1 work=$2
mkdir -p "$work"
if [ -d "$work/node_modules/playwright-core" ] && cmp -s "$src/package-lock.json" "$work/package-lock.json"; then
  echo "browser.npm_ci: $work is up to date"
  exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$work/"
cd "$work"
npm ci --no-audit --no-fund --ignore-scripts
echo "browser.npm_ci: installed into $work/node_modules"
