#!/usr/bin/env bash
# Builds Glovebox (release) and installs it as a systemd service on a Debian server. Run as root from
# the repository:
#
#   sudo scripts/install.sh                              # install and start gloveboxd.socket
#   sudo DESTDIR=/var/tmp/stage scripts/install.sh       # stage the tree only (no systemctl, no checks
#                                                        # against the real /etc)
#
# Installs gloveboxd and glovebox in /usr/local/bin (0755), glovebox-init (each run's pid 1) in
# /usr/local/libexec/glovebox, gloveboxd.service and gloveboxd.socket in /etc/systemd/system, glovebox.conf in /etc/tmpfiles.d, and, only where absent, the configuration
# (/etc/glovebox/gloveboxd.toml) and the policies (/etc/glovebox/policies/*.toml): an operator's files
# are never overwritten; what was kept is listed. Then validates the configuration and policies
# (gloveboxd --check-config) and, where systemd is PID 1, enables and starts the socket.
# If sudo hides your Swift toolchain: sudo env PATH="$PATH" scripts/install.sh
set -euo pipefail

cd "$(dirname "$0")/.."
DESTDIR="${DESTDIR:-}"
DESTDIR="${DESTDIR%/}"

if [[ $(id -u) -ne 0 && -z "$DESTDIR" ]]; then
    echo "install.sh: run as root (or set DESTDIR=... to stage the files elsewhere)" >&2
    exit 1
fi

# SCRATCH_PATH=DIR builds in DIR instead of .build (e.g. to leave a development build alone).
# PREBUILT=DIR installs gloveboxd, glovebox-init and glovebox from DIR as they are, without building (the
# systemd test stages the debug build this way).
if [[ -n "${PREBUILT:-}" ]]; then
    daemon_bin=$PREBUILT
    client_bin=$PREBUILT
else
    bins=$(scripts/build-release.sh)
    daemon_bin=$(sed -n 's/^DAEMON_BIN=//p' <<<"$bins")
    client_bin=$(sed -n 's/^CLIENT_BIN=//p' <<<"$bins")
fi

skipped=()

# install_file MODE SOURCE TARGET: always replaced (binaries and units are ours).
install_file() {
    install -D -m "$1" -o root -g root "$2" "$DESTDIR$3" 2>/dev/null || install -D -m "$1" "$2" "$DESTDIR$3"
    echo "installed $3"
}

# install_config SOURCE TARGET: only where there is none yet (the operator's file wins).
install_config() {
    if [[ -e "$DESTDIR$2" || -L "$DESTDIR$2" ]]; then
        skipped+=("$2")
    else
        install_file 0644 "$1" "$2"
    fi
}

echo "== installing into ${DESTDIR:-/}"
install_file 0755 "$daemon_bin/gloveboxd" /usr/local/bin/gloveboxd
# Each run's pid 1; gloveboxd looks for it beside itself, then in ../libexec/glovebox (owned by root and
# writable by no one else, or gloveboxd refuses to start).
install_file 0755 "$daemon_bin/glovebox-init" /usr/local/libexec/glovebox/glovebox-init
install_file 0755 "$client_bin/glovebox" /usr/local/bin/glovebox
install_file 0644 systemd/gloveboxd.service /etc/systemd/system/gloveboxd.service
install_file 0644 systemd/gloveboxd.socket /etc/systemd/system/gloveboxd.socket
install_file 0644 systemd/glovebox.conf /etc/tmpfiles.d/glovebox.conf
install -d -m 0755 "$DESTDIR/etc/glovebox" "$DESTDIR/etc/glovebox/policies"
install_config systemd/gloveboxd.toml /etc/glovebox/gloveboxd.toml
for policy in policies/*.toml; do
    install_config "$policy" "/etc/glovebox/policies/$(basename "$policy")"
done

if ((${#skipped[@]})); then
    echo "== kept as they were (already present; compare with the repository's copies by hand):"
    printf '   %s\n' "${skipped[@]}"
fi

if [[ -n "$DESTDIR" ]]; then
    echo "== staged in $DESTDIR; not checked against the real /etc, and systemd was not touched."
    echo "   The staged configuration can be checked with:"
    echo "   $DESTDIR/usr/local/bin/gloveboxd --check-config --config $DESTDIR/etc/glovebox/gloveboxd.toml --policy-dir $DESTDIR/etc/glovebox/policies"
    exit 0
fi

echo "== checking the configuration and the policies"
if ! /usr/local/bin/gloveboxd --check-config; then
    echo "install.sh: gloveboxd --check-config found problems (above); fix them, then start gloveboxd.socket" >&2
    exit 1
fi

if [[ "$(cat /proc/1/comm 2>/dev/null)" == systemd ]]; then
    echo "== enabling and starting gloveboxd.socket"
    systemd-tmpfiles --create /etc/tmpfiles.d/glovebox.conf
    systemctl daemon-reload
    systemctl enable --now gloveboxd.socket
    # A running gloveboxd keeps its old binary and policies until it restarts.
    if systemctl is-active --quiet gloveboxd.service; then
        echo "gloveboxd.service is running the previous version: systemctl restart gloveboxd.service (cancels runs in flight)"
    fi
    echo "done: gloveboxd starts at the first connection (systemctl status gloveboxd.socket gloveboxd.service)"
else
    echo "== systemd is not PID 1 here: start gloveboxd by hand, e.g."
    echo "   mkdir -p /run/glovebox && /usr/local/bin/gloveboxd    # foreground, logs to stderr; SIGTERM stops it"
fi
