#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# keel connect with datapath = xfrm against the lab's strongSwan gateway,
# both with ESP in the guest's kernel (KEEL_LAB_KERNEL_ESP=1):
#  1. IKEv2 PSK, plain ESP: "data path: kernel XFRM", the virtual IP on the
#     interface towards the gateway, a ping through the tunnel, Keel's two
#     SAs (reqid 0x4b...) and three policies in `ip xfrm`, the SAs' packet
#     counters rising with a second ping; SIGTERM leaves nothing (SA,
#     policy, address, route) behind.
#  1b. Keel rekeys the CHILD SA itself (child-rekey-time = 3s; the gateway's
#     stays 1h): 30 pings 0.2 s apart, none lost, across at least two
#     rekeys that the gateway only answers; once a rekey is through, `ip
#     xfrm state` holds the newest pair alone, not the first one.
#  2. The same gateway reloaded with a 2 s CHILD rekey time: 40 pings
#     0.2 s apart across its rekeys, none lost, every rekey installed in the
#     kernel with the new outbound SA kept back until the gateway deleted
#     the old pair (it installs its new inbound SA only on our answer);
#     SIGINT leaves nothing.
#  3. A crash: SIGKILL leaves Keel's SAs, policies, virtual IP and routes;
#     the next run says it removed them, connects, pings, and its SIGINT
#     leaves nothing.
#  4. NAT-T through the lab's NAT router: ESP in UDP (espinudp), ping, clean.
#  5. IKEv1 aggressive mode + XAUTH (its gateway forces ESP in UDP): ping,
#     clean; then quick mode rekeys by the gateway every 2 s, none lost.
set -u
# shellcheck source=../../lab/lab.sh
. "$KEEL_SRC/tests/lab/lab.sh"
# shellcheck source=../../interop/keel-lib.sh
. "$KEEL_SRC/tests/interop/keel-lib.sh"
export KEEL_LAB_KERNEL_ESP=1
KEEL=$KEEL_BUILD/app/keel
KEEL_TEST=30-keel
keel_guest_require
lab_require ping

# kprofile AUTH [LINE...]: the scenario's profile with datapath = xfrm, and
# its secrets (with xauth-psk the XAUTH password too).
kprofile() {
	KEEL_DATAPATH=xfrm keel_profile_scenario "$@"
	keel_secrets_scenario "$1"
}

# sa_view ENCAP: checks the client's SAs (ESP, Keel's reqid, in UDP or
# not) and prints "SPI:packets ..." sorted, for the counters' comparison.
sa_view() {
	local encap=$1 states sa spi reqid pk sa_encap n_esp n_keel=0 n_encap=0 out=()
	lab_xfrm_sas "$LAB_NS_CLI" esp || keel_fail "ip xfrm state"
	states=$LAB_XFRM_STATES
	n_esp=${#LAB_XFRM_SAS[@]}
	for sa in "${LAB_XFRM_SAS[@]}"; do
		read -r spi reqid pk sa_encap <<<"$sa"
		[[ $reqid == 0x4b* ]] && n_keel=$((n_keel + 1))
		[ "$sa_encap" != - ] && n_encap=$((n_encap + 1))
		[ "$pk" != - ] && out+=("$spi:$pk")
	done
	[ "$n_esp" -ge 2 ] || keel_fail "$n_esp ESP SAs in the client's kernel, expected 2: $states"
	[ "$n_keel" = "$n_esp" ] || keel_fail "ESP SAs without Keel's reqid: $states"
	if [ "$encap" = yes ]; then
		[ "$n_encap" = "$n_esp" ] || keel_fail "SAs not in UDP: $states"
	else
		[ "$n_encap" = 0 ] || keel_fail "SAs in UDP though no NAT-T: $states"
	fi
	printf '%s\n' "${out[@]}" | sort
}

# check_up ENCAP: the line that names the path, the virtual IP where it
# belongs, the SAs and policies, the counters.
check_up() {
	local encap=$1 vip view1 view2 pol n_pol
	grep -q '^data path: kernel XFRM (the kernel takes ESP' "$KEEL_LOG" ||
		keel_fail "no 'data path: kernel XFRM' line: $(head -n 3 "$KEEL_LOG")"
	vip=$(sed -n 's/^tunnel up: virtual IP \(100\.64\.0\.[0-9]*\) on wan0.*/\1/p' "$KEEL_LOG")
	[ -n "$vip" ] || keel_fail "no virtual IP on wan0: $(grep '^tunnel up' "$KEEL_LOG")"
	ip -n "$LAB_NS_CLI" -o addr show dev wan0 | grep -q " $vip/32 " ||
		keel_fail "$vip is not on wan0"
	ip -n "$LAB_NS_CLI" route show 198.51.100.0/24 | grep -q "src $vip" ||
		keel_fail "no route to 198.51.100.0/24 from $vip: $(ip -n "$LAB_NS_CLI" route)"
	[ -z "$(keel_tun_name)" ] || keel_fail "a TUN device exists with datapath = xfrm"
	keel_ping_all 3
	view1=$(sa_view "$encap") || exit 1
	pol=$(ip -n "$LAB_NS_CLI" -s xfrm policy list)
	n_pol=$(grep -cE 'reqid [0-9]+ ?\(0x4b' <<<"$pol")
	[ "$n_pol" = 3 ] || keel_fail "$n_pol policies with Keel's reqid, expected 3 (out, in, fwd): $pol"
	grep -q "src $vip/32 dst 198.51.100.0/24" <<<"$pol" || keel_fail "no policy from $vip: $pol"
	local pk
	for pk in $view1; do
		[ "${pk#*:}" -ge 3 ] || keel_fail "an SA counted ${pk#*:} packets after 3 pings: $view1"
	done
	keel_ping_all 3
	view2=$(sa_view "$encap") || exit 1
	# same SAs (no rekey here), each at least 3 packets further
	[ "$(cut -d: -f1 <<<"$view1")" = "$(cut -d: -f1 <<<"$view2")" ] ||
		keel_fail "the SAs changed between two pings: $view1 / $view2"
	local a b
	while read -r a b; do
		[ "${b#*:}" -ge $((${a#*:} + 3)) ] || keel_fail "counters did not rise: $view1 / $view2"
	done < <(paste -d' ' <(echo "$view1") <(echo "$view2"))
	echo "ok: ${KEEL_PHASE}: virtual IP $vip on wan0, SAs $(tr '\n' ' ' <<<"$view2")(packets), 3 policies"
}

# check_clean: nothing of keel's left in the client namespace.
check_clean() {
	local now
	[ -z "$(ip -n "$LAB_NS_CLI" xfrm state)" ] ||
		keel_fail "SAs left: $(ip -n "$LAB_NS_CLI" xfrm state)"
	[ -z "$(ip -n "$LAB_NS_CLI" xfrm policy)" ] ||
		keel_fail "policies left: $(ip -n "$LAB_NS_CLI" xfrm policy)"
	now=$(keel_net_state)
	[ "$now" = "$NET_BEFORE" ] ||
		keel_fail "addresses or routes left: $(diff <(echo "$NET_BEFORE") <(echo "$now"))"
	keel_resolv_restored || keel_fail "resolv.conf was not restored"
}

# stop SIGNAL: keel disconnects, exits 0, said its traffic, left nothing.
stop() {
	kill "-$1" "$KEEL_PID" 2>/dev/null
	keel_wait_exit 10
	[ "$KEEL_RC" = 0 ] || keel_fail "keel exited with $KEEL_RC after SIG$1, not 0"
	grep -q 'data path: kernel XFRM sent [1-9][0-9]* packets' "$KEEL_LOG" ||
		keel_fail "no traffic counters at teardown"
	check_clean
	echo "ok: ${KEEL_PHASE}: SIG$1: exit 0, no SA, policy, address or route left"
}

# rekeys ENCAP PINGS MIN: the gateway's connection reloaded with a 2 s CHILD
# rekey time, keel connects, PINGS pings 0.2 s apart lose nothing across at
# least MIN rekeys, each installed in the kernel (REKEYS: how many).
rekeys() {
	local encap=$1 pings=$2 min=$3 installs
	LAB_VAR[CHILD_REKEY_TIME]=2s
	LAB_VAR[CHILD_LIFE_TIME]=4s
	lab_render "$LAB_TEMPLATES/gateway.conf" "$LAB_RUN/gw/swanctl/swanctl.conf"
	lab_swanctl gw --load-conns --file "$LAB_RUN/gw/swanctl/swanctl.conf" >/dev/null ||
		keel_fail "reloading the gateway's connection"
	keel_start -v
	keel_wait_up 20
	keel_ping_all "$pings"
	installs=$(grep -c 'ESP SAs [0-9a-f]*_i [0-9a-f]*_o in the kernel' "$KEEL_LOG")
	REKEYS=$((installs - 1))
	[ "$REKEYS" -ge "$min" ] ||
		keel_fail "keel installed $REKEYS rekeyed pairs during $pings pings, not $min or more"
	keel_exited && keel_fail "keel exited during the rekeys"
	sa_view "$encap" >/dev/null || exit 1
	echo "ok: $KEEL_PHASE: $pings of $pings pings across $REKEYS CHILD rekeys in the kernel"
}

# _newest_pair_only: the client's kernel holds two SAs, the pair keel
# installed last, and that is not the first pair (FIRST: "IN OUT").
# shellcheck disable=SC2317 # called through lab_wait
_newest_pair_only() {
	local states last in out
	last=$(keel_child_spis)
	[ -n "$last" ] && [ "$last" != "$FIRST" ] || return 1
	read -r in out <<<"$last"
	states=$(ip -n "$LAB_NS_CLI" xfrm state list) || return 1
	[ "$(grep -c '^src ' <<<"$states")" = 2 ] && [[ $states == *"spi 0x$in "* ]] &&
		[[ $states == *"spi 0x$out "* ]]
}

# keel_rekeys PINGS MIN: Keel rekeys the CHILD SA itself every 2 to 3 s
# (child-rekey-time = 3s) while PINGS pings 0.2 s apart lose nothing, at
# least MIN times; the gateway only answers. Then the kernel holds the
# newest pair alone.
keel_rekeys() {
	local pings=$1 min=$2 n gw_own
	kprofile psk "child-rekey-time = 3s"
	keel_start -v
	keel_wait_up 20
	FIRST=$(keel_child_spis)
	[ -n "$FIRST" ] || keel_fail "keel did not print its first SPIs"
	keel_ping_all "$pings"
	n=$(grep -c 'info: tunnel rekeyed$' "$KEEL_LOG")
	[ "$n" -ge "$min" ] || keel_fail "keel rekeyed $n times during $pings pings, not $min or more"
	grep -q 'outbound once the gateway deletes' "$KEEL_LOG" &&
		keel_fail "a rekey keel started waited for the gateway's delete"
	gw_own=$(grep -c 'generating CREATE_CHILD_SA request' "$LAB_RUN/gw/charon.log")
	[ "$gw_own" = 0 ] || keel_fail "the gateway started $gw_own rekeys itself"
	lab_wait 5 _newest_pair_only ||
		keel_fail "the kernel does not hold keel's newest pair alone ($(keel_child_spis), first $FIRST): $(ip -n "$LAB_NS_CLI" xfrm state)"
	echo "ok: $KEEL_PHASE: $pings of $pings pings across $n CHILD rekeys by keel; SPIs $FIRST -> $(keel_child_spis), the old pair gone"
}

# ---- 1-3: IKEv2 PSK, plain ESP ----
ikev2() {
	local t0=$SECONDS waited
	export KEEL_LAB_ENCAP=no
	keel_lab ikev2-psk
	kprofile psk
	NET_BEFORE=$(keel_net_state)

	KEEL_PHASE="IKEv2 PSK"
	keel_start -v
	keel_wait_up 20
	check_up no
	stop TERM

	# 1b: keel rekeys
	KEEL_PHASE="IKEv2 rekey by keel"
	keel_rekeys 30 2
	stop INT

	# 2: the gateway rekeys every 2 s from now on
	KEEL_PHASE="IKEv2 rekey"
	kprofile psk
	rekeys no 40 3
	waited=$(grep -c 'in the kernel; outbound once the gateway deletes the old pair' "$KEEL_LOG")
	[ "$waited" = "$REKEYS" ] ||
		keel_fail "$waited of $REKEYS answered rekeys kept the new outbound SA back"
	stop INT

	# 3: SIGKILL, then a new run cleans up after it
	KEEL_PHASE="crash"
	keel_start -v
	keel_wait_up 20
	kill -KILL "$KEEL_PID"
	wait "$KEEL_PID" 2>/dev/null
	[ -n "$(ip -n "$LAB_NS_CLI" xfrm state)" ] || keel_fail "no SA left after SIGKILL (test broken?)"
	[ "$(keel_net_state)" != "$NET_BEFORE" ] || keel_fail "no route left after SIGKILL (test broken?)"
	cp "$KEEL_LOG" "$LAB_RUN/keel-killed.log"
	# the killed run's resolv.conf backup is restored by the next run, like its XFRM state
	keel_start -v
	keel_wait_up 20
	grep -Eq '^removed what an earlier run of keel left behind: SAs [1-9][0-9]*, policies [1-9][0-9]*, routes [1-9][0-9]*, addresses 1$' "$KEEL_LOG" ||
		keel_fail "the new run did not say it removed the crashed run's state: $(head -n 5 "$KEEL_LOG")"
	keel_ping_all 3
	sa_view no >/dev/null || exit 1
	echo "ok: crash: $(grep -m1 '^removed what' "$KEEL_LOG")"
	stop INT
	lab_down
	echo "ok: IKEv2 phases in $((SECONDS - t0)) s"
}

# ---- 4: NAT-T ----
natt() {
	local t0=$SECONDS
	export KEEL_LAB_NAT=1
	keel_lab ikev2-psk
	kprofile psk
	NET_BEFORE=$(keel_net_state)
	KEEL_PHASE="IKEv2 PSK behind NAT"
	keel_start -v
	keel_wait_up 20
	check_up yes
	stop INT
	lab_down
	echo "ok: NAT-T in $((SECONDS - t0)) s"
}

# ---- 5: IKEv1 aggressive mode + XAUTH ----
ikev1() {
	local t0=$SECONDS
	keel_lab ikev1-aggr-psk-xauth
	kprofile xauth-psk "ike = 1" "mode = aggressive"
	NET_BEFORE=$(keel_net_state)
	KEEL_PHASE="IKEv1 aggressive + XAUTH"
	keel_start -v
	keel_wait_up 20
	check_up yes
	stop TERM
	KEEL_PHASE="IKEv1 quick mode rekey"
	rekeys yes 25 2
	stop INT
	lab_down
	echo "ok: IKEv1 in $((SECONDS - t0)) s"
}

(ikev2) || exit 1
(natt) || exit 1
(ikev1) || exit 1
exit 0
