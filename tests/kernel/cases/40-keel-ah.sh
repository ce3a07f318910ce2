#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# AH (RFC 4302) instead of ESP, scenario ikev2-ah (strongSwan ah_proposals),
# everything in the guest's kernel (KEEL_LAB_KERNEL_ESP=1; AH has no
# user-space form and no UDP encapsulation):
#  1. strongSwan <-> strongSwan: the scenario itself works: virtual IP, a
#     ping through the tunnel, `ip xfrm state` shows two AH SAs (and no ESP)
#     at each end that counted the packets.
#  2. keel connect with ah-proposals and datapath = xfrm: tunnel up, pings
#     through it, Keel's two AH SAs (reqid 0x4b...) with rising counters and
#     three policies whose templates are AH; SIGTERM leaves nothing behind.
#  3. The same profile through the lab's NAT router: keel refuses after
#     IKE_SA_INIT ("AH cannot cross the NAT"), exits 1, installs nothing.
#     The gateway then rekeys every 3 s: 40 pings across the rekeys, none
#     lost (make-before-break with AH SAs).
#  4. ah-proposals with datapath = tun: refused before connecting.
#  5. IKEv1 main mode, quick mode with AH (scenario ikev1-main-ah): 1 and 2
#     again.
set -u
# shellcheck source=../../lab/lab.sh
. "$KEEL_SRC/tests/lab/lab.sh"
# shellcheck source=../../interop/keel-lib.sh
. "$KEEL_SRC/tests/interop/keel-lib.sh"
export KEEL_LAB_KERNEL_ESP=1
KEEL=$KEEL_BUILD/app/keel
KEEL_TEST=40-keel-ah
lab_require ping

fail() {
	exec >&2 # seen also when it fails inside $(...) or a call sent to /dev/null
	echo "FAIL: $*"
	local f
	for f in "$LAB_RUN"/cli/initiate.log "$LAB_RUN"/gw/charon.log "$LAB_RUN"/cli/charon.log \
		"${KEEL_LOG:-/nonexistent}"; do
		[ -f "$f" ] || continue
		echo "--- $f (last 40 lines)"
		tail -n 40 "$f"
	done
	local ns
	for ns in "${LAB_NS_CLI:-}" "${LAB_NS_GW:-}"; do
		[ -n "$ns" ] || continue
		echo "--- $ns: ip -s xfrm state, policy"
		ip -n "$ns" -s xfrm state list 2>&1
		ip -n "$ns" xfrm policy list 2>&1
	done
	exit 1
}
# keel-lib.sh's helpers fail through it too
keel_fail() { fail "$@"; }

# ah_states ROLE NS [KEEL]: two AH SAs and no other SA in NS, each having
# counted at least 3 packets; with KEEL, both carry Keel's reqid. Prints
# "SPI:packets ..." sorted.
ah_states() {
	local role=$1 ns=$2 keel=${3:-} states sa spi reqid pk n_ah n_keel=0 out=()
	lab_xfrm_sas "$ns" ah || fail "ip xfrm state in $role"
	states=$LAB_XFRM_STATES
	n_ah=${#LAB_XFRM_SAS[@]}
	for sa in "${LAB_XFRM_SAS[@]}"; do
		read -r spi reqid pk _ <<<"$sa"
		[[ $reqid == 0x4b* ]] && n_keel=$((n_keel + 1))
		[ "$pk" = - ] && continue
		[ "$pk" -ge 3 ] || fail "$role: AH SA $spi counted $pk packets, expected at least 3: $states"
		out+=("$spi:$pk")
	done
	[ "$n_ah" = 2 ] || fail "$role: $n_ah AH SAs in the kernel, expected 2: $states"
	[ "$LAB_XFRM_OTHER" = 0 ] || fail "$role: SAs other than AH although the CHILD SA is AH: $states"
	[ "${#out[@]}" = 2 ] || fail "$role: no packet counters for the AH SAs: $states"
	[[ $states == *"auth-trunc hmac("* ]] || fail "$role: AH SAs without auth-trunc: $states"
	[[ $states == *"enc "* || $states == *"aead "* || $states == *"encap "* ]] &&
		fail "$role: a cipher or UDP encapsulation on an AH SA: $states"
	if [ -n "$keel" ]; then
		[ "$n_keel" = 2 ] || fail "$role: AH SAs without Keel's reqid: $states"
	fi
	printf '%s\n' "${out[@]}" | sort
}

# ---- 1: strongSwan at both ends ----
strongswan() {
	local t0=$SECONDS vip
	lab_strongswan_up "$1" || fail "$LAB_ERROR"
	vip=$LAB_CLIENT_VIP
	keel_ping_all 3 "$vip"
	ah_states gateway "$LAB_NS_GW" >/dev/null || exit 1
	ah_states client "$LAB_NS_CLI" >/dev/null || exit 1
	lab_down
	echo "ok: $1: strongSwan <-> strongSwan, AH in the kernel, virtual IP $vip," \
		"$((SECONDS - t0)) s"
}

# kprofile [LINE...]: the scenario's profile with AH, datapath = xfrm unless
# a line says otherwise, and the PSK.
kprofile() {
	local line datapath=xfrm extra=()
	for line in "$@"; do
		if [[ $line == datapath* ]]; then
			datapath=${line#*= }
		else
			extra+=("$line")
		fi
	done
	KEEL_DATAPATH=$datapath keel_profile "ike-proposals = ${LAB_VAR[IKE_PROPOSALS]}" \
		"ah-proposals = sha384, sha256" "${extra[@]}"
	keel_secrets "${LAB_VAR[PSK]}"
}

# ---- 2: keel connect, AH in the kernel: keel_ah SCENARIO [PROFILE LINE...] ----
keel_ah() {
	local t0=$SECONDS view1 view2 pol before now a b scenario=$1
	shift
	keel_lab "$scenario"
	kprofile "$@"
	before=$(keel_net_state)
	keel_start -v
	keel_wait_up 20
	grep -q '^data path: kernel XFRM' "$KEEL_LOG" ||
		fail "no 'data path: kernel XFRM' line: $(head -n 3 "$KEEL_LOG")"
	grep -q 'CHILD SA installed: AH SPIs' "$KEEL_LOG" || fail "no AH CHILD SA in keel's log"
	keel_ping_all 3
	view1=$(ah_states client "$LAB_NS_CLI" keel) || exit 1
	ah_states gateway "$LAB_NS_GW" >/dev/null || exit 1
	pol=$(ip -n "$LAB_NS_CLI" xfrm policy list)
	[ "$(grep -c 'proto ah ' <<<"$pol")" = 3 ] ||
		fail "expected 3 policy templates with proto ah (out, in, fwd): $pol"
	keel_ping_all 3
	view2=$(ah_states client "$LAB_NS_CLI" keel) || exit 1
	[ "$(cut -d: -f1 <<<"$view1")" = "$(cut -d: -f1 <<<"$view2")" ] ||
		fail "the SAs changed between two pings: $view1 / $view2"
	while read -r a b; do
		[ "${b#*:}" -ge $((${a#*:} + 3)) ] || fail "counters did not rise: $view1 / $view2"
	done < <(paste -d' ' <(echo "$view1") <(echo "$view2"))
	kill -TERM "$KEEL_PID"
	keel_wait_exit 10
	[ "$KEEL_RC" = 0 ] || fail "keel exited with $KEEL_RC after SIGTERM, not 0"
	[ -z "$(ip -n "$LAB_NS_CLI" xfrm state)" ] || fail "SAs left: $(ip -n "$LAB_NS_CLI" xfrm state)"
	[ -z "$(ip -n "$LAB_NS_CLI" xfrm policy)" ] || fail "policies left"
	now=$(keel_net_state)
	[ "$now" = "$before" ] || fail "addresses or routes left: $(diff <(echo "$before") <(echo "$now"))"
	lab_down
	echo "ok: $scenario: keel AH: SAs $(tr '\n' ' ' <<<"$view2")(packets), AH policies; SIGTERM left nothing," \
		"$((SECONDS - t0)) s"
}

# ---- 2b: the gateway rekeys the AH SAs every 3 s: make-before-break, no ping lost ----
keel_ah_rekey() {
	local t0=$SECONDS installs
	export KEEL_LAB_CHILD_REKEY_TIME=3s KEEL_LAB_CHILD_LIFE_TIME=6s
	keel_lab ikev2-ah
	kprofile
	keel_start -v
	keel_wait_up 20
	keel_ping_all 40
	installs=$(grep -c 'CHILD SA installed: AH SPIs' "$KEEL_LOG")
	[ "$installs" -ge 3 ] || fail "keel installed $installs AH SA pairs in 8 s of 3 s rekeys"
	keel_exited && fail "keel exited during the rekeys"
	ah_states client "$LAB_NS_CLI" keel >/dev/null || exit 1
	kill -INT "$KEEL_PID"
	keel_wait_exit 10
	[ "$KEEL_RC" = 0 ] || fail "keel exited with $KEEL_RC after SIGINT, not 0"
	[ -z "$(ip -n "$LAB_NS_CLI" xfrm state)" ] || fail "SAs left: $(ip -n "$LAB_NS_CLI" xfrm state)"
	lab_down
	echo "ok: ikev2-ah: 40 of 40 pings across $((installs - 1)) AH rekeys, $((SECONDS - t0)) s"
}

# ---- 3: behind a NAT: refused ----
keel_ah_nat() {
	local t0=$SECONDS
	export KEEL_LAB_NAT=1
	keel_lab ikev2-ah
	kprofile
	keel_start -v
	keel_wait_exit 30
	[ "$KEEL_RC" = 1 ] || fail "keel exited with $KEEL_RC behind a NAT, expected 1"
	grep -q 'AH cannot cross the NAT detected between us and the gateway' "$KEEL_LOG" ||
		fail "no NAT refusal in keel's output: $(tail -n 5 "$KEEL_LOG")"
	[ -z "$(ip -n "$LAB_NS_CLI" xfrm state)" ] || fail "SAs installed behind a NAT"
	echo "ok: keel AH behind a NAT: refused ($(grep -m1 -o 'AH cannot cross[^;]*' "$KEEL_LOG")), $((SECONDS - t0)) s"
	lab_down
}

# ---- 4: AH over the TUN path: refused before connecting ----
keel_ah_tun() {
	keel_lab ikev2-ah
	kprofile "datapath = tun"
	keel_start
	keel_wait_exit 10
	[ "$KEEL_RC" != 0 ] || fail "keel accepted ah-proposals with datapath = tun"
	grep -q 'AH needs the kernel data path' "$KEEL_LOG" ||
		fail "no clear refusal of AH over TUN: $(tail -n 3 "$KEEL_LOG")"
	grep -q 'IKE_SA_INIT' "$LAB_RUN/gw/charon.log" && fail "keel sent IKE_SA_INIT for an AH profile over TUN"
	echo "ok: keel AH with datapath = tun refused: $(head -n 1 "$KEEL_LOG")"
	lab_down
}

(strongswan ikev2-ah) || exit 1
keel_guest_require
(keel_ah ikev2-ah) || exit 1
(keel_ah_rekey) || exit 1
(keel_ah_nat) || exit 1
(keel_ah_tun) || exit 1
# ---- 5: IKEv1 quick mode with AH ----
(strongswan ikev1-main-ah) || exit 1
(keel_ah ikev1-main-ah "ike = 1") || exit 1
exit 0
