#!/usr/bin/env bash
# The SSH tests (tests/test_remote.py) start a throwaway OpenSSH server on 127.0.0.1: Debian's openssh-server.
# Only the binary is needed; the system's own sshd service is not enabled or started by the tests.
set -euo pipefail
if [ -x /usr/sbin/sshd ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
# policy-rc.d 101: the package's postinst must not start a system-wide sshd on port 22
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
test -x /usr/sbin/sshd && echo /usr/sbin/sshd
