#!/bin/sh
# Installs the proxy binary and its systemd units.
#
#   sudo ./install.sh path/to/proxy            # binary to $PREFIX/bin/proxy
#   PREFIX=/opt/proxy sudo ./install.sh ./proxy
#   DESTDIR=/tmp/pkgroot ./install.sh ./proxy  # staging for a package:
#                                              # no users, no systemctl
#
# Then write /etc/proxy/config.yaml and: systemctl enable --now proxy
set -eu

BIN=${1:?usage: install.sh PATH_TO_PROXY_BINARY}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
UNITDIR=${UNITDIR:-/etc/systemd/system}
HERE=$(cd "$(dirname "$0")" && pwd)

install -D -m 0755 "$BIN" "$DESTDIR$PREFIX/bin/proxy"

for unit in proxy.service proxy@.service; do
	mkdir -p "$DESTDIR$UNITDIR"
	sed "s#/usr/local/bin/proxy#$PREFIX/bin/proxy#" "$HERE/$unit" >"$DESTDIR$UNITDIR/$unit"
	chmod 0644 "$DESTDIR$UNITDIR/$unit"
done
install -D -m 0644 "$HERE/nginx-lb.conf" "$DESTDIR$PREFIX/share/proxy/nginx-lb.conf"

if [ -n "$DESTDIR" ]; then
	install -d -m 0750 "$DESTDIR/etc/proxy"
	echo "staged under $DESTDIR; on the target create group 'proxy' and chgrp /etc/proxy to it"
	exit 0
fi

# The service runs as a dynamic user that reads the config (which holds
# upstream keys) through this static group.
getent group proxy >/dev/null || groupadd --system proxy
install -d -m 0750 -o root -g proxy /etc/proxy
if [ -f /etc/proxy/config.yaml ]; then
	chgrp proxy /etc/proxy/config.yaml
	chmod 0640 /etc/proxy/config.yaml
else
	echo "note: write /etc/proxy/config.yaml (root:proxy, mode 0640) before starting"
fi

if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$UNITDIR/proxy.service"
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	echo "installed; start with: systemctl enable --now proxy"
fi
