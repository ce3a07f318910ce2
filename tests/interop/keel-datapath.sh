#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Choosing the data path on a kernel without ESP (the project's machines;
# the kernel path itself is proven in the user-mode-linux guest,
# tests/kernel/cases/30-keel.sh). datapath = xfrm must fail at once with a
# clear reason, before changing anything; datapath = auto (the default)
# must say why it takes TUN, and connect and carry a ping; --datapath xfrm
# overrides a profile's tun the same way.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-datapath
keel_require ping

if grep -qw esp4 /proc/modules 2>/dev/null || modprobe -n -q esp4 2>/dev/null; then
	echo "SKIP: this kernel has ESP (esp4): the fallback to TUN cannot be shown here"
	exit 77
fi

keel_lab ikev2-psk
keel_secrets "${LAB_VAR[PSK]}"
# keel_profile writes datapath = tun; these tests set the key themselves
set_datapath() {
	keel_profile "ike-proposals = ${LAB_VAR[IKE_PROPOSALS]}" "esp-proposals = ${LAB_VAR[ESP_PROPOSALS]}"
	if [ -n "$1" ]; then
		sed -i "s/^datapath = tun\$/datapath = $1/" "$KEEL_PROFILE"
	else
		sed -i '/^datapath = tun$/d' "$KEEL_PROFILE"
	fi
}

before=$(keel_net_state)

# xfrm, from the profile and from the command line: refused before any change
for how in profile cli; do
	if [ "$how" = profile ]; then
		set_datapath xfrm
		keel_start
	else
		set_datapath tun
		keel_start --datapath xfrm
	fi
	keel_wait_exit 10
	[ "$KEEL_RC" = 1 ] || keel_fail "datapath xfrm ($how): exit status $KEEL_RC, not 1"
	grep -q 'kernel data path cannot be used here: .*no ESP' "$KEEL_LOG" ||
		keel_fail "datapath xfrm ($how): no clear reason: $(cat "$KEEL_LOG")"
	grep -q 'IKE_SA_INIT' "$KEEL_LOG" && keel_fail "datapath xfrm ($how): IKE started anyway"
	[ "$(keel_net_state)" = "$before" ] ||
		keel_fail "datapath xfrm ($how) changed the network: $(diff <(echo "$before") <(keel_net_state))"
	[ -z "$(ip -n "$LAB_NS_CLI" xfrm state)" ] || keel_fail "datapath xfrm ($how) left an SA"
	echo "ok: datapath xfrm ($how) refused: $(grep -o 'no ESP[^(]*' "$KEEL_LOG" | head -n 1)"
done

# auto, explicitly and as the default: TUN, said why, and a working tunnel
for value in auto ""; do
	set_datapath "$value"
	keel_start
	keel_wait_up 20
	grep -q '^data path: user-space ESP over TUN (.*no ESP' "$KEEL_LOG" ||
		keel_fail "datapath ${value:-default}: no 'data path: user-space ESP over TUN' line: $(head -n 3 "$KEEL_LOG")"
	[ -n "$(keel_tun_name)" ] || keel_fail "datapath ${value:-default}: no TUN device"
	ip netns exec "$LAB_NS_CLI" ping -q -n -c 3 -i 0.2 -W 5 "$LAB_HOST_ADDR" >"$LAB_RUN/ping.log" 2>&1 ||
		keel_fail "datapath ${value:-default}: no ping through the tunnel: $(cat "$LAB_RUN/ping.log")"
	keel_stop 10
	[ "$KEEL_RC" = 0 ] || keel_fail "datapath ${value:-default}: exit status $KEEL_RC after SIGINT"
	[ "$(keel_net_state)" = "$before" ] ||
		keel_fail "datapath ${value:-default} left changes: $(diff <(echo "$before") <(keel_net_state))"
	echo "ok: datapath ${value:-(default)}: $(grep -m1 '^data path:' "$KEEL_LOG" | cut -c1-60)..., ping through TUN"
done

echo "PASS: $KEEL_TEST: xfrm refused before any change, auto falls back to TUN and connects"
exit 0
