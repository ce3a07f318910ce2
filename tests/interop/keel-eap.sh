#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# keel connect with EAP against the lab's strongSwan gateway (scenario
# ikev2-eap): the gateway proves itself with its certificate, then
# EAP-Identity and EAP-MSCHAPv2 as user alice, the AUTH payloads from the
# MSK (RFC 7296 §2.16); tunnel up, a ping through it, a clean exit. With a
# wrong password keel exits 1 saying the user name or password was refused,
# leaves the client namespace untouched, and never shows either password.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-eap
keel_require ping

keel_lab ikev2-eap
{
	echo "[connection]"
	echo "gateway = $LAB_GW_ADDR"
	echo "auth = eap"
	echo "local-id = ${LAB_VAR[CLIENT_ID]}"
	echo "remote-id = ${LAB_VAR[GW_ID]}"
	echo "ike-proposals = ${LAB_VAR[IKE_PROPOSALS]}"
	echo "esp-proposals = ${LAB_VAR[ESP_PROPOSALS]}"
	echo "remote-ts = ${LAB_VAR[REMOTE_TS]}"
	echo "datapath = tun"
	echo "[auth]"
	echo "username = ${LAB_VAR[EAP_USER]}"
	echo "ca = $LAB_RUN/pki/ca.pem"
} >"$KEEL_PROFILE"
password_secrets() {
	(umask 077 && printf '[secrets]\npassword = %s\n' "$1" >"$KEEL_SECRETS")
}
before=$(keel_net_state)

password_secrets "${LAB_VAR[EAP_PASSWORD]}"
keel_start -vv
keel_wait_up 30
for step in 'authenticated the gateway .*gw.keel.test.* with its certificate' \
	'EAP-MSCHAPv2 succeeded'; do
	grep -q "$step" "$KEEL_LOG" || keel_fail "keel did not say '$step'"
done
ip netns exec "$LAB_NS_CLI" ping -q -n -c 3 -i 0.2 -W 5 "$LAB_HOST_ADDR" >"$LAB_RUN/ping.log" 2>&1 ||
	keel_fail "no ping reply through the tunnel: $(cat "$LAB_RUN/ping.log")"
grep -qi "EAP method EAP_MSCHAPV2 succeeded" "$LAB_RUN/gw/charon.log" ||
	keel_fail "the gateway's log shows no EAP-MSCHAPv2 success"
keel_stop 10
[ "$KEEL_RC" = 0 ] || keel_fail "keel exited with $KEEL_RC after SIGINT, not 0"
keel_no_secret "${LAB_VAR[EAP_PASSWORD]}"
cp "$KEEL_LOG" "$LAB_RUN/keel-ok.log"

wrong=wrong-eap-password-$$
password_secrets "$wrong"
keel_start -vv
keel_wait_exit 40
[ "$KEEL_RC" = 1 ] || keel_fail "wrong password: keel exited with $KEEL_RC, not 1"
grep -q '^keel: .*refused the user name or password' "$KEEL_LOG" ||
	keel_fail "wrong password: no line 'keel: ...refused the user name or password'"
grep -q '^tunnel up' "$KEEL_LOG" && keel_fail "wrong password: keel said the tunnel was up"
after=$(keel_net_state)
[ "$before" = "$after" ] || keel_fail "wrong password: the client namespace changed"
keel_no_secret "$wrong"
keel_no_secret "${LAB_VAR[EAP_PASSWORD]}"
echo "wrong password: $(grep -m 1 '^keel: ' "$KEEL_LOG")"

echo "PASS: $KEEL_TEST"
exit 0
