#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# keel connect with ike = 1 and certificates against the lab's strongSwan
# gateway (TUN data path):
#  - ikev1-main-cert and ikev1-aggr-cert (auth = cert: RSA signatures both
#    ways, RFC 2409 §5.1), ikev1-xauth-cert (auth = xauth-cert: signatures,
#    then XAUTH) and ikev1-hybrid (auth = hybrid: the gateway's certificate,
#    our XAUTH login alone): each gets its virtual IP, pings the protected
#    host through the tunnel, and SIGINT closes it (exit 0);
#  - the gateway's certificate from an unknown CA, or for another name, in
#    Main Mode with certificates and in hybrid mode: exit 1 with a line that
#    says so (for the name: what was expected and what the certificate
#    presents), no TUN device, address or route left in the client
#    namespace, and (hybrid) no XAUTH password sent to that gateway.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-ikev1-cert
keel_require ping

# One test PKI for every lab below (each lab copies it).
pki_dir=$(mktemp -d "${TMPDIR:-/tmp}/keel-ikev1-cert-pki.XXXXXX")
trap 'rm -rf "$pki_dir"' EXIT
lab_pki "$pki_dir"
export KEEL_LAB_PKI=$pki_dir

# v1_profile AUTH MODE: the scenario's IKEv1 profile with our certificate
# (cert, xauth-cert) or none (hybrid), the lab's CA, and the XAUTH user.
v1_profile() {
	local auth=$1 mode=$2
	{
		echo "[connection]"
		echo "gateway = $LAB_GW_ADDR"
		echo "ike = 1"
		echo "mode = $mode"
		echo "auth = $auth"
		echo "local-id = ${LAB_VAR[CLIENT_ID]}"
		echo "remote-id = gw.keel.test"
		echo "remote-ts = ${LAB_VAR[REMOTE_TS]}"
		echo "ike-proposals = ${LAB_VAR[IKE_PROPOSALS]}"
		echo "esp-proposals = ${LAB_VAR[ESP_PROPOSALS]}"
		echo "datapath = tun"
		echo "[auth]"
		if [ "$auth" != hybrid ]; then
			echo "certificate = $LAB_RUN/pki/alice.pem"
			echo "private-key = $LAB_RUN/pki/alice.key"
		fi
		[ "$auth" != cert ] && echo "username = ${LAB_VAR[XAUTH_USER]}"
		echo "ca = $LAB_RUN/pki/ca.pem"
	} >"$KEEL_PROFILE"
	(
		umask 077
		printf '[secrets]\n' >"$KEEL_SECRETS"
		if [ "$auth" != cert ]; then
			printf 'password = %s\n' "${LAB_VAR[XAUTH_PASSWORD]}" >>"$KEEL_SECRETS"
		fi
	)
}

_gw_no_sa() { ! lab_swanctl gw --list-sas 2>/dev/null | grep -q ESTABLISHED; }

# connect SCENARIO AUTH MODE METHOD: up, ping, down; METHOD is how the
# gateway's log names the phase 1 authentication it accepted.
connect() {
	local scenario=$1 auth=$2 mode=$3 method=$4
	keel_lab "$scenario"
	v1_profile "$auth" "$mode"
	keel_start -vv
	keel_wait_up 30
	keel_tunnel_ping "$scenario" 5
	grep -q 'authenticated the gateway "gw.keel.test" with its certificate' "$KEEL_LOG" ||
		keel_fail "$scenario: keel did not say it verified the gateway's certificate"
	grep -q "$method" "$LAB_RUN/gw/charon.log" ||
		keel_fail "$scenario: the gateway's log has no '$method'"
	grep -q '^warning: .*[Aa]ggressive [Mm]ode' "$KEEL_LOG" &&
		keel_fail "$scenario: an Aggressive Mode PSK warning without a PSK"
	keel_stop 10
	[ "$KEEL_RC" = 0 ] || keel_fail "$scenario: keel exited with $KEEL_RC after SIGINT, not 0"
	lab_wait 5 _gw_no_sa || keel_fail "$scenario: the SA stays at the gateway: $(lab_swanctl gw --list-sas)"
	[ "$auth" != cert ] && keel_no_secret "${LAB_VAR[XAUTH_PASSWORD]}"
	echo "$scenario ($auth, $mode): up with $KEEL_VIP, 5 pings, closed"
}

(connect ikev1-main-cert cert main "authentication of 'alice@keel.test' with RSA.* successful") || exit 1
(connect ikev1-aggr-cert cert aggressive "authentication of 'alice@keel.test' with RSA.* successful") ||
	exit 1
(connect ikev1-xauth-cert xauth-cert main "XAuth authentication of 'alice' successful") || exit 1
(connect ikev1-hybrid hybrid main "XAuth authentication of 'alice' successful") || exit 1

# refused SCENARIO AUTH GW_CERT PATTERN: the gateway presents GW_CERT; keel
# exits 1 with a line matching PATTERN and leaves the namespace as it was.
refused() {
	local scenario=$1 auth=$2 cert=$3 pattern=$4 before after
	(
		export KEEL_LAB_GW_CERT=$cert
		keel_lab "$scenario"
		v1_profile "$auth" main
		before=$(keel_net_state)
		keel_start -v
		keel_wait_exit 40
		[ "$KEEL_RC" = 1 ] || keel_fail "$scenario $cert: keel exited with $KEEL_RC, not 1"
		grep -q '^tunnel up' "$KEEL_LOG" && keel_fail "$scenario $cert: keel said the tunnel was up"
		grep -q "^keel: .*$pattern" "$KEEL_LOG" ||
			keel_fail "$scenario $cert: no line 'keel: ...$pattern...': $(grep '^keel: ' "$KEEL_LOG")"
		[ -z "$(keel_tun_name)" ] || keel_fail "$scenario $cert: a TUN device is left"
		after=$(keel_net_state)
		[ "$before" = "$after" ] || keel_fail "$scenario $cert: the client namespace changed"
		grep -q 'XAuth authentication' "$LAB_RUN/gw/charon.log" &&
			keel_fail "$scenario $cert: XAUTH ran with a gateway keel did not trust"
		echo "$scenario $cert: $(grep -m 1 "^keel: .*$pattern" "$KEEL_LOG")"
	) || exit 1
}

for scenario_auth in ikev1-main-cert:cert ikev1-hybrid:hybrid; do
	refused "${scenario_auth%%:*}" "${scenario_auth#*:}" gw-unknown.pem "not trusted.*unknown CA"
	# a gateway that is wrong.keel.test, with the certificate to prove it
	KEEL_LAB_GW_ID=wrong.keel.test refused "${scenario_auth%%:*}" "${scenario_auth#*:}" \
		gw-wrongid.pem "expected FQDN gw.keel.test, the certificate names .*DNS:wrong.keel.test"
done

echo "PASS: $KEEL_TEST"
exit 0
