#!/usr/bin/env bash
# Root-only, idempotent: what `hrm code eval` needs from the system (docs/codegen-harness.md, section 1):
# bubblewrap, the system Python with pytest, a C++ toolchain, and the unprivileged sandbox users.
# Go, Java, JavaScript and Rust: scripts/setup_polyglot_toolchains.sh (each optional; install lines in the doc).
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
    echo "setup_code_sandbox: not root; skipping (the sandbox tests will skip with their reason)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq bubblewrap python3 python3-pytest g++ cmake make libboost-date-time-dev >/dev/null
for i in 0 1; do
    id -u "hrm-sandbox$i" >/dev/null 2>&1 || \
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "hrm-sandbox$i"
done
echo "setup_code_sandbox: bubblewrap, python3-pytest, g++ and users hrm-sandbox0/1 ready"
