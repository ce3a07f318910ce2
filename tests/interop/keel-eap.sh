#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# keel connect with EAP against the lab's strongSwan gateway, one lab per
# method (RFC 7296 §2.16):
#   ikev2-eap       the gateway's certificate, then EAP-Identity and
#                   EAP-MSCHAPv2; the AUTH payloads from the MSK
#   ikev2-eap-md5   ... EAP-MD5; no MSK, our AUTH from SK_pi
#   ikev2-eap-gtc   ... EAP-GTC (the gateway checks the password with its
#                   xauth-generic backend); no MSK
#   ikev2-eap-only  EAP-only (RFC 5998, profile eap-only = yes): no gateway
#                   certificate, both AUTH payloads from the EAP-MSCHAPv2 MSK
# Each: tunnel up, a ping through it, the gateway's log names the method, a
# clean exit. With a wrong password keel exits 1 saying the user name or
# password was refused, leaves the client namespace untouched, and never
# shows either password. Then, on the EAP-only gateway, a profile without
# eap-only is refused by the gateway.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
keel_require ping

# eap_profile [LINE...]: the scenario's EAP profile, extra lines in [auth].
eap_profile() {
	keel_profile_auth eap "[auth]" "username = ${LAB_VAR[EAP_USER]}" "ca = $LAB_RUN/pki/ca.pem" "$@"
}

password_secrets() {
	(umask 077 && printf '[secrets]\npassword = %s\n' "$1" >"$KEEL_SECRETS")
}

# eap_case SCENARIO METHOD GATEWAY-STEP [PROFILE-LINE...]: METHOD as keel
# and charon name it (EAP-MD5 / EAP_MD5), GATEWAY-STEP what keel must say
# about the gateway's authentication.
eap_case() {
	local scenario=$1 method=$2 gw_step=$3
	shift 3
	KEEL_TEST="keel-eap ($scenario)"
	keel_lab "$scenario"
	[ -f "$LAB_RUN/pki/ca.pem" ] || keel_fail "no test PKI in the lab"
	eap_profile "$@"
	local before after wrong charon_method
	before=$(keel_net_state)
	charon_method=${method//-/_}
	charon_method=${charon_method^^}

	password_secrets "${LAB_VAR[EAP_PASSWORD]}"
	keel_start -vv
	keel_wait_up 30
	local step
	for step in "$gw_step" "$method succeeded"; do
		grep -q -- "$step" "$KEEL_LOG" || keel_fail "keel did not say '$step'"
	done
	ip netns exec "$LAB_NS_CLI" ping -q -n -c 3 -i 0.2 -W 5 "$LAB_HOST_ADDR" >"$LAB_RUN/ping.log" 2>&1 ||
		keel_fail "no ping reply through the tunnel: $(cat "$LAB_RUN/ping.log")"
	grep -qi "EAP method $charon_method succeeded" "$LAB_RUN/gw/charon.log" ||
		keel_fail "the gateway's log shows no $method success"
	keel_stop 10
	[ "$KEEL_RC" = 0 ] || keel_fail "keel exited with $KEEL_RC after SIGINT, not 0"
	keel_no_secret "${LAB_VAR[EAP_PASSWORD]}"
	cp "$KEEL_LOG" "$LAB_RUN/keel-ok.log"

	wrong=wrong-eap-password-$$
	password_secrets "$wrong"
	keel_start -vv
	keel_wait_exit 40
	[ "$KEEL_RC" = 1 ] || keel_fail "wrong password: keel exited with $KEEL_RC, not 1"
	grep -q "^keel: .*refused the user name or password ($method" "$KEEL_LOG" ||
		keel_fail "wrong password: no line 'keel: ...refused the user name or password ($method...'"
	grep -q '^tunnel up' "$KEEL_LOG" && keel_fail "wrong password: keel said the tunnel was up"
	after=$(keel_net_state)
	[ "$before" = "$after" ] || keel_fail "wrong password: the client namespace changed"
	keel_no_secret "$wrong"
	keel_no_secret "${LAB_VAR[EAP_PASSWORD]}"
	echo "$scenario: wrong password: $(grep -m 1 '^keel: ' "$KEEL_LOG")"
}

eap_case ikev2-eap EAP-MSCHAPv2 'authenticated the gateway .*gw.keel.test.* with its certificate'
lab_down
eap_case ikev2-eap-md5 EAP-MD5 'authenticated the gateway .*gw.keel.test.* with its certificate'
lab_down
eap_case ikev2-eap-gtc EAP-GTC 'authenticated the gateway .*gw.keel.test.* with its certificate'
lab_down
eap_case ikev2-eap-only EAP-MSCHAPv2 'takes EAP-only authentication (RFC 5998)' 'eap-only = yes'
grep -q "authentication of 'gw.keel.test' (myself) with EAP" "$LAB_RUN/gw/charon.log" ||
	keel_fail "EAP-only: the gateway's log shows no AUTH of its own from the MSK"
grep -Eq 'sending end entity cert|generating IKE_AUTH response .* CERT ' "$LAB_RUN/gw/charon.log" &&
	keel_fail "EAP-only: the gateway sent a certificate"

# Without eap-only the same gateway ends the exchange: it takes only EAP-only.
eap_profile
password_secrets "${LAB_VAR[EAP_PASSWORD]}"
keel_start -vv
keel_wait_exit 40
[ "$KEEL_RC" = 1 ] || keel_fail "EAP-only gateway, no eap-only: keel exited with $KEEL_RC, not 1"
grep -q '^tunnel up' "$KEEL_LOG" && keel_fail "EAP-only gateway, no eap-only: the tunnel came up"
grep -q "configured EAP-only authentication, but peer does not support it" "$LAB_RUN/gw/charon.log" ||
	keel_fail "EAP-only gateway, no eap-only: the gateway's log does not say why it refused"
echo "ikev2-eap-only without eap-only: $(grep -m 1 '^keel: ' "$KEEL_LOG")"

KEEL_TEST=keel-eap
echo "PASS: $KEEL_TEST"
exit 0
