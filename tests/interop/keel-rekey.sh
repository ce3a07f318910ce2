#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Rekeying under traffic: while a ping runs through keel's tunnel for 24 s,
# the gateway rekeys the CHILD SA every 6 s and the IKE SA every 10 s
# (strongSwan initiates both; never in the same second: strongSwan 5.9
# loses a CHILD SA's rekey job that fires while the IKE SA moves to its
# successor, and the CHILD SA then expires). No ping may be lost: keel
# receives on a CHILD SA it answered for at once but sends on it only once
# the gateway, which installs its inbound SA on keel's answer, deletes the
# old pair. The gateway must end with new SAs, the CHILD SA's SPIs being
# the ones keel installed last.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-rekey
keel_require ping

export KEEL_LAB_CHILD_REKEY_TIME=6s KEEL_LAB_CHILD_LIFE_TIME=9s KEEL_LAB_IKE_REKEY_TIME=10s
keel_lab ikev2-psk
keel_profile "ike-proposals = ${LAB_VAR[IKE_PROPOSALS]}" "esp-proposals = ${LAB_VAR[ESP_PROPOSALS]}"
keel_secrets "${LAB_VAR[PSK]}"

keel_start -vv
keel_wait_up 15
ike_spi=$(sed -n 's/^sending IKE_SA_INIT (SPI \([0-9a-f]*\)).*/\1/p' "$KEEL_LOG")
[ -n "$ike_spi" ] || keel_fail "keel did not print its IKE SPI"

# Beside the slow pings that span the rekeys, a fast stream (4,000-5,000 a
# second here, for about 20 s) often has a packet in flight in the moment
# between keel's answer and the gateway's new inbound SA: sending on the new
# SA at once lost 1 to 4 of them in two runs out of three.
ip netns exec "$LAB_NS_CLI" ping -q -n -i 0.0005 -c 100000 -w 120 -W 2 "$LAB_HOST_ADDR" \
	>"$LAB_RUN/fast.log" 2>&1 &
fast=$!
ip netns exec "$LAB_NS_CLI" ping -n -c 120 -i 0.2 -W 2 "$LAB_HOST_ADDR" >"$LAB_RUN/ping.log" 2>&1
wait "$fast"
keel_exited && keel_fail "keel exited while the gateway rekeyed"
received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$LAB_RUN/ping.log")
[ "${received:-0}" -eq 120 ] ||
	keel_fail "pings lost across the rekeys: $(grep received "$LAB_RUN/ping.log")"
fast_received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$LAB_RUN/fast.log")
[ "${fast_received:-0}" -eq 100000 ] ||
	keel_fail "fast pings lost across the rekeys: $(grep received "$LAB_RUN/fast.log")"
grep -q '_o in the data path; outbound once the gateway deletes the old pair' "$KEEL_LOG" ||
	keel_fail "keel did not keep back the outbound SA of a CHILD rekey the gateway started"

gwlog=$LAB_RUN/gw/charon.log
# strongSwan logs "CHILD_SA net{N} established" once per SA (twice, inbound and
# outbound, for a rekeyed one), "IKE_SA ikev2-psk[N] rekeyed" once per IKE rekey
child_sas=$(grep -o 'CHILD_SA net{[0-9]*} established' "$gwlog" | sort -u | wc -l)
child_rekeys=$((child_sas - 1))
ike_rekeys=$(grep -c 'IKE_SA ikev2-psk\[[0-9]*\] rekeyed' "$gwlog")
[ "$child_rekeys" -ge 2 ] || keel_fail "the gateway rekeyed the CHILD SA $child_rekeys times, not 2 or more"
[ "$ike_rekeys" -ge 1 ] || keel_fail "the gateway did not rekey the IKE SA"

# The gateway's current SAs: new IKE SPIs, and the CHILD SA keel installed last.
sas=$(lab_swanctl gw --list-sas)
if ! grep -q ESTABLISHED <<<"$sas" || ! grep -q INSTALLED <<<"$sas"; then
	keel_fail "no SAs at the gateway: $sas"
fi
grep -q "$ike_spi" <<<"$sas" && keel_fail "the gateway still uses the first IKE SA ($ike_spi): $sas"
read -r spi_in spi_out <<<"$(keel_child_spis)"
keel_gw_has_child "$spi_in" "$spi_out" "$sas" ||
	keel_fail "the gateway's CHILD SA is not keel's newest ($spi_in/$spi_out): $sas"

keel_stop 10
[ "$KEEL_RC" = 0 ] || keel_fail "keel exited with $KEEL_RC after SIGINT, not 0"
keel_resolv_restored || keel_fail "resolv.conf was not restored"
echo "PASS: $KEEL_TEST: $received of 120 pings and $fast_received of 100000 fast ones across $child_rekeys CHILD and $ike_rekeys IKE rekeys"
exit 0
