#!/bin/sh
# Install Prometheus 2.42 and Alertmanager 0.25 (with promtool and amtool), and npm for the
# dashboard's type check, from Debian 12.
#
# The tests and `seldon-graph serve --monitoring` start these binaries themselves, on
# loopback and free ports (graph/monitoring/). The Debian packages also ship system
# services listening on :9090 and :9093; this script keeps them from starting: a
# temporary /usr/sbin/policy-rc.d answers "no" while the packages install, and where
# systemd runs, the units are disabled and stopped afterwards. Idempotent: apt-get runs
# only when a binary is missing. Needs root (or sudo) for apt-get.
#
# Usage: sh scripts/install_monitoring_tools.sh
set -eu

# Debian names the Alertmanager binary prometheus-alertmanager. npm (with node) type-checks
# the Grafana dashboard against @grafana/schema in the tests.
BINARIES="prometheus promtool prometheus-alertmanager amtool npm"
SERVICES="prometheus prometheus-alertmanager"

package_of() {
    case "$1" in
        prometheus|promtool) echo prometheus ;;
        prometheus-alertmanager|amtool) echo prometheus-alertmanager ;;
        npm) echo npm ;;
    esac
}

missing=""
PACKAGES=""
for bin in $BINARIES; do
    if ! command -v "$bin" >/dev/null 2>&1; then
        missing="$missing $bin"
        pkg=$(package_of "$bin")
        case " $PACKAGES " in *" $pkg "*) ;; *) PACKAGES="$PACKAGES $pkg" ;; esac
    fi
done

if [ -n "$missing" ]; then
    echo "install_monitoring_tools: missing:$missing; installing $PACKAGES"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "need root or sudo for apt-get" >&2; exit 1; }
        SUDO="sudo"
    fi
    POLICY=/usr/sbin/policy-rc.d
    own_policy=""
    if [ ! -e "$POLICY" ]; then
        # invoke-rc.d and deb-systemd-invoke ask this file before starting a service;
        # exit status 101 means "action forbidden".
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
        $SUDO chmod 755 "$POLICY"
        own_policy=1
    fi
    status=0
    { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
        --no-install-recommends $PACKAGES; } || status=$?
    [ -n "$own_policy" ] && $SUDO rm -f "$POLICY"
    [ "$status" = 0 ] || exit "$status"
fi

# Whatever the install did, no packaged service stays enabled or running. `systemctl
# disable` works without a running systemd (it removes the unit's symlinks).
if command -v systemctl >/dev/null 2>&1; then
    for svc in $SERVICES; do
        ${SUDO:-} systemctl disable --quiet "$svc" >/dev/null 2>&1 || true
        if [ -d /run/systemd/system ]; then
            ${SUDO:-} systemctl stop "$svc" >/dev/null 2>&1 || true
        fi
    done
fi
if [ ! -d /run/systemd/system ] && command -v service >/dev/null 2>&1; then
    for svc in $SERVICES; do
        if [ -x "/etc/init.d/$svc" ] && service "$svc" status >/dev/null 2>&1; then
            ${SUDO:-} service "$svc" stop || true
        fi
    done
fi

for bin in $BINARIES; do
    command -v "$bin" >/dev/null 2>&1 || { echo "install_monitoring_tools: no $bin" >&2; exit 1; }
done
prometheus --version 2>&1 | head -n 1
prometheus-alertmanager --version 2>&1 | head -n 1
