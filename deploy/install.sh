#!/usr/bin/env bash
# Install (or bring up to date) the intake server on a Debian 12 machine, as root, from a clone of this
# repository: the service user, the application in /opt/intake/venv (hash-locked dependencies plus the
# project wheel), the instance folder, the systemd units (socket, service, daily compaction timer: all
# enabled), tor's onion service and the AppArmor rule, and, with --postgres, a local PostgreSQL database.
#
#   deploy/install.sh [--wheel dist/evac_intake-X.whl] [--postgres] [--root DIR]
#
# Every command it runs is printed (on stderr) with a leading "+" and is the one docs/OPERATIONS.md, section 1, lists.
# Running it again changes nothing that is already right: files are replaced only when their content or mode
# differs, the settings file is never overwritten, users, keys and the database are created only once.
#
# --root DIR   install into DIR as if it were / (for tests and images): no packages, no running services;
#              the user goes into DIR/etc/passwd, units are enabled with `systemctl --root`.
# --wheel F    the project wheel (default: the newest dist/evac_intake-*.whl of this clone; `make wheel`).
# --postgres   a local PostgreSQL role and database "intake" reached over the Unix socket (peer
#              authentication), and INTAKE_DATABASE_URL in /etc/intake/intake.env. PGHOST is honoured.
set -euo pipefail
umask 022

REPO=$(cd "$(dirname "$0")/.." && pwd)
ROOT=""
WHEEL=""
POSTGRES=0
DB_NAME=intake

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT=$(realpath -m "$2"); shift 2 ;;
        --wheel) WHEEL=$(realpath "$2"); shift 2 ;;
        --postgres) POSTGRES=1; shift ;;
        --database) DB_NAME=$2; shift 2 ;;
        -h|--help) usage ;;
        *) echo "Unknown option: $1" >&2; usage ;;
    esac
done

say() { printf '%s\n' "$*"; }
# run CMD...: print the command (on stderr, like `set -x`, so captured output stays clean), then run it.
run() { printf '+ %s\n' "$*" >&2; "$@"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run this as root (sudo deploy/install.sh)."
LIVE=0
if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then LIVE=1; fi

VENV=/opt/intake/venv
INSTANCE=/var/lib/intake
ENV_FILE=/etc/intake/intake.env
UNITS=(intake.socket intake.service intake-compact.service intake-compact.timer)
ENABLE=(intake.socket intake.service intake-compact.timer)

# Numeric ids of a user or group in ROOT's /etc/passwd and /etc/group (the machine's own when ROOT is empty).
uid_of() { if [ "$1" = root ]; then echo 0; else awk -F: -v n="$1" '$1 == n { print $3 }' "$ROOT/etc/passwd"; fi; }
gid_of() { if [ "$1" = root ]; then echo 0; else awk -F: -v n="$1" '$1 == n { print $3 }' "$ROOT/etc/group"; fi; }
# owner_args USER GROUP: install's -o/-g: names on the machine itself, numbers inside --root (whose users
# the machine does not know).
owner_args() {
    if [ -n "$ROOT" ]; then echo "-o $(uid_of "$1") -g $(gid_of "$2")"; else echo "-o $1 -g $2"; fi
}

# put SRC DEST MODE [USER GROUP]: install a file only when its content, mode or owner differs; counts the
# files it replaced in CHANGED (what to restart depends on it).
CHANGED=0
put() {
    local src=$1 dest=$ROOT$2 mode=$3 user=${4:-root} group=${5:-root}
    if [ -f "$dest" ] && cmp -s "$src" "$dest" \
            && [ "$(stat -c '%a %u:%g' "$dest")" = "${mode#0} $(uid_of "$user"):$(gid_of "$group")" ]; then
        return 0
    fi
    # shellcheck disable=SC2046
    run install -D -m "$mode" $(owner_args "$user" "$group") "$src" "$dest"
    CHANGED=$((CHANGED + 1))
}

# folder DIR MODE [USER GROUP]: create a folder, or correct its mode and owner.
folder() {
    local dir=$ROOT$1 mode=$2 user=${3:-root} group=${4:-root}
    if [ -d "$dir" ] && [ "$(stat -c '%a %u:%g' "$dir")" = "${mode#0} $(uid_of "$user"):$(gid_of "$group")" ]; then
        return 0
    fi
    # shellcheck disable=SC2046
    run install -d -m "$mode" $(owner_args "$user" "$group") "$dir"
}

# as_intake CMD...: run a command as the service user, with the instance's settings, files private (0600).
as_intake() {
    local settings=()
    if [ -f "$ROOT$ENV_FILE" ]; then
        while IFS= read -r line; do settings+=("$line"); done < <(grep -E '^INTAKE_[A-Z_]+=' "$ROOT$ENV_FILE" || true)
    fi
    if [ -n "$ROOT" ]; then
        (umask 077; run setpriv --reuid="$(uid_of intake)" --regid="$(gid_of intake)" --clear-groups -- \
            env "${settings[@]}" INTAKE_INSTANCE_DIR="$ROOT$INSTANCE" "$@")
    else
        (umask 077; run runuser -u intake -- env "${settings[@]}" INTAKE_INSTANCE_DIR="$INSTANCE" "$@")
    fi
}

# -- 0. What to install ------------------------------------------------------------------------------------
if [ -z "$WHEEL" ]; then
    WHEEL=$(ls -t "$REPO"/dist/evac_intake-*.whl 2>/dev/null | head -n 1 || true)
fi
[ -n "$WHEEL" ] && [ -f "$WHEEL" ] || die "no project wheel: build it with \`make wheel\` in this clone, or pass --wheel FILE."
LOCK=$REPO/requirements/server.lock
if [ -z "$ROOT" ] && ! grep -qs '^12' /etc/debian_version; then
    say "Warning: this script is written for Debian 12; /etc/debian_version says $(cat /etc/debian_version 2>/dev/null || echo nothing)."
fi

# -- 1. System packages and the service user --------------------------------------------------------------
if [ -z "$ROOT" ]; then
    packages=(tor python3-venv systemd-timesyncd)
    [ "$POSTGRES" = 1 ] && packages+=(postgresql)
    missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        run apt-get update
        run apt-get install -y "${missing[@]}"
    fi
fi
put "$REPO/deploy/systemd/intake.sysusers" /etc/sysusers.d/intake.conf 0644
if [ -z "$(uid_of intake)" ]; then
    folder /etc 0755
    if [ -n "$ROOT" ]; then
        run systemd-sysusers --root="$ROOT" "$ROOT/etc/sysusers.d/intake.conf"
    else
        run systemd-sysusers /etc/sysusers.d/intake.conf
    fi
fi
[ -n "$(uid_of intake)" ] || die "the service user intake could not be created."

# -- 2. The application: hash-locked dependencies, then the project wheel ---------------------------------
if [ ! -x "$ROOT$VENV/bin/python" ]; then
    folder /opt/intake 0755
    run /usr/bin/python3 -m venv "$ROOT$VENV"
fi
STAMP=$ROOT$VENV/.intake-installed
WANTED="$(sha256sum "$LOCK" | cut -d' ' -f1) $(sha256sum "$WHEEL" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANTED" ]; then
    run "$ROOT$VENV/bin/pip" install --quiet --require-hashes --no-deps -r "$LOCK"
    run "$ROOT$VENV/bin/pip" install --quiet --no-deps --force-reinstall "$WHEEL"
    printf '%s\n' "$WANTED" > "$STAMP"
    CHANGED=$((CHANGED + 1))
fi
# The documentation the units' Documentation= lines point at.
for doc in OPERATIONS.md THREAT_MODEL.md FORMAT.md; do
    put "$REPO/docs/$doc" "/opt/intake/docs/$doc" 0644
done

# -- 3. Configuration (root-owned; the settings file readable by the service's group only) -----------------
folder /etc/intake 0755
put "$REPO/deploy/gunicorn.conf.py" /etc/intake/gunicorn.conf.py 0644
put "$REPO/deploy/intake-admin" /usr/local/sbin/intake-admin 0755  # `intake` as the service user (OPERATIONS §10)
APP_CHANGED=$CHANGED  # the application, its documents or its configuration were replaced
if [ ! -f "$ROOT$ENV_FILE" ]; then  # never replaced: it holds the operator's settings
    # shellcheck disable=SC2046
    run install -m 0640 $(owner_args root intake) "$REPO/deploy/intake.env" "$ROOT$ENV_FILE"
fi

# -- 4. PostgreSQL (only with --postgres): a role and a database for the service user ---------------------
if [ "$POSTGRES" = 1 ]; then
    PGSOCKET=${PGHOST:-/var/run/postgresql}
    psql_as_postgres() { run runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -d postgres -tAc "$1"; }
    if [ "$(psql_as_postgres "SELECT 1 FROM pg_roles WHERE rolname = 'intake'")" != 1 ]; then
        psql_as_postgres "CREATE ROLE intake LOGIN"
    fi
    if [ "$(psql_as_postgres "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
        psql_as_postgres "CREATE DATABASE \"$DB_NAME\" OWNER intake"
    fi
    URL="postgresql+psycopg://intake@/$DB_NAME?host=$PGSOCKET"
    if ! grep -q '^INTAKE_DATABASE_URL=' "$ROOT$ENV_FILE"; then
        printf '+ echo INTAKE_DATABASE_URL=%s >> %s\n' "$URL" "$ENV_FILE" >&2
        printf 'INTAKE_DATABASE_URL=%s\n' "$URL" >> "$ROOT$ENV_FILE"
    fi
fi

# -- 5. The instance: database, bundle-signing key, receipt secret (files 0600, folder 0700) --------------
folder "$INSTANCE" 0700 intake intake
INIT_OUTPUT=$(as_intake "$ROOT$VENV/bin/intake" init)
printf '%s\n' "$INIT_OUTPUT"
FINGERPRINT=$(printf '%s\n' "$INIT_OUTPUT" | sed -n 's/^Server key fingerprint: //p')

# -- 6. systemd units, enabled (the compaction timer too: invariant 15 depends on it) ---------------------
BEFORE=$CHANGED
for unit in "${UNITS[@]}"; do
    put "$REPO/deploy/systemd/$unit" "/etc/systemd/system/$unit" 0644
done
APP_CHANGED=$((APP_CHANGED + CHANGED - BEFORE))
BEFORE=$CHANGED
put "$REPO/deploy/systemd/tor-intake.conf" /etc/systemd/system/tor@default.service.d/intake.conf 0644
if [ -n "$ROOT" ]; then
    run systemctl --root="$ROOT" enable "${ENABLE[@]}"
else
    if [ "$LIVE" = 1 ] && { [ "$CHANGED" != "$BEFORE" ] || [ "$APP_CHANGED" != 0 ]; }; then
        run systemctl daemon-reload
    fi
    run systemctl enable "${ENABLE[@]}"
fi

# -- 7. tor: the onion service, and AppArmor's permission to open the app's socket ------------------------
if [ -f "$ROOT/etc/tor/torrc" ] && ! cmp -s "$REPO/deploy/torrc" "$ROOT/etc/tor/torrc" \
        && [ ! -f "$ROOT/etc/tor/torrc.before-intake" ]; then
    run cp -p "$ROOT/etc/tor/torrc" "$ROOT/etc/tor/torrc.before-intake"
fi
put "$REPO/deploy/torrc" /etc/tor/torrc 0644
APPARMOR_BEFORE=$CHANGED
put "$REPO/deploy/apparmor-local-system_tor" /etc/apparmor.d/local/system_tor 0644
TOR_CHANGED=$((CHANGED - BEFORE))  # the drop-in, the torrc or the AppArmor rule were replaced
if [ -z "$ROOT" ]; then
    if [ "$CHANGED" != "$APPARMOR_BEFORE" ] && [ -d /sys/kernel/security/apparmor ] && [ -f /etc/apparmor.d/system_tor ]; then
        run apparmor_parser -r /etc/apparmor.d/system_tor
    fi
    # As root, with Debian's service defaults (their "User debian-tor" makes tor refuse to start as that user).
    # tor accepts a misspelled option with only a warning: any [warn] line stops the install.
    verify=(tor --verify-config --defaults-torrc /usr/share/tor/tor-service-defaults-torrc -f /etc/tor/torrc)
    printf '+ %s\n' "${verify[*]}" >&2
    if ! verified=$("${verify[@]}" 2>&1) || printf '%s\n' "$verified" | grep -q '\[warn\]'; then
        printf '%s\n' "$verified" | grep -E '\[(warn|err)\]' >&2 || true
        die "tor does not accept /etc/tor/torrc as it is (above); nothing was started."
    fi
fi

# -- 8. Start, and read the address ------------------------------------------------------------------------
ONION=""
if [ "$LIVE" = 1 ]; then
    # Restart only what changed: a second run with nothing new leaves running services alone.
    if [ "$APP_CHANGED" != 0 ] && systemctl is-active --quiet intake.service; then
        run systemctl restart intake.service
    fi
    run systemctl start "${ENABLE[@]}"
    if [ "$TOR_CHANGED" != 0 ] || ! systemctl is-active --quiet tor@default; then
        run systemctl restart tor@default
    fi
    for _ in $(seq 60); do
        [ -s /var/lib/tor/intake/hostname ] && break
        sleep 1
    done
fi
if [ -s "$ROOT/var/lib/tor/intake/hostname" ]; then
    ONION=$(cat "$ROOT/var/lib/tor/intake/hostname")
fi

cat <<EOF

intake is installed.
  Onion address:          ${ONION:-not yet made by tor (read it later: cat /var/lib/tor/intake/hostname)}
  Server key fingerprint: ${FINGERPRINT:-see the output of intake init above}
Write the fingerprint on paper: caseworkers compare it on their first import.

Next:
  1. Add at least two caseworkers' public keys, reading each fingerprint aloud with its owner:
       intake-admin recipients add NAME.pub      (intake as the service user with /etc/intake/intake.env)
  2. Open http://<onion address>/ in Tor Browser on the Safest level: the form must load and work.
  3. Back up /var/lib/tor/intake/ (the address's key) offline and encrypted (docs/OPERATIONS.md, Backups).
  4. Check once: journalctl -u intake -u tor@default (nothing about visitors may be in it).
EOF
