#!/usr/bin/env bash
# System parts the test suite really runs (called by .ci/run on a fresh Debian 12 machine, as root):
#   tor + tor-gencert   private Tor network test, `tor --verify-config` on deploy/torrc*
#   onionbalance        two backends behind one address in the private Tor network (tests/deploy/test_onionbalance.py)
#   postgresql          throwaway PostgreSQL clusters (tests/pgserver.py runs initdb/pg_ctl itself)
#   systemd             `systemd-analyze verify` / `security` on deploy/systemd units (no running systemd needed)
#   chromium + driver   browser tests (Chromium)
#   firefox-esr         browser tests in the engine of Tor Browser (geckodriver comes from PyPI)
#   gnupg               the SecureDrop-style peer of the intake benchmark
#   util-linux          runuser: PostgreSQL and the tor checks refuse or warn under root
#   tmux                a real terminal for `triage terminal` (the desk on Tails), read back with capture-pane
#   mat2                `triage attachment --clean` removes a file's metadata with it where installed (tests/triage/test_attachments.py)
# Nothing here starts a service the tests use: they start their own tor and PostgreSQL processes on
# 127.0.0.1 / Unix sockets in temporary directories, never the packaged ones (9050, 5432).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    tor onionbalance postgresql systemd util-linux chromium chromium-driver firefox-esr gnupg ca-certificates tmux mat2 >/dev/null

# On a machine with a running systemd, the packages start their own services; the tests never use them.
if [ -d /run/systemd/system ]; then
    systemctl stop tor.service postgresql.service onionbalance.service >/dev/null 2>&1 || true
fi

# Fail early and clearly if a part is missing, rather than deep inside a test.
for program in tor tor-gencert onionbalance systemd-analyze systemd-sysusers runuser setpriv tmux mat2; do
    command -v "$program" >/dev/null || { echo "missing after install: $program" >&2; exit 1; }
done
ls /usr/lib/postgresql/*/bin/initdb /usr/lib/postgresql/*/bin/pg_ctl >/dev/null
id postgres >/dev/null
id debian-tor >/dev/null
