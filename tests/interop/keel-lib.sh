# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034
#
# Helpers for the interop tests of the keel command (tests/interop/keel-*.sh):
# Keel in the lab's client namespace against the lab's strongSwan gateway.
# Source after tests/lab/lab.sh.
#
#   keel_require [TOOLS...]      skip (77) unless root, strongSwan and $KEEL are there
#   keel_lab SCENARIO            lab_init, scenario, namespaces, gateway, files below
#   keel_profile [LINE...]       writes $KEEL_PROFILE for the scenario (+ extra lines)
#   keel_secrets PSK             writes $KEEL_SECRETS (mode 0600)
#   keel_start [ARGS...]         keel connect in the client namespace, in the background
#   keel_wait_up SECONDS         until "tunnel up" (fails early if keel exits)
#   keel_wait_exit SECONDS       until keel has exited; its status in KEEL_RC
#   keel_stop                    SIGINT, then keel_wait_exit
#   keel_net_state               the client namespace's links, addresses, routes
#   keel_fail MESSAGE            prints the logs and exits 1
#
# $KEEL is the keel binary (meson sets it); $KEEL_RESOLV is a private
# resolv.conf given to keel with --resolv-conf, so that no test touches the
# host's /etc/resolv.conf.

# shellcheck disable=SC2120
keel_require() {
	lab_require "$@"
	if [ -z "${KEEL:-}" ] || [ ! -x "$KEEL" ]; then
		echo "SKIP: \$KEEL does not name the keel binary (run through meson test)" >&2
		exit 77
	fi
}

keel_fail() {
	echo "FAIL: ${KEEL_TEST:-keel}: $*" >&2
	local f
	for f in "${LAB_RUN:-/nonexistent}/keel.log" "${LAB_RUN:-/nonexistent}/gw/charon.log"; do
		[ -f "$f" ] || continue
		echo "--- $f (last 60 lines)" >&2
		tail -n 60 "$f" >&2
	done
	exit 1
}

keel_lab() {
	lab_init
	lab_scenario "$1"
	lab_net_up
	lab_gateway
	KEEL_PROFILE=$LAB_RUN/office.conf
	KEEL_SECRETS=$LAB_RUN/office.secrets
	KEEL_RESOLV=$LAB_RUN/resolv.conf
	KEEL_LOG=$LAB_RUN/keel.log
	printf 'nameserver 192.0.2.53\nsearch lab.example\noptions edns0\n' >"$KEEL_RESOLV"
	cp "$KEEL_RESOLV" "$LAB_RUN/resolv.conf.orig"
}

# keel_profile [LINE...]: the scenario's connection; extra lines go to [connection].
keel_profile() {
	{
		echo "[connection]"
		echo "gateway = $LAB_GW_ADDR"
		echo "auth = psk"
		echo "local-id = ${LAB_VAR[CLIENT_ID]}"
		echo "remote-id = ${LAB_VAR[GW_ID]}"
		echo "remote-ts = ${LAB_VAR[REMOTE_TS]}"
		echo "datapath = tun"
		local line
		for line in "$@"; do
			echo "$line"
		done
	} >"$KEEL_PROFILE"
}

keel_secrets() {
	(umask 077 && printf '[secrets]\npsk = %s\n' "$1" >"$KEEL_SECRETS")
}

# keel_start [ARGS...]: `ip netns exec` execs keel itself, so $! is keel's PID.
keel_start() {
	ip netns exec "$LAB_NS_CLI" "$KEEL" connect "$KEEL_PROFILE" --secrets "$KEEL_SECRETS" \
		--resolv-conf "$KEEL_RESOLV" "$@" >"$KEEL_LOG" 2>&1 </dev/null &
	KEEL_PID=$!
}

# True once KEEL_PID has exited (a zombie until waited for: kill -0 would still succeed).
keel_exited() {
	local state
	state=$(awk '{ print $3 }' "/proc/$KEEL_PID/stat" 2>/dev/null) || return 0
	[ -z "$state" ] || [ "$state" = Z ]
}

_keel_up() {
	keel_exited && return 2
	grep -q '^tunnel up:' "$KEEL_LOG"
}

keel_wait_up() {
	lab_wait "$1" _keel_up || {
		keel_exited && keel_fail "keel exited before the tunnel was up"
		keel_fail "no 'tunnel up' within $1 s"
	}
}

keel_wait_exit() {
	if ! lab_wait "$1" keel_exited; then
		kill -KILL "$KEEL_PID" 2>/dev/null
		wait "$KEEL_PID" 2>/dev/null
		keel_fail "keel still running after $1 s"
	fi
	wait "$KEEL_PID"
	KEEL_RC=$?
}

keel_stop() {
	kill -INT "$KEEL_PID" 2>/dev/null
	keel_wait_exit "${1:-10}"
}

# The client namespace's links, addresses and routes. IPv6 link-local
# addresses and their routes are left out: the kernel's duplicate address
# detection changes them by itself while a test runs.
keel_net_state() {
	{
		ip -n "$LAB_NS_CLI" -o link show | sed 's/^[0-9]*: //; s/\\ *link.*//'
		ip -n "$LAB_NS_CLI" -o addr show | sed 's/^[0-9]*: //; s/\\ *valid_lft.*//'
		ip -n "$LAB_NS_CLI" route show table all
	} | grep -v 'fe80::'
}

# The TUN device keel made (keel0, keel1, ...), if any.
keel_tun_name() {
	ip -n "$LAB_NS_CLI" -o link show | awk -F': ' '$2 ~ /^keel[0-9]+/ { print $2; exit }'
}

# keel_resolv_restored: the private resolv.conf is back as it was, no backup left.
keel_resolv_restored() {
	cmp -s "$KEEL_RESOLV" "$LAB_RUN/resolv.conf.orig" && [ ! -e "$KEEL_RESOLV.keel-backup" ]
}

# keel_no_secret PSK: the log never shows the PSK.
keel_no_secret() {
	if grep -qF -- "$1" "$KEEL_LOG"; then
		keel_fail "the log shows the pre-shared key"
	fi
}
