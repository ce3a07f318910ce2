#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# keel connect with certificates against the lab's strongSwan gateway:
#  - ikev2-cert (RSA gateway certificate) with our key encrypted under
#    key-passphrase, and ikev2-cert-ecdsa (ECDSA, through the intermediate
#    CA the gateway sends): tunnel up, a ping through it, a clean exit;
#  - a wrong key-passphrase: refused before anything is sent, with its own
#    sentence, the passphrase never shown;
#  - the gateway's certificate expired, from an unknown CA, or for another
#    name: exit 1 with a line saying so (for the name: what was expected
#    and what the certificate presents), the client namespace untouched;
#  - remote-id as a distinguished name: a gateway whose identity is its
#    certificate's subject is accepted, another DN refused;
#  - revocation lists (crl): a revoked gateway certificate, an expired CRL, a
#    CRL of another CA and a file that is no CRL refused; a current CRL that
#    lists another certificate accepted;
#  - a 4096-bit RSA chain (gateway and intermediate CA) through a NAT router
#    that drops every IP fragment: only IKE fragmentation (RFC 7383) gets
#    the IKE_AUTH messages through, in both directions.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-cert
keel_require ping nft openssl

PASSPHRASE=keel-lab-key-passphrase-$$

# One test PKI for every lab below (each lab copies it).
pki_dir=$(mktemp -d "${TMPDIR:-/tmp}/keel-cert-pki.XXXXXX")
trap 'rm -rf "$pki_dir"' EXIT
lab_pki "$pki_dir"
export KEEL_LAB_PKI=$pki_dir

# cert_profile KEYFILE: auth = cert with the lab PKI's alice and CA.
cert_profile() {
	KEEL_DATAPATH=tun keel_profile_auth cert "[auth]" "certificate = $LAB_RUN/pki/alice.pem" \
		"private-key = $1" "ca = $LAB_RUN/pki/ca.pem"
}

# passphrase_secrets [PASSPHRASE]: the secrets file (without one: an empty group).
passphrase_secrets() {
	(umask 077 && printf '[secrets]\n%s' "${1:+key-passphrase = $1
}" >"$KEEL_SECRETS")
}

# up_and_down: connects, pings the protected host, disconnects cleanly.
up_and_down() {
	keel_start -vv
	keel_wait_up 30
	ip netns exec "$LAB_NS_CLI" ping -q -n -c 3 -i 0.2 -W 5 "$LAB_HOST_ADDR" >"$LAB_RUN/ping.log" 2>&1 ||
		keel_fail "no ping reply through the tunnel: $(cat "$LAB_RUN/ping.log")"
	keel_stop 10
	[ "$KEEL_RC" = 0 ] || keel_fail "keel exited with $KEEL_RC after SIGINT, not 0"
}

# refused CASE STATUS PATTERN: keel exits STATUS with a line matching PATTERN,
# changing nothing in the client namespace.
refused() {
	local case=$1 status=$2 pattern=$3 before after
	before=$(keel_net_state)
	keel_start -vv
	keel_wait_exit 40
	[ "$KEEL_RC" = "$status" ] || keel_fail "$case: keel exited with $KEEL_RC, not $status"
	grep -q "$pattern" "$KEEL_LOG" || keel_fail "$case: no line matching '$pattern'"
	grep -q '^tunnel up' "$KEEL_LOG" && keel_fail "$case: keel said the tunnel was up"
	after=$(keel_net_state)
	[ "$before" = "$after" ] || keel_fail "$case: the client namespace changed"
	echo "$case: $(grep -m 1 "$pattern" "$KEEL_LOG")"
}

# RSA, our key encrypted; then the wrong passphrase.
(
	keel_lab ikev2-cert
	openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$LAB_RUN/pki/alice.key" \
		-out "$LAB_RUN/alice-encrypted.key" -passout "pass:$PASSPHRASE" 2>/dev/null ||
		keel_fail "cannot encrypt the key"
	cert_profile "$LAB_RUN/alice-encrypted.key"
	passphrase_secrets "$PASSPHRASE"
	up_and_down
	grep -q 'authenticated the gateway .*gw.keel.test.* with its certificate' "$KEEL_LOG" ||
		keel_fail "keel did not say how it authenticated the gateway"
	grep -q "authentication of 'alice@keel.test' with RSA.* successful" "$LAB_RUN/gw/charon.log" ||
		keel_fail "the gateway did not authenticate alice with her certificate"
	keel_no_secret "$PASSPHRASE"
	passphrase_secrets "wrong-$PASSPHRASE"
	refused wrong-passphrase 2 "passphrase is wrong"
	keel_no_secret "$PASSPHRASE"
	echo "rsa: connected with an encrypted key; a wrong passphrase refused"
) || exit 1

# ECDSA through the intermediate CA.
(
	keel_lab ikev2-cert-ecdsa
	cert_profile "$LAB_RUN/pki/alice.key"
	passphrase_secrets
	up_and_down
	grep -q 'ECDSA' "$KEEL_LOG" || keel_fail "no ECDSA signature in keel's log"
	echo "ecdsa: connected through the intermediate CA"
) || exit 1

# A gateway whose IKE identity is its certificate's subject DN (strongSwan's
# default for certificates): remote-id as a DN, then a DN it cannot prove.
(
	export KEEL_LAB_GW_ID='"C=XX, O=Keel Lab, CN=gw.keel.test"'
	keel_lab ikev2-cert
	cert_profile "$LAB_RUN/pki/alice.key"
	sed -i 's|^remote-id = .*|remote-id = C=XX, O=Keel Lab, CN=gw.keel.test|' "$KEEL_PROFILE"
	passphrase_secrets
	up_and_down
	grep -q 'authenticated the gateway .*CN=gw.keel.test.* with its certificate' "$KEEL_LOG" ||
		keel_fail "keel did not authenticate the gateway by its DN"
	sed -i 's|^remote-id = .*|remote-id = C=XX, O=Keel Lab, CN=other.keel.test|' "$KEEL_PROFILE"
	# the gateway answers to no such identity
	refused wrong-dn 1 "the gateway refused our certificate or identity"
	echo "dn: connected to a gateway known by its DN; another DN refused"
) || exit 1

# The gateway's certificate refused: expired, unknown CA, another name.
for bad in "gw-expired.pem:certificate has expired" \
	"gw-unknown.pem:not trusted.*unknown CA" \
	"gw-wrongid.pem:expected FQDN gw.keel.test, the certificate names .*DNS:wrong.keel.test"; do
	(
		export KEEL_LAB_GW_CERT=${bad%%:*}
		keel_lab ikev2-cert
		cert_profile "$LAB_RUN/pki/alice.key"
		passphrase_secrets
		refused "${bad%%:*}" 1 "${bad#*:}"
	) || exit 1
done

# Revocation lists (crl): the gateway's CA's CRL listing another certificate
# lets the tunnel up; listing the gateway's certificate, or expired, or only a
# CRL of another CA (the gateway's revocation unknown): exit 1 with a line
# saying which; a file that is no CRL: refused before anything is sent.
(
	keel_lab ikev2-cert
	printf 'pki {\n\tload = random pem pkcs1 pkcs8 x509 openssl sha1 sha2 gmp\n}\n' >"$LAB_RUN/pki.conf"
	signcrl() { STRONGSWAN_CONF=$LAB_RUN/pki.conf pki --signcrl --outform pem "$@" 2>/dev/null; }
	pki=$LAB_RUN/pki
	signcrl --cacert "$pki/ca.pem" --cakey "$pki/ca.key" --lifetime 2 \
		--reason superseded --cert "$pki/gw-expired.pem" >"$LAB_RUN/crl-other.pem" &&
		signcrl --cacert "$pki/ca.pem" --cakey "$pki/ca.key" --lifetime 2 \
			--reason key-compromise --cert "$pki/gw-rsa.pem" >"$LAB_RUN/crl-gw.pem" &&
		signcrl --cacert "$pki/ca.pem" --cakey "$pki/ca.key" \
			--this-update "$(date -u -d '-2 days' '+%d.%m.%y %T')" \
			--next-update "$(date -u -d '-1 day' '+%d.%m.%y %T')" >"$LAB_RUN/crl-expired.pem" &&
		signcrl --cacert "$pki/unknown-ca.pem" --cakey "$pki/unknown-ca.key" --lifetime 2 \
			>"$LAB_RUN/crl-elsewhere.pem" ||
		keel_fail "cannot sign the test CRLs"
	cert_profile "$pki/alice.key"
	passphrase_secrets
	printf 'crl = %s\n' "$LAB_RUN/crl-other.pem" >>"$KEEL_PROFILE"
	up_and_down
	for bad in "crl-gw.pem:1:the gateway's certificate has been revoked" \
		"crl-expired.pem:1:have no valid CRL from the CA of .*CRL has expired" \
		"crl-elsewhere.pem:1:have no valid CRL from the CA of" \
		"alice.pem:2:the revocation list (crl) does not parse"; do
		f=${bad%%:*} rest=${bad#*:}
		[ -e "$LAB_RUN/$f" ] || f=pki/$f
		sed -i "s|^crl = .*|crl = $LAB_RUN/$f|" "$KEEL_PROFILE"
		refused "$f" "${rest%%:*}" "${rest#*:}"
	done
	echo "crl: a CRL listing another certificate accepted; revoked, expired, foreign and malformed CRLs refused"
) || exit 1

# A 4096-bit RSA chain through a NAT router that drops IP fragments.
(
	big=$pki_dir/big
	mkdir "$big"
	cp "$pki_dir/"*.pem "$pki_dir/"*.key "$big/"
	pki_dir=$big
	for k in int gw-big; do
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$pki_dir/$k.key" \
			2>/dev/null &
	done
	wait
	dn='/C=XX/O=Keel Lab'
	openssl req -new -key "$pki_dir/int.key" -subj "$dn/CN=Keel Lab Intermediate CA 4096" |
		openssl x509 -req -CA "$pki_dir/ca.pem" -CAkey "$pki_dir/ca.key" -set_serial 4096 \
			-days 30 -extfile <(printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n') \
			-out "$pki_dir/int.pem" 2>/dev/null &&
		openssl req -new -key "$pki_dir/gw-big.key" -subj "$dn/CN=gw.keel.test" |
		openssl x509 -req -CA "$pki_dir/int.pem" -CAkey "$pki_dir/int.key" -set_serial 4097 \
			-days 30 -extfile <(printf 'subjectAltName=DNS:gw.keel.test,IP:192.0.2.1\nextendedKeyUsage=serverAuth\n') \
			-out "$pki_dir/gw-big.pem" 2>/dev/null ||
		keel_fail "cannot make the 4096-bit chain"

	export KEEL_LAB_PKI=$pki_dir KEEL_LAB_GW_CERT=gw-big.pem KEEL_LAB_GW_KEY=gw-big.key
	export KEEL_LAB_NAT=1
	keel_lab ikev2-cert
	ip netns exec "$LAB_NS_NAT" nft -f - <<-'EOF' || keel_fail "nft in the NAT namespace"
		table ip keel-nofrag {
			chain pre {
				type filter hook prerouting priority -500; policy accept;
				ip frag-off & 0x3fff != 0 counter drop
			}
		}
	EOF
	# the path really drops IP fragments: a large ping does not get through
	ip netns exec "$LAB_NS_CLI" ping -q -n -c 1 -W 2 -s 3000 "$LAB_GW_ADDR" >/dev/null 2>&1 &&
		keel_fail "a fragmented ping crossed the NAT router"
	drops=$(ip netns exec "$LAB_NS_NAT" nft list table ip keel-nofrag | sed -n 's/.*packets \([0-9]*\).*/\1/p')
	[ "${drops:-0}" -gt 0 ] || keel_fail "the NAT router counted no dropped fragments"

	cert_profile "$LAB_RUN/pki/alice.key"
	passphrase_secrets
	up_and_down
	grep -q 'reassembled from [0-9]* fragments' "$KEEL_LOG" ||
		keel_fail "keel did not reassemble the gateway's fragments"
	grep -qi 'received fragment' "$LAB_RUN/gw/charon.log" ||
		keel_fail "the gateway received no fragments from keel"
	after=$(ip netns exec "$LAB_NS_NAT" nft list table ip keel-nofrag | sed -n 's/.*packets \([0-9]*\).*/\1/p')
	[ "$after" = "$drops" ] || keel_fail "IP fragments were sent and dropped ($drops before, $after after)"
	echo "4096-bit chain: through a path without IP fragments"
) || exit 1

echo "PASS: $KEEL_TEST"
exit 0
