#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Connections the gateway refuses: a wrong PSK (AUTHENTICATION_FAILED), IKE
# proposals it does not accept (NO_PROPOSAL_CHOSEN in IKE_SA_INIT, the
# sentence lists what keel offered), ESP proposals it does not accept
# (NO_PROPOSAL_CHOSEN for the CHILD SA in IKE_AUTH). Each time keel must exit
# 1 with that one-line reason and leave the client namespace and resolv.conf
# untouched; the wrong PSK never appears in its -vv output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-refused
keel_require

keel_lab ikev2-psk
before=$(keel_net_state)
ike=${LAB_VAR[IKE_PROPOSALS]}
esp=${LAB_VAR[ESP_PROPOSALS]}

# refused CASE PATTERN: keel exits 1 with a line matching PATTERN, changing nothing.
refused() {
	local case=$1 pattern=$2 after
	keel_start -vv
	keel_wait_exit 30
	[ "$KEEL_RC" = 1 ] || keel_fail "$case: keel exited with $KEEL_RC, not 1"
	grep -q "^keel: .*$pattern" "$KEEL_LOG" || keel_fail "$case: no line 'keel: ...$pattern...'"
	grep -q '^tunnel up' "$KEEL_LOG" && keel_fail "$case: keel said the tunnel was up"
	after=$(keel_net_state)
	[ "$before" = "$after" ] || keel_fail "$case: the client namespace changed:
$(diff <(echo "$before") <(echo "$after"))"
	keel_resolv_restored || keel_fail "$case: resolv.conf changed"
	echo "$case: $(grep '^keel: ' "$KEEL_LOG" | head -n 1)"
	cp "$KEEL_LOG" "$LAB_RUN/keel-$case.log"
}

wrong_psk=wrong-keel-lab-psk-$$
keel_profile "ike-proposals = $ike" "esp-proposals = $esp"
keel_secrets "$wrong_psk"
refused wrong-psk 'AUTHENTICATION_FAILED'
keel_no_secret "$wrong_psk"

keel_secrets "${LAB_VAR[PSK]}"
keel_profile "ike-proposals = aes256-sha384-ecp384, aes256gcm16-prfsha512-x448" "esp-proposals = $esp"
refused ike-proposals 'accepted none of our IKE proposals (we offered: aes256-sha384-.*ecp384, aes256gcm16-prfsha512-x448)'

keel_profile "ike-proposals = $ike" "esp-proposals = aes256-sha512"
refused esp-proposals 'accepted none of our ESP proposals'
_gw_no_sa() { ! lab_swanctl gw --list-sas 2>/dev/null | grep -q ESTABLISHED; }
lab_wait 5 _gw_no_sa || keel_fail "esp-proposals: the IKE SA stays at the gateway: $(lab_swanctl gw --list-sas)"

echo "PASS: $KEEL_TEST"
exit 0
