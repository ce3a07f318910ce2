#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The connection is lost, two ways; each time keel must say why, exit 1 and
# leave the client namespace and resolv.conf as they were.
#  1. The gateway deletes the IKE SA (swanctl --terminate): keel answers the
#     DELETE and reports that the gateway closed the connection.
#  2. The gateway dies: its charon is killed (SIGKILL, so it sends nothing).
#     keel checks liveness after 2 s of silence (--dpd 2), retransmits after
#     1 s and 1.8 s (--retransmit-timeout 1 --retransmit-tries 2) and gives up
#     3.24 s later: the dead peer must be reported within about 8 s.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-lost
keel_require ping

keel_lab ikev2-psk
keel_profile "ike-proposals = ${LAB_VAR[IKE_PROPOSALS]}" "esp-proposals = ${LAB_VAR[ESP_PROPOSALS]}"
keel_secrets "${LAB_VAR[PSK]}"
before=$(keel_net_state)

# restored CASE: the client namespace and resolv.conf are as before.
restored() {
	local after
	[ -z "$(keel_tun_name)" ] || keel_fail "$1: the TUN device is still there"
	after=$(keel_net_state)
	[ "$before" = "$after" ] || keel_fail "$1: the client namespace differs afterwards:
$(diff <(echo "$before") <(echo "$after"))"
	keel_resolv_restored || keel_fail "$1: resolv.conf was not restored: $(cat "$KEEL_RESOLV")"
}

# 1. The gateway closes the connection.
keel_start -v
keel_wait_up 15
lab_swanctl gw --terminate --ike "$LAB_CONN" --timeout 10 >"$LAB_RUN/terminate.log" 2>&1 ||
	keel_fail "swanctl --terminate failed: $(cat "$LAB_RUN/terminate.log")"
keel_wait_exit 10
[ "$KEEL_RC" = 1 ] || keel_fail "gateway delete: keel exited with $KEEL_RC, not 1"
grep -q '^keel: the gateway closed the connection' "$KEEL_LOG" ||
	keel_fail "gateway delete: keel did not say that the gateway closed the connection"
restored "gateway delete"
echo "gateway delete: $(grep '^keel: ' "$KEEL_LOG" | head -n 1)"

# 2. The gateway dies.
keel_start -v --dpd 2 --retransmit-timeout 1 --retransmit-tries 2
keel_wait_up 15
ip netns exec "$LAB_NS_CLI" ping -q -n -c 1 -W 5 "$LAB_HOST_ADDR" >/dev/null ||
	keel_fail "no ping through the tunnel before the gateway dies"
kill -KILL "${LAB_PID[gw]}"
wait "${LAB_PID[gw]}" 2>/dev/null
unset "LAB_PID[gw]"
killed=$(date +%s%N)
# a liveness check after at most 2 s, then 1 + 1.8 + 3.24 s: 8.04 s
keel_wait_exit 20
took_ms=$((($(date +%s%N) - killed) / 1000000))
[ "$KEEL_RC" = 1 ] || keel_fail "dead gateway: keel exited with $KEEL_RC, not 1"
grep -q '^keel: .*dead peer' "$KEEL_LOG" || keel_fail "dead gateway: keel did not report a dead peer"
[ "$took_ms" -le 11000 ] ||
	keel_fail "dead gateway: keel took $took_ms ms to notice (expected about 8 s)"
restored "dead gateway"
echo "dead gateway: after $took_ms ms: $(grep '^keel: ' "$KEEL_LOG" | head -n 1)"

echo "PASS: $KEEL_TEST"
exit 0
