#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Proves one lab scenario with strongSwan on both ends (no Keel involved):
# a gateway and a strongSwan initiator in the client namespace, each with
# kernel-libipsec; the client must get a 100.64.0.x virtual IP, both daemons
# must report the IKE SA established with its CHILD_SA installed, and pings
# from the virtual IP to the protected host 198.51.100.10 must be answered
# through the tunnel (the gateway's CHILD_SA counts the packets).
#
# usage: lab-scenario.sh SCENARIO [nat]
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

scenario=${1:?usage: lab-scenario.sh SCENARIO [nat]}
nat=${2:-}
lab_require ping timeout

fail() {
	echo "FAIL: $scenario${nat:+ ($nat)}: $*" >&2
	if [ -n "${LAB_RUN:-}" ]; then
		for f in "$LAB_RUN"/cli/initiate.log "$LAB_RUN"/gw/charon.log "$LAB_RUN"/cli/charon.log; do
			[ -f "$f" ] || continue
			echo "--- $f (last 40 lines)" >&2
			tail -n 40 "$f" >&2
		done
	fi
	exit 1
}

start=$(date +%s%N)
lab_init "$nat"
lab_scenario "$scenario"
lab_net_up
lab_gateway
lab_initiator
if [ "${LAB_PROOF:-tunnel}" = eap-only ]; then
	# strongSwan initiates EAP-only (RFC 5998) but refuses to finish it with a
	# method it does not count as mutual (EAP-MSCHAPv2): the proof is the
	# gateway's side, no CERT or AUTH before EAP, the client authenticated
	# by EAP, and the gateway's AUTH from the MSK verified by the initiator.
	lab_initiate 30 && fail "the initiator finished EAP-only with EAP-MSCHAPv2"
	cli_log=$LAB_RUN/cli/charon.log
	gw_log=$LAB_RUN/gw/charon.log
	grep -Eq 'generating IKE_AUTH request 1 \[.* N\(EAP_ONLY\)' "$cli_log" ||
		fail "the initiator did not offer EAP-only"
	grep -Eq 'parsed IKE_AUTH response 1 \[ IDr EAP/REQ/ID \]' "$cli_log" ||
		fail "the gateway's first IKE_AUTH answer is not IDr and EAP alone"
	grep -q "authentication of '${LAB_VAR[CLIENT_ID]}' with EAP successful" "$gw_log" ||
		fail "the gateway did not authenticate the client with EAP"
	grep -q "authentication of '${LAB_VAR[GW_ID]}' with EAP successful" "$cli_log" ||
		fail "the initiator did not verify the gateway's AUTH from the MSK"
	grep -q 'EAP-only authentication requires a mutual' "$cli_log" ||
		fail "the initiator failed for another reason than its mutual-method policy"
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	echo "PASS: $scenario: EAP-only gateway side (no tunnel: strongSwan's initiator policy), ${elapsed_ms} ms"
	exit 0
fi
lab_initiate 30 || fail "swanctl --initiate failed"

lab_wait 10 lab_client_vip >/dev/null || fail "the client got no 100.64.0.x virtual IP"
vip=$(lab_client_vip)
lab_wait 10 lab_sa_up gw || fail "the gateway reports no established IKE SA with an installed CHILD_SA"
lab_sa_up cli || fail "the initiator reports no established IKE SA with an installed CHILD_SA"

# Without the tunnel the client has no route to 198.51.100.0/24 (and the
# host none back to 100.64.0.0/24 but through the gateway's SA).
ip netns exec "$LAB_NS_CLI" ping -q -n -c 3 -i 0.2 -W 5 -I "$vip" "$LAB_HOST_ADDR" \
	>"$LAB_RUN/ping.log" 2>&1 || {
	cat "$LAB_RUN/ping.log" >&2
	fail "no ping reply from $LAB_HOST_ADDR through the tunnel"
}
grep -q ' 3 received' "$LAB_RUN/ping.log" || fail "lost pings: $(grep received "$LAB_RUN/ping.log")"

sas=$(lab_swanctl gw --list-sas --ike "$LAB_CONN")
grep -q "remote .*\[$vip\]" <<<"$sas" || fail "the gateway's IKE SA does not name $vip: $sas"
grep -Eq 'in  +[0-9a-f]+, +[1-9][0-9]* bytes, +[1-9][0-9]* packets' <<<"$sas" ||
	fail "the gateway's CHILD_SA counted no inbound packets: $sas"
grep -q "$vip/32" <<<"$sas" || fail "the gateway's CHILD_SA has no traffic selector $vip/32: $sas"

elapsed_ms=$((($(date +%s%N) - start) / 1000000))
echo "PASS: $scenario${nat:+ ($nat)}: virtual IP $vip, ping through the tunnel, ${elapsed_ms} ms"
exit 0
