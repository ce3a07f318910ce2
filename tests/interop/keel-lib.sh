# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034
#
# Helpers for the interop tests of the keel command (tests/interop/keel-*.sh):
# Keel in the lab's client namespace against the lab's strongSwan gateway.
# Source after tests/lab/lab.sh.
#
#   keel_require [TOOLS...]      skip (77) unless root, strongSwan and $KEEL are there
#   keel_lab SCENARIO            lab_init, scenario, namespaces, gateway, files below
#   keel_profile [LINE...]       writes $KEEL_PROFILE for the scenario (+ extra lines;
#                                datapath = $KEEL_DATAPATH, default tun)
#   keel_profile_auth AUTH [LINE...]  the same with auth = AUTH and the scenario's proposals
#   keel_profile_scenario AUTH [LINE...]  keel_profile_auth with an IKEv1 group name as
#                                a key ID and, for xauth-psk, the scenario's XAUTH user
#   keel_secrets PSK [PASSWORD]  writes $KEEL_SECRETS (mode 0600)
#   keel_secrets_scenario AUTH   keel_secrets with the scenario's PSK (and XAUTH password
#                                for xauth-psk)
#   keel_start [ARGS...]         keel connect in the client namespace, in the background
#   keel_wait_up SECONDS         until "tunnel up" (fails early if keel exits)
#   keel_wait_exit SECONDS       until keel has exited; its status in KEEL_RC
#   keel_stop                    SIGINT, then keel_wait_exit
#   keel_net_state               the client namespace's links, addresses, routes
#   keel_fail MESSAGE            prints the logs and exits 1
#   keel_ping_all COUNT [SRC]    COUNT pings 0.2 s apart to the protected host, none lost
#   keel_child_spis              "IN OUT" of the ESP SAs keel installed last (-v or more)
#   keel_gw_has_child IN OUT     the gateway's CHILD SA is that pair (its in is our out)
#   keel_guest_require [BIN]     in the kernel guest: skip (77) unless BIN ($KEEL) runs there
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
		echo "datapath = ${KEEL_DATAPATH:-tun}"
		local line
		for line in "$@"; do
			echo "$line"
		done
	} >"$KEEL_PROFILE"
}

# keel_profile_auth AUTH [LINE...]: the scenario's connection with auth =
# AUTH and its proposals; the LINEs follow ("[auth]" starts that group).
# KEEL_LOCAL_ID, when set, replaces the scenario's client id.
keel_profile_auth() {
	local auth=$1 line
	shift
	{
		echo "[connection]"
		echo "gateway = $LAB_GW_ADDR"
		echo "auth = $auth"
		echo "local-id = ${KEEL_LOCAL_ID:-${LAB_VAR[CLIENT_ID]}}"
		echo "remote-id = ${LAB_VAR[GW_ID]}"
		echo "ike-proposals = ${LAB_VAR[IKE_PROPOSALS]}"
		echo "esp-proposals = ${LAB_VAR[ESP_PROPOSALS]}"
		echo "remote-ts = ${LAB_VAR[REMOTE_TS]}"
		echo "datapath = ${KEEL_DATAPATH:-tun}"
		for line in "$@"; do
			echo "$line"
		done
	} >"$KEEL_PROFILE"
}

# keel_profile_scenario AUTH [LINE...]: keel_profile_auth for any scenario,
# IKEv1 ones too (add "ike = 1"): an IKEv1 group name keyid:NAME is written
# as Keel's @#hex key ID, and auth = xauth-psk gets [auth] username = the
# scenario's XAUTH user after the LINEs.
keel_profile_scenario() {
	local auth=$1 id=${LAB_VAR[CLIENT_ID]}
	shift
	if [[ $id == keyid:* ]]; then
		id="@#$(printf '%s' "${id#keyid:}" | od -An -tx1 | tr -d ' \n')"
	fi
	[ "$auth" = xauth-psk ] && set -- "$@" "[auth]" "username = ${LAB_VAR[XAUTH_USER]}"
	KEEL_LOCAL_ID=${KEEL_LOCAL_ID:-$id} keel_profile_auth "$auth" "$@"
}

# keel_secrets PSK [PASSWORD]: the EAP or XAUTH password too when given.
keel_secrets() {
	(
		umask 077
		printf '[secrets]\npsk = %s\n' "$1" >"$KEEL_SECRETS"
		if [ $# -ge 2 ]; then
			printf 'password = %s\n' "$2" >>"$KEEL_SECRETS"
		fi
	)
}

# keel_secrets_scenario AUTH: the scenario's PSK, and for auth = xauth-psk
# its XAUTH password, as keel_profile_scenario AUTH asks for them.
keel_secrets_scenario() {
	if [ "$1" = xauth-psk ]; then
		keel_secrets "${LAB_VAR[PSK]}" "${LAB_VAR[XAUTH_PASSWORD]}"
	else
		keel_secrets "${LAB_VAR[PSK]}"
	fi
}

# keel_start [ARGS...]: `ip netns exec` execs keel itself, so $! is keel's PID.
keel_start() {
	: >"$KEEL_LOG" # there before the first look at it, not when the background job opens it
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

# keel_tunnel_ping CASE COUNT: keel's TUN device has a 100.64.0.x virtual IP
# (left in KEEL_VIP) and COUNT pings to the protected host all come back.
keel_tunnel_ping() {
	local case=$1 count=$2 tun
	tun=$(keel_tun_name)
	[ -n "$tun" ] || keel_fail "$case: no keel TUN device in the client namespace"
	KEEL_VIP=$(ip -n "$LAB_NS_CLI" -4 -o addr show dev "$tun" | awk '{ split($4, a, "/"); print a[1] }')
	[[ $KEEL_VIP =~ ^100\.64\.0\.[0-9]+$ ]] ||
		keel_fail "$case: no 100.64.0.x virtual IP on $tun: '$KEEL_VIP'"
	ip netns exec "$LAB_NS_CLI" ping -q -n -c "$count" -i 0.2 -W 5 "$LAB_HOST_ADDR" \
		>"$LAB_RUN/ping.log" 2>&1 ||
		keel_fail "$case: no ping reply from $LAB_HOST_ADDR: $(cat "$LAB_RUN/ping.log")"
	grep -q " $count received" "$LAB_RUN/ping.log" ||
		keel_fail "$case: lost pings: $(grep received "$LAB_RUN/ping.log")"
}

# keel_ping_all COUNT [SRC]: COUNT pings 0.2 s apart to the protected host
# through the tunnel (from SRC when given), every one answered.
keel_ping_all() {
	ip netns exec "$LAB_NS_CLI" ping -n -c "$1" -i 0.2 -W 2 ${2:+-I "$2"} "$LAB_HOST_ADDR" \
		>"$LAB_RUN/ping.log" 2>&1 ||
		keel_fail "no ping through the tunnel: $(tail -n 3 "$LAB_RUN/ping.log")"
	grep -q " $1 received, 0% packet loss" "$LAB_RUN/ping.log" ||
		keel_fail "pings lost: $(grep received "$LAB_RUN/ping.log")"
}

# keel_child_spis: "IN OUT", the SPIs of the ESP SAs keel installed last
# (its debug lines "ESP SAs IN_i OUT_o in the data path" or "in the kernel").
keel_child_spis() {
	sed -n 's/.*ESP SAs \([0-9a-f]*\)_i \([0-9a-f]*\)_o in the.*/\1 \2/p' "$KEEL_LOG" | tail -n 1
}

# keel_gw_has_child IN OUT [SAS]: the gateway's CHILD SA (in SAS, its
# swanctl --list-sas, read when not given) is keel's pair IN OUT: the
# gateway's inbound SPI is keel's outbound one and the other way round.
keel_gw_has_child() {
	local sas=${3:-$(lab_swanctl gw --list-sas)}
	grep -Eq "in  +$2[ ,]" <<<"$sas" && grep -Eq "out +$1[ ,]" <<<"$sas"
}

# keel_guest_require [BINARY]: in the user-mode-linux guest (tests/kernel/cases),
# skip (77) unless BINARY ($KEEL by default) is built, and built without
# AddressSanitizer: ASan wants its shadow memory where user-mode-linux maps
# shared libraries (from 0x40000000).
keel_guest_require() {
	local bin=${1:-$KEEL}
	if [ ! -x "$bin" ]; then
		echo "SKIP: $bin is not built"
		exit 77
	fi
	if grep -qa __asan_init "$bin"; then
		echo "SKIP: ${bin##*/} is built with AddressSanitizer, which cannot run in a user-mode-linux guest"
		exit 77
	fi
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
