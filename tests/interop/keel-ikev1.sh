#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# keel connect with ike = 1 against the lab's strongSwan gateway (TUN data
# path), for the scenarios ikev1-aggr-psk-xauth (group PSK + XAUTH),
# ikev1-aggr-psk and ikev1-main-psk: each gets its virtual IP, pings the
# protected host through the tunnel, and SIGINT closes it (exit 0, no SA
# left at the gateway). Aggressive Mode prints its warning exactly once.
# A wrong group PSK and a wrong XAUTH password each fail with their own
# message (exit 1). Then, for each scenario, quick mode rekeys by the
# gateway under a running ping (short CHILD lifetimes): no ping lost; and
# under a fast ping stream, gateway rekeys only: not one lost (each new pair
# receives before keel answers and sends once message 3 comes).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-ikev1
keel_require ping

# ikev1_profile AUTH [LINE...]: the scenario's IKEv1 profile.
ikev1_profile() { keel_profile_scenario "$1" "ike = 1" "${@:2}"; }

_gw_no_sa() { ! lab_swanctl gw --list-sas 2>/dev/null | grep -q ESTABLISHED; }

# The Aggressive Mode warnings (a warn-level line of the engine) in the log.
aggr_warnings() { grep -c '^warning: .*[Aa]ggressive [Mm]ode' "$KEEL_LOG"; }

# connect SCENARIO MODE AUTH [LINE...]: up, ping, down, for one scenario.
connect() {
	local scenario=$1 mode=$2 auth=$3 vip sas n
	shift 3
	keel_lab "$scenario"
	ikev1_profile "$auth" "mode = $mode" "$@"
	keel_secrets_scenario "$auth"
	keel_start
	keel_wait_up 20
	grep -q '^tunnel up: virtual IP 100.64.0.[0-9]* on keel[0-9]*' "$KEEL_LOG" ||
		keel_fail "$scenario: no virtual IP in: $(grep '^tunnel up' "$KEEL_LOG")"
	keel_tunnel_ping "$scenario" 5
	vip=$KEEL_VIP
	sas=$(lab_swanctl gw --list-sas)
	grep -q "$vip" <<<"$sas" || keel_fail "$scenario: the gateway's SA does not name $vip: $sas"
	n=$(aggr_warnings)
	if [ "$mode" = aggressive ]; then
		[ "$n" = 1 ] || keel_fail "$scenario: the Aggressive Mode warning was printed $n times, not once"
	else
		[ "$n" = 0 ] || keel_fail "$scenario: Main Mode printed an Aggressive Mode warning"
	fi
	keel_stop
	[ "$KEEL_RC" = 0 ] || keel_fail "$scenario: keel exited with $KEEL_RC after SIGINT, not 0"
	lab_wait 5 _gw_no_sa || keel_fail "$scenario: the SA stays at the gateway: $(lab_swanctl gw --list-sas)"
	keel_no_secret "${LAB_VAR[PSK]}"
	echo "$scenario: up with $vip, 5 pings, closed"
}

# refused CASE PATTERN: keel fails with exit 1 and a line 'keel: ...PATTERN...'.
refused() {
	local case=$1 pattern=$2
	keel_start -v
	keel_wait_exit 60
	[ "$KEEL_RC" = 1 ] || keel_fail "$case: keel exited with $KEEL_RC, not 1"
	grep -q '^tunnel up' "$KEEL_LOG" && keel_fail "$case: keel said the tunnel was up"
	grep -qi "^keel: .*$pattern" "$KEEL_LOG" ||
		keel_fail "$case: no line 'keel: ...$pattern...': $(grep '^keel: ' "$KEEL_LOG")"
	echo "$case: $(grep '^keel: ' "$KEEL_LOG" | tail -n 1)"
	cp "$KEEL_LOG" "$LAB_RUN/keel-$case.log"
}

connect ikev1-aggr-psk-xauth aggressive xauth-psk

# The same gateway, wrong secrets. Aggressive Mode: the gateway's HASH_R
# does not verify with another group PSK; XAUTH: the gateway says FAIL.
keel_secrets "wrong-group-psk-$$" "${LAB_VAR[XAUTH_PASSWORD]}"
refused wrong-psk 'pre-shared key'
keel_no_secret "wrong-group-psk-$$"
lab_wait 5 _gw_no_sa || keel_fail "wrong-psk: an SA stays at the gateway"
keel_secrets "${LAB_VAR[PSK]}" "wrong-xauth-password-$$"
refused wrong-xauth 'XAUTH\|user name or password'
keel_no_secret "wrong-xauth-password-$$"
lab_down

# this scenario's proposals use SHA-1, as many IKEv1 gateways still do
connect ikev1-aggr-psk aggressive psk "allow-weak = yes"
lab_down
connect ikev1-main-psk main psk
lab_down

# v1_up SCENARIO MODE AUTH [PROFILE LINES...]: the lab, a profile, its
# secrets, and keel connect up.
v1_up() {
	keel_lab "$1"
	ikev1_profile "$3" "mode = $2" "${@:4}"
	keel_secrets_scenario "$3"
	keel_start -v
	keel_wait_up 20
}

# rekey SCENARIO MODE AUTH [LINE...]: quick mode rekeys by the gateway
# (every 6 s) under a running ping, for one scenario.
rekey() {
	local scenario=$1 mode=$2 auth=$3 received gw_children installs
	shift 3
	v1_up "$scenario" "$mode" "$auth" "$@"
	ip netns exec "$LAB_NS_CLI" ping -q -n -c 60 -i 0.25 -W 2 "$LAB_HOST_ADDR" >"$LAB_RUN/ping.log" 2>&1
	keel_exited && keel_fail "$scenario rekey: keel exited while the gateway rekeyed"
	received=$(awk '/received/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^received/) print $i }' "$LAB_RUN/ping.log")
	[ "${received:-0}" -ge 57 ] ||
		keel_fail "$scenario rekey: pings lost across the rekeys: $(grep received "$LAB_RUN/ping.log")"
	# Each quick mode (ours or the gateway's) makes a new CHILD SA at both ends.
	# Keel installs the gateway's before its message 2, the gateway logs it
	# once that message is in: a quick mode under way may be counted by one
	# side only for a moment.
	# shellcheck disable=SC2317 # called through lab_wait
	_same_children() {
		gw_children=$(grep -c 'CHILD_SA net{[0-9]*} established' "$LAB_RUN/gw/charon.log")
		installs=$(grep -c '^info: CHILD SA installed' "$KEEL_LOG")
		[ "$installs" = "$gw_children" ]
	}
	lab_wait 5 _same_children ||
		keel_fail "$scenario rekey: keel installed $installs CHILD SAs, the gateway made $gw_children"
	grep -q 'creating rekey job for CHILD_SA' "$LAB_RUN/gw/charon.log" ||
		keel_fail "$scenario rekey: the gateway did not start a quick mode rekey"
	[ "$gw_children" -ge 3 ] || keel_fail "$scenario rekey: $gw_children CHILD SAs at the gateway, not 3 or more"
	keel_stop
	[ "$KEEL_RC" = 0 ] || keel_fail "$scenario rekey: keel exited with $KEEL_RC after SIGINT, not 0"
	lab_wait 5 _gw_no_sa || keel_fail "$scenario rekey: the SA stays at the gateway: $(lab_swanctl gw --list-sas)"
	echo "$scenario rekey: $received of 60 pings across $((installs - 1)) quick mode rekeys"
	lab_down
}

export KEEL_LAB_CHILD_REKEY_TIME=6s KEEL_LAB_CHILD_LIFE_TIME=9s
rekey ikev1-aggr-psk-xauth aggressive xauth-psk
rekey ikev1-aggr-psk aggressive psk "allow-weak = yes"
rekey ikev1-main-psk main psk

# fast_rekeys SCENARIO MODE AUTH [LINE...]: quick mode rekeys by the gateway
# alone (every 3 s; keel's own would come 4.5 s after a pair at the
# earliest) under a fast ping stream (thousands a second), in batches until
# the gateway has rekeyed 3 times: not one ping lost, no ESP for an unknown
# SPI. The gateway installs the new pair as keel's message 2 reaches it and
# sends on it at once: keel receives on it before answering and sends on
# it once message 3 comes.
fast_rekeys() {
	local scenario=$1 mode=$2 auth=$3 batch sent received total=0 gw_rekeys=0 activated no_sa
	shift 3
	v1_up "$scenario" "$mode" "$auth" "$@"
	for batch in $(seq 30); do
		ip netns exec "$LAB_NS_CLI" ping -q -n -i 0.0005 -c 10000 -w 30 -W 2 "$LAB_HOST_ADDR" \
			>"$LAB_RUN/fast.log" 2>&1
		sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$LAB_RUN/fast.log")
		received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$LAB_RUN/fast.log")
		if [ "${sent:-0}" != 10000 ] || [ "${received:-0}" != 10000 ]; then
			keel_fail "$scenario fast rekeys: pings lost in batch $batch: $(grep received "$LAB_RUN/fast.log")"
		fi
		total=$((total + received))
		gw_rekeys=$(grep -c 'creating rekey job for CHILD_SA' "$LAB_RUN/gw/charon.log")
		[ "$gw_rekeys" -ge 3 ] && break
	done
	keel_exited && keel_fail "$scenario fast rekeys: keel exited while the gateway rekeyed"
	[ "$gw_rekeys" -ge 3 ] || keel_fail "$scenario fast rekeys: the gateway rekeyed $gw_rekeys times, not 3"
	grep -q '^rekeying the tunnel' "$KEEL_LOG" &&
		keel_fail "$scenario fast rekeys: keel rekeyed itself (lifetimes too short for the test)"
	activated=$(grep -c '_o: outbound now, the gateway has them$' "$KEEL_LOG")
	[ "$activated" -ge 2 ] ||
		keel_fail "$scenario fast rekeys: $activated of $gw_rekeys pairs sent on at message 3"
	keel_stop
	[ "$KEEL_RC" = 0 ] || keel_fail "$scenario fast rekeys: keel exited with $KEEL_RC after SIGINT, not 0"
	no_sa=$(sed -n 's/.* \([0-9]*\) unknown SPI.*/\1/p' "$KEEL_LOG")
	[ "${no_sa:-x}" = 0 ] ||
		keel_fail "$scenario fast rekeys: ${no_sa:-no count of} ESP packets for an unknown SPI"
	echo "$scenario fast rekeys: $total of $total fast pings across $gw_rekeys quick mode rekeys by the gateway, 0 for an unknown SPI"
	lab_down
}

export KEEL_LAB_CHILD_REKEY_TIME=3s KEEL_LAB_CHILD_LIFE_TIME=12s
fast_rekeys ikev1-aggr-psk-xauth aggressive xauth-psk

echo "PASS: $KEEL_TEST"
exit 0
