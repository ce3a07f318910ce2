#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Keel's default proposals against strongSwan's: a profile with no
# ike-proposals or esp-proposals connects to a gateway configured with
# strongSwan's `default` proposals (which picks Keel's second IKE proposal,
# AES-CBC + SHA-256, so its reply carries a lone proposal numbered 2) and
# pings through the tunnel; the gateway must report AES-GCM or AES-CBC with
# SHA-2 and a strong group, nothing weaker.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-defaults
keel_require ping

export KEEL_LAB_IKE_PROPOSALS=default KEEL_LAB_ESP_PROPOSALS=default
keel_lab ikev2-psk
keel_profile
keel_secrets "${LAB_VAR[PSK]}"
keel_start -v
keel_wait_up 20

ip netns exec "$LAB_NS_CLI" ping -q -n -c 3 -i 0.2 -W 5 "$LAB_HOST_ADDR" >"$LAB_RUN/ping.log" 2>&1 ||
	keel_fail "no ping reply through the tunnel: $(cat "$LAB_RUN/ping.log")"

sas=$(lab_swanctl gw --list-sas)
ike=$(grep -oE '(AES_GCM_16|AES_CBC)[-_](128|256)[A-Z0-9_/]*' <<<"$sas" | head -n 1)
[ -n "$ike" ] || keel_fail "no AES-GCM/AES-CBC IKE SA on the gateway: $sas"
grep -qE 'CURVE_25519|ECP_256|MODP_2048' <<<"$sas" || keel_fail "no strong DH group in: $sas"
grep -qE 'HMAC_SHA1|MODP_1024|3DES' <<<"$sas" && keel_fail "something weak was negotiated: $sas"

keel_stop 10
[ "$KEEL_RC" = 0 ] || keel_fail "keel exited with $KEEL_RC after SIGINT"
echo "PASS: defaults: $ike, ping through the tunnel"
