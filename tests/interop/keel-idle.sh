#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# keel at rest: with the tunnel up and the DNS servers set (the helper
# thread done), keel must sleep. Its CPU time (utime + stime of all its
# threads) over two idle seconds stays under 0.1 s; a descriptor left
# readable in its event loop (as the DNS thread's eventfd once was) spins it
# at a whole core. Then a ping, and a clean exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-idle
keel_require ping

keel_lab ikev2-psk
keel_profile "ike-proposals = ${LAB_VAR[IKE_PROPOSALS]}" "esp-proposals = ${LAB_VAR[ESP_PROPOSALS]}"
keel_secrets "${LAB_VAR[PSK]}"
keel_start
keel_wait_up 20
# "tunnel up" is printed once DNS is settled: the helper thread has finished
grep -q '^tunnel up: .*DNS 198.51.100.53' "$KEEL_LOG" || keel_fail "no DNS server in the tunnel-up line"

cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$KEEL_PID/stat"; }
hz=$(getconf CLK_TCK)
before=$(cpu_ticks)
sleep 2 # the measured interval itself, not a wait for a condition
after=$(cpu_ticks)
used_ms=$(((after - before) * 1000 / hz))
[ "$used_ms" -lt 100 ] || keel_fail "keel used $used_ms ms of CPU in 2 idle seconds"

ip netns exec "$LAB_NS_CLI" ping -q -n -c 3 -i 0.2 -W 5 "$LAB_HOST_ADDR" >"$LAB_RUN/ping.log" 2>&1 ||
	keel_fail "no ping reply through the tunnel: $(cat "$LAB_RUN/ping.log")"
keel_stop 10
[ "$KEEL_RC" = 0 ] || keel_fail "keel exited with $KEEL_RC after SIGINT"
echo "PASS: idle: $used_ms ms of CPU in 2 s with the tunnel up"
