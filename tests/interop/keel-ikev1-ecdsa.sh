#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# keel connect with ike = 1, auth = cert and ECDSA keys on both sides (RFC
# 4754 method 9, ECDSA with SHA-256 on P-256) against the lab's strongSwan
# gateway with its ECDSA certificate gw-ecdsa (TUN data path):
#  - ikev1-main-ecdsa and ikev1-aggr-ecdsa: alice's ECDSA P-256 certificate,
#    made here with openssl by the lab's root CA; each gets its virtual IP,
#    pings the protected host through the tunnel, the gateway's log says it
#    authenticated alice with ECDSA, and SIGINT closes it (exit 0);
#  - refused, exit 1 with the line that says why and the client namespace
#    as it was: a profile that trusts another CA (unknown CA), one that
#    expects another gateway identity, and auth = xauth-cert with the ECDSA
#    key (XAUTHInitRSA is RSA only), which sends the gateway nothing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-ikev1-ecdsa
keel_require ping openssl

# One test PKI for every lab below (each lab copies it), with alice's ECDSA
# P-256 certificate beside her RSA one: same name and SAN, by the root CA.
pki_dir=$(mktemp -d "${TMPDIR:-/tmp}/keel-ikev1-ecdsa-pki.XXXXXX")
trap 'rm -rf "$pki_dir"' EXIT
lab_pki "$pki_dir"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki_dir/alice-ecdsa.key" \
	2>/dev/null || keel_fail "cannot make alice's ECDSA key"
printf 'subjectAltName = email:alice@keel.test\nextendedKeyUsage = clientAuth\n' \
	>"$pki_dir/alice-ecdsa.ext"
openssl req -new -key "$pki_dir/alice-ecdsa.key" -subj "/C=XX/O=Keel Lab/CN=alice@keel.test" |
	openssl x509 -req -CA "$pki_dir/ca.pem" -CAkey "$pki_dir/ca.key" -set_serial 4754 \
		-days 730 -sha256 -extfile "$pki_dir/alice-ecdsa.ext" -out "$pki_dir/alice-ecdsa.pem" \
		2>/dev/null || keel_fail "cannot make alice's ECDSA certificate"
chmod 600 "$pki_dir"/*.key
export KEEL_LAB_PKI=$pki_dir

# v1_profile AUTH MODE [CA] [REMOTE_ID]: the scenario's IKEv1 profile with
# alice's ECDSA key and certificate.
v1_profile() {
	local auth=$1 mode=$2 ca=${3:-ca.pem} remote_id=${4:-gw.keel.test}
	{
		echo "[connection]"
		echo "gateway = $LAB_GW_ADDR"
		echo "ike = 1"
		echo "mode = $mode"
		echo "auth = $auth"
		echo "local-id = ${LAB_VAR[CLIENT_ID]}"
		echo "remote-id = $remote_id"
		echo "remote-ts = ${LAB_VAR[REMOTE_TS]}"
		echo "ike-proposals = ${LAB_VAR[IKE_PROPOSALS]}"
		echo "esp-proposals = ${LAB_VAR[ESP_PROPOSALS]}"
		echo "datapath = tun"
		echo "[auth]"
		echo "certificate = $LAB_RUN/pki/alice-ecdsa.pem"
		echo "private-key = $LAB_RUN/pki/alice-ecdsa.key"
		[ "$auth" = xauth-cert ] && echo "username = alice"
		echo "ca = $LAB_RUN/pki/$ca"
	} >"$KEEL_PROFILE"
	(
		umask 077
		printf '[secrets]\n' >"$KEEL_SECRETS"
		[ "$auth" = xauth-cert ] && printf 'password = not-sent\n' >>"$KEEL_SECRETS"
	)
}

_gw_no_sa() { ! lab_swanctl gw --list-sas 2>/dev/null | grep -q ESTABLISHED; }

# connect SCENARIO MODE: up, ping, down.
connect() {
	local scenario=$1 mode=$2
	keel_lab "$scenario"
	v1_profile cert "$mode"
	keel_start -vv
	keel_wait_up 30
	keel_tunnel_ping "$scenario" 5
	grep -q 'authenticated the gateway "gw.keel.test" with its certificate.*ECDSA P-256 signature (ECDSA with SHA-256 on P-256)' \
		"$KEEL_LOG" || keel_fail "$scenario: keel did not say it verified the gateway's ECDSA signature"
	grep -q 'signing HASH_I with our 256-bit ECDSA P-256 key' "$KEEL_LOG" ||
		keel_fail "$scenario: keel did not say it signed with its ECDSA key"
	grep -q "authentication of 'alice@keel.test' with ECDSA.* successful" "$LAB_RUN/gw/charon.log" ||
		keel_fail "$scenario: the gateway's log does not say it authenticated alice with ECDSA"
	keel_stop 10
	[ "$KEEL_RC" = 0 ] || keel_fail "$scenario: keel exited with $KEEL_RC after SIGINT, not 0"
	lab_wait 5 _gw_no_sa || keel_fail "$scenario: the SA stays at the gateway: $(lab_swanctl gw --list-sas)"
	echo "$scenario ($mode): up with $KEEL_VIP, 5 pings, closed;" \
		"$(grep -m 1 -o "authentication of 'alice@keel.test' with ECDSA[^ ]* successful" \
			"$LAB_RUN/gw/charon.log")"
}

(connect ikev1-main-ecdsa main) || exit 1
(connect ikev1-aggr-ecdsa aggressive) || exit 1

# refused WHAT AUTH CA REMOTE_ID PATTERN: keel exits 1 with a line matching
# PATTERN and leaves the namespace as it was.
refused() {
	local what=$1 auth=$2 ca=$3 remote_id=$4 pattern=$5 before after
	(
		keel_lab ikev1-main-ecdsa
		v1_profile "$auth" main "$ca" "$remote_id"
		before=$(keel_net_state)
		keel_start -v
		keel_wait_exit 40
		[ "$KEEL_RC" = 1 ] || keel_fail "$what: keel exited with $KEEL_RC, not 1"
		grep -q '^tunnel up' "$KEEL_LOG" && keel_fail "$what: keel said the tunnel was up"
		grep -q "^keel: .*$pattern" "$KEEL_LOG" ||
			keel_fail "$what: no line 'keel: ...$pattern...': $(grep '^keel: ' "$KEEL_LOG")"
		[ -z "$(keel_tun_name)" ] || keel_fail "$what: a TUN device is left"
		after=$(keel_net_state)
		[ "$before" = "$after" ] || keel_fail "$what: the client namespace changed"
		if [ "$auth" = xauth-cert ]; then
			grep -q 'received packet' "$LAB_RUN/gw/charon.log" &&
				keel_fail "$what: the gateway received a packet"
		fi
		echo "$what: $(grep -m 1 "^keel: .*$pattern" "$KEEL_LOG")"
	) || exit 1
}

refused "unknown CA" cert unknown-ca.pem gw.keel.test "not trusted.*unknown CA"
refused "another gateway identity" cert ca.pem other.keel.test \
	"expected FQDN other.keel.test, the certificate names .*DNS:gw.keel.test"
refused "xauth-cert with an ECDSA key" xauth-cert ca.pem gw.keel.test \
	"our key is ECDSA P-256: IKEv1 XAUTH with certificates (XAUTHInitRSA) is defined for RSA keys only"

echo "PASS: $KEEL_TEST"
exit 0
