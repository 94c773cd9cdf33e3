#!/usr/bin/env bash
# Root-only, idempotent: the Go, Java, JavaScript and Rust toolchains the polyglot exercises run with
# (docs/codegen-harness.md, section 2), so that `hrm code eval` and its tests cover all six languages.
# Without them those languages skip, each with its install line. Needs Debian's archive and the npm registry.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
    echo "setup_polyglot_toolchains: not root; skipping (Go, Java, JavaScript and Rust tests will skip)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
node_packages="nodejs npm"
command -v npm >/dev/null && node_packages=""  # a Node.js with its own npm (NodeSource's) conflicts with Debian's npm
apt-get install -y -qq golang-go default-jdk-headless junit5 libassertj-core-java libandroid-json-org-java \
    $node_packages cargo-web rustc-web librust-time-dev librust-anyhow-dev librust-rand-dev >/dev/null
JS=/var/cache/hrm-codegen/javascript
if [ ! -d "$JS/node_modules/jest" ]; then
    mkdir -p "$JS"
    npm install --silent --prefix "$JS" --no-audit --no-fund --save-exact jest@29.7.0 @babel/core@7.25.2 \
        @exercism/babel-preset-javascript@0.2.1 @exercism/eslint-config-javascript@0.6.0 @types/jest@29.5.12 \
        @types/node@20.12.12 babel-jest@29.6.4 core-js@3.37.1 eslint@8.49.0 >/dev/null
fi
echo "setup_polyglot_toolchains: go, java, javascript and rust ready"
