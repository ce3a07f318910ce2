#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# keel connect against the lab's strongSwan gateway (scenario ikev2-psk, TUN
# data path): the resolv.conf left by an earlier crashed run restored first,
# the virtual IP on the TUN device, the DNS server in (a private)
# resolv.conf, a ping through the tunnel, no shared GLib mapped by a keel
# that has GLib linked in, TCP both ways with iperf3, then
# SIGINT: the gateway sees the DELETE, the TUN device, routes and resolv.conf
# are as before, and keel exits 0. At -vv the log never shows the PSK.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-connect
keel_require ping iperf3 ss timeout

keel_lab ikev2-psk
keel_profile "ike-proposals = ${LAB_VAR[IKE_PROPOSALS]}" "esp-proposals = ${LAB_VAR[ESP_PROPOSALS]}"
keel_secrets "${LAB_VAR[PSK]}"
before=$(keel_net_state)

# An earlier run that died with the DNS changed left its backup: keel puts
# it back before anything else.
cp -p "$KEEL_RESOLV" "$KEEL_RESOLV.keel-backup"
echo 'nameserver 203.0.113.99' >"$KEEL_RESOLV"

keel_start -vv
keel_wait_up 15
grep -q "^restored $KEEL_RESOLV, left changed by an earlier run" "$KEEL_LOG" ||
	keel_fail "keel did not restore the resolv.conf of an earlier run"

# What keel said, in order.
for step in 'connecting to 192.0.2.1' 'sending IKE_SA_INIT' 'authenticating as "alice@keel.test"' \
	'tunnel up: virtual IP 100.64.0.[0-9]* on keel[0-9]*, DNS 198.51.100.53, routes 198.51.100.0/24'; do
	grep -q "^$step" "$KEEL_LOG" || keel_fail "keel did not print '$step'"
done

tun=$(keel_tun_name)
[ -n "$tun" ] || keel_fail "no keel TUN device in the client namespace"
vip=$(ip -n "$LAB_NS_CLI" -4 -o addr show dev "$tun" | awk '{ split($4, a, "/"); print a[1] }')
[[ $vip =~ ^100\.64\.0\.[0-9]+$ ]] || keel_fail "no 100.64.0.x virtual IP on $tun: '$vip'"
mtu=$(ip -n "$LAB_NS_CLI" -o link show dev "$tun" | sed 's/.* mtu \([0-9]*\) .*/\1/')
if [ "$mtu" -le 1300 ] || [ "$mtu" -gt 1450 ]; then
	keel_fail "$tun has MTU $mtu, not 1500 less ESP in UDP"
fi
ip -n "$LAB_NS_CLI" route show 198.51.100.0/24 | grep -q "dev $tun" ||
	keel_fail "no route to 198.51.100.0/24 via $tun"
grep -qx 'nameserver 198.51.100.53' "$KEEL_RESOLV" || keel_fail "resolv.conf lacks the gateway's DNS server"
grep -q '^nameserver 192.0.2.53' "$KEEL_RESOLV" && keel_fail "resolv.conf still lists the old server"
grep -qx 'options edns0' "$KEEL_RESOLV" || keel_fail "resolv.conf lost its options"

ip netns exec "$LAB_NS_CLI" ping -q -n -c 5 -i 0.2 -W 5 "$LAB_HOST_ADDR" >"$LAB_RUN/ping.log" 2>&1 ||
	keel_fail "no ping reply from $LAB_HOST_ADDR through the tunnel: $(cat "$LAB_RUN/ping.log")"
grep -q ' 5 received' "$LAB_RUN/ping.log" || keel_fail "lost pings: $(grep received "$LAB_RUN/ping.log")"

sas=$(lab_swanctl gw --list-sas)
grep -q "remote .*\[$vip\]" <<<"$sas" || keel_fail "the gateway's IKE SA does not name $vip: $sas"
grep -Eq 'in  +[0-9a-f]+, +[1-9][0-9]* bytes, +[1-9][0-9]* packets' <<<"$sas" ||
	keel_fail "the gateway's CHILD_SA counted no inbound packets: $sas"

# A keel with GLib linked in (-Dstatic_glib) maps no shared GLib: one
# arriving with another library (GIO, libsecret) would be a second GLib in
# the process, and would bring back the pages that linking it in saves.
if ! ldd "$KEEL" | grep -q 'libglib-2\.0'; then
	shared=$(grep -Eo 'lib(glib|gobject|gio)-2\.0\.so[^ ]*' "/proc/$KEEL_PID/maps" | sort -u)
	[ -z "$shared" ] || keel_fail "keel maps a shared GLib besides its own: $shared"
fi

# TCP through the tunnel, each way: iperf3 server on the protected host.
ip netns exec "$LAB_NS_HOST" iperf3 -s -B "$LAB_HOST_ADDR" >"$LAB_RUN/iperf3-server.log" 2>&1 &
_iperf_listening() { ip netns exec "$LAB_NS_HOST" ss -Hltn 'sport = :5201' | grep -q .; }
lab_wait 10 _iperf_listening || keel_fail "the iperf3 server does not listen"
declare -A rate=()
for dir in up down; do
	flag=
	[ "$dir" = down ] && flag=-R
	ip netns exec "$LAB_NS_CLI" timeout 30 iperf3 -c "$LAB_HOST_ADDR" -t 3 -f m $flag \
		>"$LAB_RUN/iperf3-$dir.log" 2>&1 || {
		cat "$LAB_RUN/iperf3-$dir.log" >&2
		keel_fail "iperf3 ($dir) failed"
	}
	rate[$dir]=$(awk '/receiver$/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") print $i }' \
		"$LAB_RUN/iperf3-$dir.log" | tail -n 1)
	if ! awk -v r="${rate[$dir]:-0}" 'BEGIN { exit !(r > 0) }'; then
		keel_fail "iperf3 ($dir) moved nothing: $(tail -n 4 "$LAB_RUN/iperf3-$dir.log")"
	fi
	echo "iperf3 $dir: ${rate[$dir]} Mbit/s"
done

keel_stop 10
[ "$KEEL_RC" = 0 ] || keel_fail "keel exited with $KEEL_RC after SIGINT, not 0"
grep -q '^disconnected$' "$KEEL_LOG" || keel_fail "keel did not say it disconnected (with the gateway's answer)"
_gw_no_sa() { ! lab_swanctl gw --list-sas --ike "$LAB_CONN" 2>/dev/null | grep -q ESTABLISHED; }
lab_wait 5 _gw_no_sa || keel_fail "the gateway still lists the IKE SA: $(lab_swanctl gw --list-sas)"
grep -q 'received DELETE for IKE_SA' "$LAB_RUN/gw/charon.log" ||
	keel_fail "the gateway's log shows no DELETE from keel"
[ -z "$(keel_tun_name)" ] || keel_fail "the TUN device is still there"
after=$(keel_net_state)
[ "$before" = "$after" ] || keel_fail "the client namespace differs after disconnecting:
$(diff <(echo "$before") <(echo "$after"))"
keel_resolv_restored || keel_fail "resolv.conf was not restored: $(cat "$KEEL_RESOLV")"
keel_no_secret "${LAB_VAR[PSK]}"
# keel -v counts what its data path dropped: nothing may have failed to decrypt
# or have fallen outside the SA's selectors.
stats=$(grep 'data path: sent' "$KEEL_LOG")
grep -q ' 0 invalid, 0 off-selector,' <<<"$stats" || keel_fail "the data path dropped packets: $stats"
hwm=$(sed -n 's/.*VmHWM): \([0-9]*\) kB.*/\1/p' "$KEEL_LOG")
[ -n "$hwm" ] || keel_fail "keel -vv did not report its peak memory"
up_ms=$(sed -n 's/.*tunnel up \([0-9.]*\) ms after start.*/\1/p' "$KEEL_LOG")

echo "PASS: $KEEL_TEST: virtual IP $vip on $tun (MTU $mtu); tunnel up ${up_ms} ms after keel started;" \
	"iperf3 ${rate[up]} Mbit/s up, ${rate[down]} Mbit/s down; VmHWM ${hwm} kB"
exit 0
