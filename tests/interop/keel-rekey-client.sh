#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Rekeys that Keel starts (the profile's child-rekey-time and ike-rekey-time;
# the gateway's own times stay at 4h and 1h), under a ping through the TUN
# data path:
#  1. IKEv2: child-rekey-time = 4s and ike-rekey-time = 8s during 24 s of
#     pings 0.2 s apart. No ping lost (make-before-break: Keel installs the
#     new pair when the gateway's answer has come, and the gateway installed
#     its new inbound SA before answering). The gateway's log shows the
#     CREATE_CHILD_SA requests of both kinds coming from Keel and none of its
#     own; keel stays up; the IKE SPIs and the ESP SPIs change, the gateway
#     ending on the pair Keel installed last.
#  2. The profile's dpd: with dpd = 1s Keel checks the idle gateway's
#     liveness within a few seconds; --dpd 0 overrides it (none in 3 s).
#  3. IKEv1 main mode: child-rekey-time = 4s makes Keel start new quick
#     modes (the gateway starts none) while pings go on.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-rekey-client
keel_require ping

# ping_through COUNT: COUNT pings 0.2 s apart to the protected host; how
# many came back goes to RECEIVED.
ping_through() {
	ip netns exec "$LAB_NS_CLI" ping -n -c "$1" -i 0.2 -W 2 "$LAB_HOST_ADDR" >"$LAB_RUN/ping.log" 2>&1
	RECEIVED=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$LAB_RUN/ping.log")
	RECEIVED=${RECEIVED:-0}
}

# gw_requests KIND: how many CREATE_CHILD_SA requests the gateway parsed
# (KIND child: with traffic selectors; ike: with a KE and no TS) or, KIND
# own, generated itself.
gw_requests() {
	local gwlog=$LAB_RUN/gw/charon.log
	case $1 in
	child) grep -c 'parsed CREATE_CHILD_SA request [0-9]* \[.* TSi TSr' "$gwlog" ;;
	ike) grep 'parsed CREATE_CHILD_SA request [0-9]* \[' "$gwlog" | grep -v 'TSi' | grep -c ' KE ' ;;
	own) grep -c 'generating CREATE_CHILD_SA request' "$gwlog" ;;
	esac
}

# ---- 1: IKEv2 ----
keel_lab ikev2-psk
keel_profile_auth psk "child-rekey-time = 4s" "ike-rekey-time = 8s"
keel_secrets "${LAB_VAR[PSK]}"
keel_start -vv
keel_wait_up 15
ike_spi=$(sed -n 's/^sending IKE_SA_INIT (SPI \([0-9a-f]*\)).*/\1/p' "$KEEL_LOG")
[ -n "$ike_spi" ] || keel_fail "keel did not print its IKE SPI"
first=$(keel_child_spis)
[ -n "$first" ] || keel_fail "keel did not print its first ESP SPIs"

ping_through 120
keel_exited && keel_fail "keel exited while it rekeyed"
[ "$RECEIVED" = 120 ] ||
	keel_fail "pings lost across keel's rekeys: $(grep received "$LAB_RUN/ping.log")"

child_rekeys=$(grep -c 'info: tunnel rekeyed$' "$KEEL_LOG")
ike_rekeys=$(grep -c 'info: IKE SA rekeyed: ' "$KEEL_LOG")
# 24 s of pings: a CHILD rekey every 3.6 to 4 s, an IKE rekey every 7.2 to 8 s
[ "$child_rekeys" -ge 5 ] || keel_fail "keel rekeyed the CHILD SA $child_rekeys times in 24 s, not 5 or more"
[ "$ike_rekeys" -ge 2 ] || keel_fail "keel rekeyed the IKE SA $ike_rekeys times in 24 s, not 2 or more"
gw_child=$(gw_requests child)
gw_ike=$(gw_requests ike)
gw_own=$(gw_requests own)
[ "$gw_child" -ge "$child_rekeys" ] ||
	keel_fail "the gateway parsed $gw_child CHILD rekey requests, keel made $child_rekeys"
[ "$gw_ike" -ge "$ike_rekeys" ] ||
	keel_fail "the gateway parsed $gw_ike IKE rekey requests, keel made $ike_rekeys"
[ "$gw_own" = 0 ] || keel_fail "the gateway sent $gw_own CREATE_CHILD_SA requests of its own"

sas=$(lab_swanctl gw --list-sas)
if ! grep -q ESTABLISHED <<<"$sas" || ! grep -q INSTALLED <<<"$sas"; then
	keel_fail "no SAs at the gateway: $sas"
fi
grep -q "$ike_spi" <<<"$sas" && keel_fail "the gateway still uses the first IKE SA ($ike_spi): $sas"
last=$(keel_child_spis)
[ "$last" != "$first" ] || keel_fail "the ESP SPIs did not change: $first"
# shellcheck disable=SC2086 # "IN OUT"
keel_gw_has_child $last "$sas" || keel_fail "the gateway's CHILD SA is not keel's newest ($last): $sas"
keel_stop 10
[ "$KEEL_RC" = 0 ] || keel_fail "keel exited with $KEEL_RC after SIGINT, not 0"
keel_resolv_restored || keel_fail "resolv.conf was not restored"
echo "ok: IKEv2: 120 of 120 pings across $child_rekeys CHILD and $ike_rekeys IKE rekeys by keel" \
	"(gateway: $gw_child and $gw_ike requests parsed, none of its own); ESP SPIs $first -> $last"

# ---- 2: dpd in the profile, --dpd over it ----
_dpd_sent() { grep -q 'liveness check' "$KEEL_LOG"; }
keel_profile_auth psk "dpd = 1s"
keel_start -vv
keel_wait_up 15
lab_wait 5 _dpd_sent || keel_fail "no liveness check within 5 s with dpd = 1s"
grep -q 'parsed INFORMATIONAL request [0-9]* \[ \]' "$LAB_RUN/gw/charon.log" ||
	keel_fail "the gateway saw no empty INFORMATIONAL request"
keel_stop 10
keel_start -vv --dpd 0
keel_wait_up 15
sleep 3 # the measured interval: dpd = 1s would have checked in it
_dpd_sent && keel_fail "--dpd 0 did not override the profile's dpd = 1s"
keel_stop 10
[ "$KEEL_RC" = 0 ] || keel_fail "keel exited with $KEEL_RC after SIGINT, not 0"
echo "ok: dpd = 1s in the profile: liveness checks; --dpd 0 overrides it"
lab_down

# ---- 3: IKEv1 quick mode ----
keel_lab ikev1-main-psk
keel_profile_scenario psk "ike = 1" "mode = main" "child-rekey-time = 4s"
keel_secrets "${LAB_VAR[PSK]}"
keel_start -vv
keel_wait_up 20
ping_through 60
keel_exited && keel_fail "IKEv1: keel exited while it rekeyed"
gwlog=$LAB_RUN/gw/charon.log
quick_modes=$(grep -c 'parsed QUICK_MODE request [0-9]* \[ HASH SA No' "$gwlog")
installs=$(grep -c 'info: CHILD SA installed' "$KEEL_LOG")
[ "$quick_modes" -ge 3 ] || keel_fail "IKEv1: the gateway answered $quick_modes quick modes in 12 s, not 3 or more"
[ "$installs" = "$quick_modes" ] || keel_fail "IKEv1: keel installed $installs CHILD SAs for $quick_modes quick modes"
grep -q 'creating rekey job for CHILD_SA' "$gwlog" && keel_fail "IKEv1: the gateway started a quick mode rekey itself"
# strongSwan takes a quick mode for the same selectors as a rekey of the SA before
rekeys=$(grep -c 'detected rekeying of CHILD_SA' "$gwlog")
[ "$rekeys" = $((quick_modes - 1)) ] ||
	keel_fail "IKEv1: the gateway saw $rekeys of keel's $((quick_modes - 1)) new quick modes as rekeys"
[ "$RECEIVED" -ge 59 ] || keel_fail "IKEv1: pings lost across keel's quick modes: $(grep received "$LAB_RUN/ping.log")"
keel_stop 10
[ "$KEEL_RC" = 0 ] || keel_fail "IKEv1: keel exited with $KEEL_RC after SIGINT, not 0"
echo "ok: IKEv1: $RECEIVED of 60 pings across $rekeys quick mode rekeys by keel"
lab_down

echo "PASS: $KEEL_TEST"
exit 0
