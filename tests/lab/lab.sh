# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034
# (the LAB_* variables are set for the scripts that source this file)
#
# Keel test lab: network namespaces, a test PKI and strongSwan daemons.
# Source this file from bash; see tests/lab/README.md.
#
#   lab_init [nat]            run directory, namespace names, cleanup trap
#   lab_net_up                namespaces, veths, addresses, routes (and NAT)
#   lab_scenario NAME         load tests/lab/scenarios/NAME (defaults, secrets)
#   lab_gateway               start the strongSwan gateway and load NAME's config
#   lab_initiator             start a strongSwan initiator in the client namespace
#   lab_swanctl ROLE ARGS...  swanctl against ROLE's daemon (gw or cli)
#   lab_wait SECONDS CMD...   poll CMD until it succeeds, at most SECONDS
#   lab_strongswan_up NAME [nat]  a lab, NAME's gateway and strongSwan initiator, tunnel up
#   lab_xfrm_sas NS PROTO     the ESP or AH SAs in NS's kernel, with their packet counters
#   lab_down                  kill what we started, delete namespaces, run dir
#   lab_clean_stale           remove namespaces of earlier runs whose owner died
#
# Namespaces are named keel-<owner pid>-<role>; role is cli, gw, host or nat.
# All traffic stays inside them, on documentation addresses only:
#
#   cli 192.0.2.2 --- 192.0.2.1 gw 198.51.100.1 --- 198.51.100.10 host
#   cli 192.0.2.2 --- 192.0.2.1 nat 203.0.113.2 --- 203.0.113.1 gw ...   (nat)
#
# Environment:
#   KEEL_LAB_KEEP=1        keep the run directory (logs, configs, PKI) on teardown
#   KEEL_LAB_DIR=DIR       where run directories are made (default: $TMPDIR or /tmp)
#   KEEL_LAB_OWNER=PID     the process whose death makes the lab stale (default: $$)
#   KEEL_LAB_PKI=DIR       use the PKI in DIR (as lab_pki makes it) instead of a new one
#   KEEL_LAB_NAT=1         put the NAT router in, as lab_init nat does
#   KEEL_LAB_KERNEL_ESP=1  charon without kernel-libipsec: ESP in the kernel (XFRM)
#   KEEL_LAB_<VAR>=VALUE   override a scenario variable @VAR@ (see lab_vars_defaults)

LAB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_CHARON=${KEEL_LAB_CHARON:-/usr/lib/ipsec/charon}
LAB_NS_PREFIX=keel

declare -gA LAB_VAR=()
declare -gA LAB_PID=()

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_die() {
	printf 'lab: error: %s\n' "$*" >&2
	exit 1
}

# Skips (exit 77, meson's "skipped") when the lab cannot run here.
lab_require() {
	local t
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: the lab needs root (network namespaces)" >&2
		exit 77
	fi
	for t in "$LAB_CHARON" swanctl ip nsenter "$@"; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "SKIP: $t not found (run tests/deps to install the lab's packages)" >&2
			exit 77
		fi
	done
}

# lab_wait SECONDS CMD...: runs CMD every 50 ms until it succeeds; fails after
# SECONDS. Polling a condition, never sleeping a fixed time in its place.
lab_wait() {
	local limit=$1 deadline
	shift
	deadline=$((SECONDS + limit))
	until "$@"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.05
	done
}

lab_ns() { echo "$LAB_NS_PREFIX-$LAB_OWNER-$1"; }

lab_init() {
	local nat=${1:-}
	LAB_OWNER=${KEEL_LAB_OWNER:-$$}
	LAB_NAT=no
	[ "$nat" = nat ] && LAB_NAT=yes
	[ "${KEEL_LAB_NAT:-}" = 1 ] && LAB_NAT=yes
	lab_clean_stale
	LAB_NS_CLI=$(lab_ns cli)
	LAB_NS_GW=$(lab_ns gw)
	LAB_NS_HOST=$(lab_ns host)
	LAB_NS_NAT=$(lab_ns nat)
	local existing
	existing=$(ip netns list 2>/dev/null)
	if grep -q "^$LAB_NS_PREFIX-$LAB_OWNER-" <<<"$existing"; then
		lab_die "namespaces $LAB_NS_PREFIX-$LAB_OWNER-* exist already (tests/lab/lab down?)"
	fi
	mkdir -p "${KEEL_LAB_DIR:-${TMPDIR:-/tmp}}"
	LAB_RUN=$(mktemp -d "${KEEL_LAB_DIR:-${TMPDIR:-/tmp}}/keel-lab-$LAB_OWNER.XXXXXX") ||
		lab_die "cannot create a run directory"
	chmod 700 "$LAB_RUN"
	echo "$LAB_OWNER" >"$LAB_RUN/owner"
	echo "$LAB_NAT" >"$LAB_RUN/nat"
	LAB_CLI_ADDR=192.0.2.2
	if [ "$LAB_NAT" = yes ]; then
		LAB_GW_ADDR=203.0.113.1
	else
		LAB_GW_ADDR=192.0.2.1
	fi
	LAB_HOST_ADDR=198.51.100.10
	if [ -z "${KEEL_LAB_NO_TRAP:-}" ]; then
		trap lab_down EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi
}

# Reattaches to a lab brought up by an earlier `lab up` (tests/lab/lab).
lab_attach() {
	LAB_RUN=$1
	[ -f "$LAB_RUN/owner" ] || lab_die "$LAB_RUN is not a lab run directory"
	LAB_OWNER=$(cat "$LAB_RUN/owner")
	LAB_NAT=$(cat "$LAB_RUN/nat")
	LAB_NS_CLI=$(lab_ns cli)
	LAB_NS_GW=$(lab_ns gw)
	LAB_NS_HOST=$(lab_ns host)
	LAB_NS_NAT=$(lab_ns nat)
	LAB_CLI_ADDR=192.0.2.2
	LAB_HOST_ADDR=198.51.100.10
	if [ "$LAB_NAT" = yes ]; then LAB_GW_ADDR=203.0.113.1; else LAB_GW_ADDR=192.0.2.1; fi
	local f role
	for f in "$LAB_RUN"/*/charon.pid; do
		[ -f "$f" ] || continue
		role=$(basename "$(dirname "$f")")
		LAB_PID[$role]=$(cat "$f")
	done
	[ -f "$LAB_RUN/scenario" ] && lab_scenario "$(cat "$LAB_RUN/scenario")"
	return 0
}

lab_net_up() {
	local ns
	for ns in "$LAB_NS_CLI" "$LAB_NS_GW" "$LAB_NS_HOST"; do
		ip netns add "$ns" || lab_die "ip netns add $ns"
		echo "$ns" >>"$LAB_RUN/namespaces"
		ip -n "$ns" link set lo up
	done
	if [ "$LAB_NAT" = yes ]; then
		ip netns add "$LAB_NS_NAT" || lab_die "ip netns add $LAB_NS_NAT"
		echo "$LAB_NS_NAT" >>"$LAB_RUN/namespaces"
		ip -n "$LAB_NS_NAT" link set lo up
		ip -n "$LAB_NS_CLI" link add wan0 type veth peer name lan0 netns "$LAB_NS_NAT"
		ip -n "$LAB_NS_NAT" link add wan0 type veth peer name ext0 netns "$LAB_NS_GW"
		ip -n "$LAB_NS_NAT" addr add 192.0.2.1/24 dev lan0
		ip -n "$LAB_NS_NAT" addr add 203.0.113.2/24 dev wan0
		ip -n "$LAB_NS_NAT" link set lan0 up
		ip -n "$LAB_NS_NAT" link set wan0 up
		ip netns exec "$LAB_NS_NAT" sysctl -qw net.ipv4.ip_forward=1
		ip netns exec "$LAB_NS_NAT" nft -f - 2>"$LAB_RUN/nft.log" <<-'EOF' || _lab_nat_tc
			table ip keel-nat {
				chain postrouting {
					type nat hook postrouting priority srcnat; policy accept;
					oifname "wan0" masquerade
				}
			}
		EOF
		ip -n "$LAB_NS_GW" addr add 203.0.113.1/24 dev ext0
	else
		ip -n "$LAB_NS_CLI" link add wan0 type veth peer name ext0 netns "$LAB_NS_GW"
		ip -n "$LAB_NS_GW" addr add 192.0.2.1/24 dev ext0
	fi
	ip -n "$LAB_NS_CLI" addr add 192.0.2.2/24 dev wan0
	ip -n "$LAB_NS_CLI" link set wan0 up
	ip -n "$LAB_NS_GW" link set ext0 up
	if [ "$LAB_NAT" = yes ]; then
		# Only the gateway is reachable through the NAT: 198.51.100.0/24
		# is reachable from the client through the tunnel alone.
		ip -n "$LAB_NS_CLI" route add 203.0.113.0/24 via 192.0.2.1
	fi

	ip -n "$LAB_NS_GW" link add int0 type veth peer name eth0 netns "$LAB_NS_HOST"
	ip -n "$LAB_NS_GW" addr add 198.51.100.1/24 dev int0
	ip -n "$LAB_NS_GW" link set int0 up
	ip netns exec "$LAB_NS_GW" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$LAB_NS_HOST" addr add 198.51.100.10/24 dev eth0
	ip -n "$LAB_NS_HOST" link set eth0 up
	ip -n "$LAB_NS_HOST" route add default via 198.51.100.1
}

# Without NAT in nftables (the user-mode-linux kernel of tests/kernel has no
# nft_chain_nat): a stateless NAT with tc (act_nat) that rewrites the
# client's address to the router's on wan0, both ways. Ports are kept,
# which NAT detection (address and port) still sees as a NAT.
_lab_nat_tc() {
	local ns=$LAB_NS_NAT
	modprobe -a sch_ingress cls_matchall act_nat 2>/dev/null
	tc -n "$ns" qdisc add dev wan0 clsact &&
		tc -n "$ns" filter add dev wan0 egress matchall action nat egress 192.0.2.2/32 203.0.113.2 &&
		tc -n "$ns" filter add dev wan0 ingress matchall action nat ingress 203.0.113.2/32 192.0.2.2 ||
		lab_die "no NAT in the NAT namespace: neither nftables ($(head -n 1 "$LAB_RUN/nft.log")) nor tc act_nat"
	lab_log "NAT with tc act_nat (stateless): nftables has no NAT here"
}

# Global defaults of the template variables; a scenario may change them and
# KEEL_LAB_<NAME> in the environment overrides both.
lab_vars_defaults() {
	LAB_VAR=(
		[GW_ID]=gw.keel.test
		[ENCAP]=yes
		[CLIENT_ID]=alice@keel.test
		[POOL]=100.64.0.0/24
		[DNS]=198.51.100.53
		[REMOTE_TS]=198.51.100.0/24
		[IKE_PROPOSALS]=default
		[ESP_PROPOSALS]=default
		[IKE_REKEY_TIME]=4h
		[IKE_REAUTH_TIME]=0s
		[IKE_OVER_TIME]=10m
		[IKE_RAND_TIME]=0s
		[CHILD_REKEY_TIME]=1h
		[CHILD_LIFE_TIME]=66m
		[CHILD_RAND_TIME]=0s
		[DPD_DELAY]=0s
		[PSK]=unset
		[XAUTH_USER]=alice
		[XAUTH_PASSWORD]=unset
		[EAP_USER]=alice
		[EAP_PASSWORD]=unset
		[EAP_METHOD]=mschapv2
		[GW_CERT]=gw-rsa.pem
		[GW_KEY]=gw-rsa.key
		[CA_CERT]=ca.pem
		[LOG_DEFAULT]=1
		[LOG_IKE]=1
		[LOG_CHD]=1
		[LOG_CFG]=1
		[LOG_KNL]=1
		[LOG_ENC]=1
		[LOG_NET]=1
		[LOG_LIB]=1
	)
}

# lab_scenario NAME: sets LAB_SCENARIO, LAB_SC_DIR and the variables; the
# scenario file may set LAB_VAR[...], LAB_PLUGINS_EXTRA, LAB_NEEDS_PKI,
# LAB_AGGRESSIVE_PSK, LAB_CONN, LAB_CHILD, LAB_TEMPLATES (the scenario
# directory whose gateway.conf and initiator.conf it uses) and LAB_PROOF
# (what tests/interop/lab-scenario.sh checks: tunnel, or eap-only).
lab_scenario() {
	LAB_SCENARIO=$1
	LAB_SC_DIR=$LAB_TOP/scenarios/$1
	[ -f "$LAB_SC_DIR/scenario" ] || lab_die "no scenario '$1' (see $LAB_TOP/scenarios)"
	lab_vars_defaults
	LAB_PLUGINS_EXTRA=""
	LAB_NEEDS_PKI=no
	LAB_AGGRESSIVE_PSK=no
	LAB_CONN=$1
	LAB_CHILD=net
	LAB_TEMPLATES=$1
	LAB_PROOF=tunnel
	# shellcheck source=/dev/null
	. "$LAB_SC_DIR/scenario"
	LAB_TEMPLATES=$LAB_TOP/scenarios/$LAB_TEMPLATES
	local k v
	for k in "${!LAB_VAR[@]}"; do
		v=KEEL_LAB_$k
		[ -n "${!v:-}" ] && LAB_VAR[$k]=${!v}
	done
	LAB_VAR[GW_ADDR]=$LAB_GW_ADDR
	LAB_VAR[CLI_ADDR]=$LAB_CLI_ADDR
	[ -n "${LAB_RUN:-}" ] && echo "$1" >"$LAB_RUN/scenario"
	return 0
}

# lab_render TEMPLATE OUT: replaces each @NAME@ by LAB_VAR[NAME].
lab_render() {
	local text out="" name
	text=$(cat "$1") || lab_die "cannot read $1"
	while [[ $text =~ @([A-Z0-9_]+)@ ]]; do
		name=${BASH_REMATCH[1]}
		[ -n "${LAB_VAR[$name]+set}" ] || lab_die "$1: unknown variable @$name@"
		out+=${text%%"@$name@"*}${LAB_VAR[$name]}
		text=${text#*"@$name@"}
	done
	printf '%s%s\n' "$out" "$text" >"$2"
}

# lab_strongswan_conf OUT ROLE: strongswan.conf for ROLE's charon and its
# swanctl, with only the plugins used. The reference initiator retransmits
# after 1 s (its IKEv1 Mode Config request can overtake the last Aggressive
# Mode message, which the gateway then drops); the gateway keeps charon's 4 s.
lab_strongswan_conf() {
	local out=$1 role=$2 base plugins
	base="random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey"
	base+=" curve25519 aes sha1 sha2 md5 hmac gcm chapoly kdf"
	# KEEL_LAB_KERNEL_ESP=1: ESP in the kernel (kernel-netlink alone), for a
	# kernel that has it (the user-mode-linux guest of tests/kernel)
	if [ "${KEEL_LAB_KERNEL_ESP:-}" = 1 ]; then
		plugins="$base kernel-netlink socket-default vici attr"
	else
		plugins="$base kernel-libipsec kernel-netlink socket-default vici attr"
	fi
	plugins+=" eap-identity eap-mschapv2 xauth-generic unity"
	LAB_VAR[PLUGINS]="$plugins ${LAB_PLUGINS_EXTRA:-}"
	LAB_VAR[SWANCTL_PLUGINS]="$base"
	LAB_VAR[AGGRESSIVE_PSK]=${LAB_AGGRESSIVE_PSK:-no}
	if [ "$role" = gw ]; then
		LAB_VAR[RETRANSMIT_TIMEOUT]=${KEEL_LAB_GW_RETRANSMIT_TIMEOUT:-4.0}
	else
		LAB_VAR[RETRANSMIT_TIMEOUT]=1.0
	fi
	lab_render "$LAB_TOP/strongswan.conf.in" "$out"
}

# lab_pki DIR: a test PKI made now (keys live only in DIR):
#   ca            root CA, RSA 3072
#   int           intermediate CA, ECDSA P-256, issued by ca
#   gw-rsa        gateway, RSA 3072, by ca;   SAN gw.keel.test, 192.0.2.1
#   gw-ecdsa      gateway, ECDSA P-256, by int; same SANs
#   alice         client, RSA 3072, by ca;    SAN alice@keel.test
#   gw-expired    gw-rsa's key, by ca, expired a year ago
#   unknown-ca    a CA nobody trusts (ECDSA P-256)
#   gw-unknown    gw-rsa's key, by unknown-ca, same SANs as gw-rsa
#   gw-wrongid    gw-rsa's key, by ca, SAN wrong.keel.test, 192.0.2.99
lab_pki() {
	local d=$1 pkiconf
	mkdir -p "$d"
	pkiconf=$d/strongswan.conf
	printf 'pki {\n\tload = random pem pkcs1 pkcs8 x509 openssl sha1 sha2 gmp\n}\n' >"$pkiconf"
	_pki() { STRONGSWAN_CONF=$pkiconf pki "$@"; }
	local dn="C=XX, O=Keel Lab" k
	# The RSA keys take most of the time: make them side by side.
	for k in ca gw-rsa alice; do
		_pki --gen --type rsa --size 3072 --outform pem >"$d/$k.key" &
	done
	for k in int gw-ecdsa unknown-ca; do
		_pki --gen --type ecdsa --size 256 --outform pem >"$d/$k.key" || lab_die "pki --gen $k"
	done
	wait || lab_die "pki --gen (RSA)"
	for k in ca gw-rsa alice; do
		[ -s "$d/$k.key" ] || lab_die "pki --gen $k"
	done
	_pki --self --ca --lifetime 3650 --in "$d/ca.key" --type rsa \
		--dn "$dn, CN=Keel Lab Root CA" --outform pem >"$d/ca.pem" &&
		_pki --pub --in "$d/int.key" --type ecdsa |
		_pki --issue --cacert "$d/ca.pem" --cakey "$d/ca.key" --ca --pathlen 0 \
			--lifetime 1825 --dn "$dn, CN=Keel Lab Intermediate CA" --outform pem >"$d/int.pem" &&
		_pki --pub --in "$d/gw-rsa.key" --type rsa |
		_pki --issue --cacert "$d/ca.pem" --cakey "$d/ca.key" --lifetime 730 \
			--dn "$dn, CN=gw.keel.test" --san gw.keel.test --san 192.0.2.1 \
			--flag serverAuth --outform pem >"$d/gw-rsa.pem" &&
		_pki --pub --in "$d/gw-ecdsa.key" --type ecdsa |
		_pki --issue --cacert "$d/int.pem" --cakey "$d/int.key" --lifetime 730 \
			--dn "$dn, CN=gw.keel.test" --san gw.keel.test --san 192.0.2.1 \
			--flag serverAuth --outform pem >"$d/gw-ecdsa.pem" &&
		_pki --pub --in "$d/alice.key" --type rsa |
		_pki --issue --cacert "$d/ca.pem" --cakey "$d/ca.key" --lifetime 730 \
			--dn "$dn, CN=alice@keel.test" --san alice@keel.test \
			--flag clientAuth --outform pem >"$d/alice.pem" &&
		_pki --pub --in "$d/gw-rsa.key" --type rsa |
		_pki --issue --cacert "$d/ca.pem" --cakey "$d/ca.key" \
			--not-before "$(date -u -d '-2 years' '+%d.%m.%y %T')" \
			--not-after "$(date -u -d '-1 year' '+%d.%m.%y %T')" \
			--dn "$dn, CN=gw.keel.test" --san gw.keel.test --san 192.0.2.1 \
			--flag serverAuth --outform pem >"$d/gw-expired.pem" &&
		_pki --self --ca --lifetime 3650 --in "$d/unknown-ca.key" --type ecdsa \
			--dn "C=XX, O=Elsewhere, CN=Unknown CA" --outform pem >"$d/unknown-ca.pem" &&
		_pki --pub --in "$d/gw-rsa.key" --type rsa |
		_pki --issue --cacert "$d/unknown-ca.pem" --cakey "$d/unknown-ca.key" --lifetime 730 \
			--dn "$dn, CN=gw.keel.test" --san gw.keel.test --san 192.0.2.1 \
			--flag serverAuth --outform pem >"$d/gw-unknown.pem" &&
		_pki --pub --in "$d/gw-rsa.key" --type rsa |
		_pki --issue --cacert "$d/ca.pem" --cakey "$d/ca.key" --lifetime 730 \
			--dn "$dn, CN=wrong.keel.test" --san wrong.keel.test --san 192.0.2.99 \
			--flag serverAuth --outform pem >"$d/gw-wrongid.pem" ||
		lab_die "generating the test PKI in $d failed"
	chmod 600 "$d"/*.key
	unset -f _pki
}

# lab_charon ROLE NS: starts charon in NS with $LAB_RUN/ROLE/strongswan.conf,
# its own /run (tmpfs: charon.pid, charon.vici), log in $LAB_RUN/ROLE/charon.log.
lab_charon() {
	local role=$1 ns=$2 dir=$LAB_RUN/$1 pid
	# ip netns exec gives the command a private mount namespace.
	ip netns exec "$ns" bash -c 'mount -t tmpfs -o mode=755 tmpfs /run &&
		STRONGSWAN_CONF="$1" exec "$2"' lab-charon "$dir/strongswan.conf" "$LAB_CHARON" \
		>"$dir/charon.log" 2>&1 </dev/null &
	pid=$!
	LAB_PID[$role]=$pid
	echo "$pid" >"$dir/charon.pid"
	_lab_vici_up() {
		kill -0 "$1" 2>/dev/null || return 2
		[ -S "/proc/$1/root/run/charon.vici" ]
	}
	if ! lab_wait 20 _lab_vici_up "$pid"; then
		tail -n 20 "$dir/charon.log" >&2
		lab_die "charon ($role) did not open its vici socket"
	fi
}

# lab_swanctl ROLE ARGS...: swanctl in ROLE's daemon's namespaces.
lab_swanctl() {
	local role=$1
	shift
	nsenter -t "${LAB_PID[$role]}" -m -n \
		env STRONGSWAN_CONF="$LAB_RUN/$role/strongswan.conf" \
		SWANCTL_DIR="$LAB_RUN/$role/swanctl" swanctl "$@"
}

# lab_daemon ROLE NS TEMPLATE: renders TEMPLATE as ROLE's swanctl.conf,
# puts the credentials it may need beside it, starts charon and loads it all.
lab_daemon() {
	local role=$1 ns=$2 tmpl=$3 dir=$LAB_RUN/$1 sub
	mkdir -p "$dir/swanctl"
	for sub in x509 x509ca x509aa x509ac x509crl x509ocsp pubkey private \
		rsa ecdsa bliss pkcs8 pkcs12 conf.d; do
		mkdir -p "$dir/swanctl/$sub"
	done
	chmod 700 "$dir/swanctl/private"
	if [ "$LAB_NEEDS_PKI" = yes ]; then
		if [ ! -f "$LAB_RUN/pki/ca.pem" ]; then
			if [ -n "${KEEL_LAB_PKI:-}" ]; then
				cp -r "$KEEL_LAB_PKI" "$LAB_RUN/pki"
			else
				lab_pki "$LAB_RUN/pki"
			fi
		fi
		cp "$LAB_RUN/pki/${LAB_VAR[CA_CERT]}" "$dir/swanctl/x509ca/"
		if [ "$role" = gw ]; then
			cp "$LAB_RUN/pki/int.pem" "$dir/swanctl/x509ca/"
			cp "$LAB_RUN/pki/${LAB_VAR[GW_CERT]}" "$dir/swanctl/x509/"
			cp "$LAB_RUN/pki/${LAB_VAR[GW_KEY]}" "$dir/swanctl/private/"
		else
			cp "$LAB_RUN/pki/alice.pem" "$dir/swanctl/x509/"
			cp "$LAB_RUN/pki/alice.key" "$dir/swanctl/private/"
		fi
	fi
	lab_strongswan_conf "$dir/strongswan.conf" "$role"
	lab_render "$tmpl" "$dir/swanctl/swanctl.conf"
	lab_charon "$role" "$ns"
	lab_swanctl "$role" --load-all --noprompt --file "$dir/swanctl/swanctl.conf" \
		>"$dir/load.log" 2>&1 || {
		cat "$dir/load.log" >&2
		lab_die "swanctl --load-all ($role) failed"
	}
	if grep -q 'failed\|error\|invalid' "$dir/load.log"; then
		cat "$dir/load.log" >&2
		lab_die "swanctl --load-all ($role) reported errors"
	fi
}

lab_gateway() {
	lab_daemon gw "$LAB_NS_GW" "$LAB_TEMPLATES/gateway.conf"
}

# A strongSwan initiator in the client namespace: the reference client for
# proving the lab (never a stand-in for Keel in Keel's own tests).
lab_initiator() {
	lab_daemon cli "$LAB_NS_CLI" "$LAB_TEMPLATES/initiator.conf"
}

# lab_initiate [SECONDS]: the initiator brings up $LAB_CHILD of $LAB_CONN.
lab_initiate() {
	local t=${1:-30}
	timeout $((t + 5)) nsenter -t "${LAB_PID[cli]}" -m -n \
		env STRONGSWAN_CONF="$LAB_RUN/cli/strongswan.conf" \
		swanctl --initiate --ike "$LAB_CONN" --child "$LAB_CHILD" --timeout "$t" \
		>"$LAB_RUN/cli/initiate.log" 2>&1
}

# The client's virtual IP (100.64.0.x) once it is installed, else fails.
lab_client_vip() {
	ip -n "$LAB_NS_CLI" -4 -o addr show 2>/dev/null |
		awk '!found { split($4, a, "/"); if (a[1] ~ /^100\.64\.0\./) { print a[1]; found = 1 } }' |
		grep .
}

# True when ROLE's daemon lists an ESTABLISHED IKE SA and an INSTALLED child.
lab_sa_up() {
	local out
	out=$(lab_swanctl "$1" --list-sas 2>/dev/null) || return 1
	grep -q ESTABLISHED <<<"$out" && grep -q INSTALLED <<<"$out"
}

# lab_strongswan_up SCENARIO [nat]: a new lab (lab_init [nat]; the KEEL_LAB_*
# settings apply) with SCENARIO's gateway and the strongSwan initiator, the
# tunnel up: the client's virtual IP in LAB_CLIENT_VIP, the gateway's CHILD
# SA installed; with KEEL_LAB_KERNEL_ESP=1, no kernel-libipsec at the
# gateway. Otherwise returns 1 with the reason in LAB_ERROR.
lab_strongswan_up() {
	LAB_ERROR=''
	LAB_CLIENT_VIP=''
	lab_init "${2:-}"
	lab_scenario "$1"
	lab_net_up
	lab_gateway
	if [ "${KEEL_LAB_KERNEL_ESP:-}" = 1 ] && grep -q kernel-libipsec "$LAB_RUN/gw/strongswan.conf"; then
		LAB_ERROR="kernel-libipsec is loaded"
		return 1
	fi
	lab_initiator
	lab_initiate 30 || { LAB_ERROR="swanctl --initiate failed"; return 1; }
	lab_wait 10 lab_client_vip >/dev/null || {
		LAB_ERROR="the client got no 100.64.0.x virtual IP"
		return 1
	}
	LAB_CLIENT_VIP=$(lab_client_vip)
	lab_wait 10 lab_sa_up gw || { LAB_ERROR="the gateway reports no installed CHILD_SA"; return 1; }
}

# lab_xfrm_sas NS PROTO: the SAs of PROTO (esp, ah) in NS's kernel, read from
# one `ip -s xfrm state list` by bash alone (process starts are slow in the
# kernel tests' guest). Sets
#   LAB_XFRM_STATES  the listing itself, for messages
#   LAB_XFRM_SAS     one "SPI REQID PACKETS ENCAP" per SA of PROTO, in the
#                    listing's order: SPI and REQID in hex as ip prints them
#                    (0x...), PACKETS counted so far ("-" if not shown),
#                    ENCAP "espinudp:SPORT:DPORT" or "-"
#   LAB_XFRM_OTHER   how many SAs of another protocol there are
# Returns 1 when ip fails.
lab_xfrm_sas() {
	local ns=$1 proto=$2 line cur=-1 spi reqid pk encap
	LAB_XFRM_SAS=() LAB_XFRM_OTHER=0
	LAB_XFRM_STATES=$(ip -n "$ns" -s xfrm state list) || return 1
	while IFS= read -r line; do
		# "proto esp spi 0xc402b037(3288510519) reqid 1261600769(0x4b328001) mode tunnel"
		if [[ $line =~ ^[[:space:]]*proto\ ([^ ]+)\ spi\ (0x[0-9a-f]+).*\ reqid\ [0-9]+\ ?\((0x[0-9a-f]+)\) ]]; then
			cur=-1
			if [ "${BASH_REMATCH[1]}" = "$proto" ]; then
				cur=${#LAB_XFRM_SAS[@]}
				LAB_XFRM_SAS+=("${BASH_REMATCH[2]} ${BASH_REMATCH[3]} - -")
			else
				LAB_XFRM_OTHER=$((LAB_XFRM_OTHER + 1))
			fi
		elif [ "$cur" -lt 0 ]; then
			continue
		elif [[ $line =~ ^[[:space:]]*encap\ type\ espinudp\ sport\ ([0-9]+)\ dport\ ([0-9]+) ]]; then
			read -r spi reqid pk encap <<<"${LAB_XFRM_SAS[cur]}"
			LAB_XFRM_SAS[cur]="$spi $reqid $pk espinudp:${BASH_REMATCH[1]}:${BASH_REMATCH[2]}"
		# "lifetime current:" is followed by "NNN(bytes), MMM(packets)"
		elif [[ $line =~ \ ([0-9]+)\(packets\) ]]; then
			read -r spi reqid pk encap <<<"${LAB_XFRM_SAS[cur]}"
			LAB_XFRM_SAS[cur]="$spi $reqid ${BASH_REMATCH[1]} $encap"
		fi
	done <<<"$LAB_XFRM_STATES"
}

_lab_kill_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || return 0
	if ! lab_wait 5 eval "! kill -0 $pid 2>/dev/null"; then
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || true
	return 0
}

# Also the EXIT trap; safe under the caller's set -e.
lab_down() {
	local rc=$? role ns errexit=
	trap - EXIT INT TERM
	[ -n "${LAB_RUN:-}" ] || return "$rc"
	[[ $- == *e* ]] && errexit=yes
	set +e
	for role in "${!LAB_PID[@]}"; do
		_lab_kill_pid "${LAB_PID[$role]}"
	done
	LAB_PID=()
	# Anything else still running inside our namespaces was started by this
	# run (e.g. a test's client): stop it before deleting the namespace.
	if [ -f "$LAB_RUN/namespaces" ]; then
		while read -r ns; do
			_lab_ns_kill "$ns"
			ip netns del "$ns" 2>/dev/null
		done <"$LAB_RUN/namespaces"
	fi
	if [ -n "${KEEL_LAB_KEEP:-}" ]; then
		lab_log "kept run directory $LAB_RUN"
	else
		rm -rf "$LAB_RUN"
	fi
	LAB_RUN=
	[ -n "$errexit" ] && set -e
	return "$rc"
}

_lab_ns_kill() {
	local pid
	for pid in $(ip netns pids "$1" 2>/dev/null); do
		_lab_kill_pid "$pid"
	done
}

# Namespaces named keel-<pid>-<role> whose owner pid is gone belong to a run
# that crashed: stop what runs in them and delete them.
lab_clean_stale() {
	local ns owner
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
		[[ $ns =~ ^$LAB_NS_PREFIX-([0-9]+)-(cli|gw|host|nat)$ ]] || continue
		owner=${BASH_REMATCH[1]}
		kill -0 "$owner" 2>/dev/null && continue
		lab_log "removing stale namespace $ns"
		_lab_ns_kill "$ns"
		ip netns del "$ns" 2>/dev/null || true
	done
	return 0
}
