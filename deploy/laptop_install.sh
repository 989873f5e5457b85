#!/bin/sh
# Install triage on the offline laptop from this kit (made by deploy/laptop_kit.py): no network, every
# file checked against SHA256SUMS, every package against the hashes in requirements.txt.
#
#   sh install.sh [FOLDER]     FOLDER: where to install (default: ~/Persistent/triage-venv on Tails,
#                              else ~/triage-venv). PYTHON=python3.11 sh install.sh to pick an interpreter.
set -eu

KIT=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
if [ -d "$HOME/Persistent" ]; then
    DEFAULT="$HOME/Persistent/triage-venv"   # Tails: only Persistent Storage survives a restart
else
    DEFAULT="$HOME/triage-venv"
fi
TARGET=${1:-$DEFAULT}

fail() { echo "$*" >&2; exit 1; }

cd "$KIT"
sha256sum --check --strict --quiet SHA256SUMS \
    || fail "A file of this kit does not match SHA256SUMS: it was damaged or changed. Nothing was installed."

want=$(cat PYTHON_VERSION)
have=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
    || fail "No $PYTHON here. Tails and Debian include python3; name another with PYTHON=... sh install.sh."
[ "$have" = "$want" ] \
    || fail "This kit is for Python $want, but $PYTHON is $have. Build a kit for it: make laptop-kit ... LAPTOP_PYTHON=$have (or deploy/laptop_kit.py --python-version $have)."

if [ -e "$TARGET/bin/python" ]; then
    echo "Upgrading the installation in $TARGET."
else
    [ ! -e "$TARGET" ] || [ -z "$(ls -A "$TARGET")" ] \
        || fail "$TARGET exists and is not an installation of triage; give another folder: sh install.sh FOLDER."
    # Without pip: pip runs from its wheel in this kit, so python3-venv (ensurepip) is not needed.
    "$PYTHON" -m venv --without-pip "$TARGET" \
        || fail "Could not create $TARGET with $PYTHON -m venv."
fi

# Only this kit: no index, no configuration or PIP_* variable that could point pip elsewhere.
for name in $(env | sed -n 's/^\(PIP_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$name"; done
export PIP_CONFIG_FILE=/dev/null
set -- "$KIT"/wheels/pip-*.whl
"$TARGET/bin/python" "$1/pip" install --disable-pip-version-check --no-index --find-links "$KIT/wheels" \
    --only-binary=:all: --require-hashes --force-reinstall --quiet -r "$KIT/requirements.txt" \
    || fail "pip could not install the kit (see above). Nothing outside $TARGET was changed."

echo "Installed triage in $TARGET."
echo "Run it as $TARGET/bin/triage, or first: export PATH=\"$TARGET/bin:\$PATH\""
"$TARGET/bin/triage" --version
