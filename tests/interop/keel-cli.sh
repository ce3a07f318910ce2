#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The keel command's surface, without root or a gateway: --version, --help,
# help connect, usage errors (exit 2), profile and secrets file errors as
# "file:line: key 'key': why" (exit 2), a secret in a profile never echoed,
# and no PSK at all when stdin is not a terminal.
set -u
if [ -z "${KEEL:-}" ] || [ ! -x "$KEEL" ]; then
	echo "SKIP: \$KEEL does not name the keel binary (run through meson test)" >&2
	exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/keel-cli.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1

fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# expect STATUS PATTERN ARGS...: keel ARGS exits STATUS, its output matches PATTERN.
expect() {
	local want=$1 pattern=$2 rc
	shift 2
	"$KEEL" "$@" >out 2>&1 </dev/null
	rc=$?
	[ "$rc" = "$want" ] || fail "keel $*: exit $rc, not $want: $(head -n 3 out)"
	grep -qE -- "$pattern" out || fail "keel $*: no '$pattern' in: $(head -n 5 out)"
}

expect 0 '^keel [0-9]+\.[0-9]+\.[0-9]+' --version
expect 0 'keel connect PROFILE' --help
expect 0 'keel connect PROFILE' help
expect 0 '--secrets FILE' help connect
expect 0 '--resolv-conf FILE' connect --help
expect 2 'Usage: keel connect' # no command
expect 2 "no command 'frobnicate'" frobnicate
expect 2 'which profile' connect
expect 2 "unknown option '--frob'" connect office.conf --frob
expect 2 '--dpd: expected seconds' connect office.conf --dpd soon
expect 2 '--datapath: expected auto, xfrm or tun' connect office.conf --datapath kernel
expect 2 'one profile only' connect a.conf b.conf
expect 2 'missing.conf' connect missing.conf

cat >broken.conf <<'PROFILE'
[connection]
gateway = 192.0.2.1
ike = 3
auth = psk
PROFILE
expect 2 "^broken.conf:3: key 'ike': " connect broken.conf

cat >secret.conf <<'PROFILE'
[connection]
gateway = 192.0.2.1
auth = psk
psk = do-not-show-this-psk
PROFILE
expect 2 "^secret.conf:4: key 'psk': secrets do not belong in a profile" connect secret.conf
grep -q 'do-not-show-this-psk' out && fail "the error shows the secret from the profile"

cat >office.conf <<'PROFILE'
[connection]
gateway = 192.0.2.1
auth = psk
local-id = alice@keel.test
PROFILE
printf '[secrets]\npsk = do-not-show-this-either\n' >open.secrets
chmod 644 open.secrets
expect 2 'chmod 600' connect office.conf --secrets open.secrets
grep -q 'do-not-show-this-either' out && fail "the error shows the secret from the secrets file"
printf '[secrets]\npassword = x\n' >nopsk.secrets
chmod 600 nopsk.secrets
expect 2 "no key 'psk'" connect office.conf --secrets nopsk.secrets
expect 2 'no pre-shared key: .*--secrets FILE' connect office.conf

if [ "$fails" -gt 0 ]; then
	echo "FAIL: keel-cli: $fails checks failed" >&2
	exit 1
fi
echo "PASS: keel-cli"
exit 0
