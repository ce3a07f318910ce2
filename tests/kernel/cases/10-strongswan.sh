#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The lab proves real kernel ESP: its strongSwan gateway and a strongSwan
# initiator, both with kernel-netlink and without kernel-libipsec
# (KEEL_LAB_KERNEL_ESP=1), scenario ikev2-psk. The client gets a virtual
# IP, pings 198.51.100.10 through the tunnel, and `ip xfrm state` shows the
# two ESP SAs at each end with the packets counted. Twice: ESP in UDP
# (encap = yes, the lab's default) and plain ESP (encap = no).
set -u
# shellcheck source=../../lab/lab.sh
. "$KEEL_SRC/tests/lab/lab.sh"
export KEEL_LAB_KERNEL_ESP=1
lab_require ping

fail() {
	echo "FAIL: $*"
	local f
	for f in "$LAB_RUN"/cli/initiate.log "$LAB_RUN"/gw/charon.log "$LAB_RUN"/cli/charon.log; do
		[ -f "$f" ] || continue
		echo "--- $f (last 30 lines)"
		tail -n 30 "$f"
	done
	exit 1
}

# check_states ROLE NS ENCAP: the ESP SAs in NS, seen by iproute2
check_states() {
	local role=$1 ns=$2 encap=$3 states sa pk sa_encap n_esp n_encap=0 min_pk=
	lab_xfrm_sas "$ns" esp || fail "ip xfrm state in $role"
	states=$LAB_XFRM_STATES
	n_esp=${#LAB_XFRM_SAS[@]}
	for sa in "${LAB_XFRM_SAS[@]}"; do
		read -r _ _ pk sa_encap <<<"$sa"
		[ "$sa_encap" = espinudp:4500:4500 ] && n_encap=$((n_encap + 1))
		if [ "$pk" != - ] && { [ -z "$min_pk" ] || [ "$pk" -lt "$min_pk" ]; }; then
			min_pk=$pk
		fi
	done
	[ "$n_esp" = 2 ] || fail "$role: $n_esp ESP SAs in the kernel, expected 2: $states"
	[ "$LAB_XFRM_OTHER" = 0 ] || fail "$role: SAs other than ESP in the kernel: $states"
	if [ "$encap" = yes ]; then
		[ "$n_encap" = 2 ] || fail "$role: $n_encap SAs with ESP in UDP, expected 2: $states"
	else
		[ "$n_encap" = 0 ] || fail "$role: SAs with ESP in UDP though encap = no: $states"
	fi
	[ "${min_pk:-0}" -ge 3 ] ||
		fail "$role: an SA counted ${min_pk:-0} packets, expected at least 3: $states"
	[ -e "/proc/${LAB_PID[gw]}/root/sys/class/net/ipsec0" ] &&
		fail "a kernel-libipsec TUN device ipsec0 exists"
	return 0
}

run() {
	local encap=$1 t0 vip
	t0=$(date +%s%N)
	export KEEL_LAB_ENCAP=$encap
	lab_strongswan_up ikev2-psk || fail "$LAB_ERROR (encap = $encap)"
	vip=$LAB_CLIENT_VIP
	ip netns exec "$LAB_NS_CLI" ping -q -n -c 3 -i 0.2 -W 5 -I "$vip" "$LAB_HOST_ADDR" \
		>"$LAB_RUN/ping.log" 2>&1 || fail "no ping reply through the tunnel: $(cat "$LAB_RUN/ping.log")"
	grep -q ' 3 received' "$LAB_RUN/ping.log" || fail "lost pings: $(grep received "$LAB_RUN/ping.log")"
	check_states gateway "$LAB_NS_GW" "$encap"
	check_states client "$LAB_NS_CLI" "$encap"
	lab_down
	echo "ok: strongSwan <-> strongSwan, kernel ESP, encap = $encap, virtual IP $vip," \
		"$((($(date +%s%N) - t0) / 1000000)) ms"
}

(run yes) || exit 1
(run no) || exit 1
exit 0
