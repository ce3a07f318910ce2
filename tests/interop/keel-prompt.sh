#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# keel connect on a terminal asks for the secrets no secrets file gives, and
# a person answers (tests/interop/pty-answer.py plays the person on a
# pseudo-terminal, answering only once echo is off):
#   ikev2-cert            an encrypted private key, no secrets file: the key's
#                         passphrase is asked for; tunnel up, ping, clean exit;
#                         a wrong answer is refused with its own sentence
#   ikev1-aggr-psk-xauth  no secrets file: the group PSK, then the XAUTH
#                         password; tunnel up, ping; with a file that gives
#                         the PSK alone only the XAUTH password is asked, and a
#                         wrong one is refused by the gateway
#   ikev2-eap             no secrets file: the EAP password; Ctrl-C at the
#                         prompt ends keel there (exit 1)
# No answer ever shows in the terminal's output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
# shellcheck source=keel-lib.sh
. "$here/keel-lib.sh"
KEEL_TEST=keel-prompt
keel_require ping openssl python3

# answer NAME TEXT: a file holding one answer (the helper reads it).
answer() {
	(umask 077 && printf '%s\n' "$2" >"$LAB_RUN/answer-$1")
	echo "$LAB_RUN/answer-$1"
}

# prompt_start [--secrets FILE] PROMPT=FILE... : keel connect on a terminal.
prompt_start() {
	local secrets=()
	if [ "${1:-}" = --secrets ]; then
		secrets=(--secrets "$2")
		shift 2
	fi
	: >"$KEEL_LOG"
	ip netns exec "$LAB_NS_CLI" python3 "$here/pty-answer.py" "$KEEL_LOG" "$@" -- \
		"$KEEL" connect "$KEEL_PROFILE" "${secrets[@]}" --resolv-conf "$KEEL_RESOLV" -vv \
		</dev/null 2>"$LAB_RUN/pty-answer.err" &
	# shellcheck disable=SC2034 # keel-lib.sh's keel_wait_* and keel_stop use it
	KEEL_PID=$!
}

# up_and_down: tunnel up, a ping through it, SIGINT, exit 0.
up_and_down() {
	keel_wait_up 30
	ip netns exec "$LAB_NS_CLI" ping -q -n -c 3 -i 0.2 -W 5 "$LAB_HOST_ADDR" >"$LAB_RUN/ping.log" 2>&1 ||
		keel_fail "no ping reply through the tunnel: $(cat "$LAB_RUN/ping.log")"
	keel_stop 10
	[ "$KEEL_RC" = 0 ] || keel_fail "keel exited with $KEEL_RC after SIGINT, not 0 ($(cat "$LAB_RUN/pty-answer.err"))"
}

# asked LABEL...: the terminal showed each prompt "LABEL: ", once.
asked() {
	local label n
	for label in "$@"; do
		n=$(grep -o "$label: " "$KEEL_LOG" | wc -l)
		[ "$n" = 1 ] || keel_fail "the prompt '$label: ' showed $n times, not once"
	done
}

# An encrypted key and no secrets file.
(
	keel_lab ikev2-cert
	pass=keel-lab-prompted-passphrase-$$
	openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$LAB_RUN/pki/alice.key" \
		-out "$LAB_RUN/alice-encrypted.key" -passout "pass:$pass" 2>/dev/null ||
		keel_fail "cannot encrypt the key"
	keel_profile_auth cert "[auth]" "certificate = $LAB_RUN/pki/alice.pem" \
		"private-key = $LAB_RUN/alice-encrypted.key" "ca = $LAB_RUN/pki/ca.pem"
	prompt_start "Passphrase of the private key=$(answer pass "$pass")"
	up_and_down
	asked "Passphrase of the private key"
	keel_no_secret "$pass"

	# a secrets file without key-passphrase: asked too; a wrong answer
	(umask 077 && printf '[secrets]\n' >"$KEEL_SECRETS")
	before=$(keel_net_state)
	prompt_start --secrets "$KEEL_SECRETS" "Passphrase of the private key=$(answer wrong "wrong-$pass")"
	keel_wait_exit 30
	[ "$KEEL_RC" = 2 ] || keel_fail "wrong passphrase: keel exited with $KEEL_RC, not 2"
	grep -q "^keel: .*passphrase is wrong" "$KEEL_LOG" ||
		keel_fail "wrong passphrase: no line 'keel: ...passphrase is wrong'"
	[ "$before" = "$(keel_net_state)" ] || keel_fail "wrong passphrase: the client namespace changed"
	keel_no_secret "wrong-$pass"
	echo "cert: asked for the key's passphrase, connected; a wrong one: $(grep -m 1 '^keel: ' "$KEEL_LOG")"
) || exit 1

# XAUTH: the group PSK and the password, then the password alone.
(
	keel_lab ikev1-aggr-psk-xauth
	# the group name keyid:NAME as Keel's @#hex key ID
	id=${LAB_VAR[CLIENT_ID]}
	KEEL_LOCAL_ID="@#$(printf '%s' "${id#keyid:}" | od -An -tx1 | tr -d ' \n')" \
		keel_profile_auth xauth-psk "ike = 1" "mode = aggressive" "[auth]" \
		"username = ${LAB_VAR[XAUTH_USER]}"
	prompt_start "Pre-shared key=$(answer psk "${LAB_VAR[PSK]}")" \
		"XAUTH password=$(answer xauth "${LAB_VAR[XAUTH_PASSWORD]}")"
	up_and_down
	asked "Pre-shared key" "XAUTH password"
	keel_no_secret "${LAB_VAR[PSK]}"
	keel_no_secret "${LAB_VAR[XAUTH_PASSWORD]}"

	(umask 077 && printf '[secrets]\npsk = %s\n' "${LAB_VAR[PSK]}" >"$KEEL_SECRETS")
	wrong=wrong-xauth-password-$$
	prompt_start --secrets "$KEEL_SECRETS" "XAUTH password=$(answer wrong "$wrong")"
	keel_wait_exit 40
	[ "$KEEL_RC" = 1 ] || keel_fail "wrong XAUTH password: keel exited with $KEEL_RC, not 1"
	grep -q "Pre-shared key: " "$KEEL_LOG" && keel_fail "asked for the PSK the secrets file gives"
	asked "XAUTH password"
	grep -q '^keel: .*\(XAUTH\|user name or password\)' "$KEEL_LOG" ||
		keel_fail "wrong XAUTH password: no line 'keel: ...XAUTH/user name or password'"
	grep -q '^tunnel up' "$KEEL_LOG" && keel_fail "wrong XAUTH password: the tunnel came up"
	keel_no_secret "$wrong"
	echo "xauth: asked for the PSK and the password, connected; a wrong password: $(grep -m 1 '^keel: ' "$KEEL_LOG")"
) || exit 1

# EAP: the password.
(
	keel_lab ikev2-eap
	keel_profile_auth eap "[auth]" "username = ${LAB_VAR[EAP_USER]}" "ca = $LAB_RUN/pki/ca.pem"
	prompt_start "EAP password=$(answer eap "${LAB_VAR[EAP_PASSWORD]}")"
	up_and_down
	asked "EAP password"
	keel_no_secret "${LAB_VAR[EAP_PASSWORD]}"
	echo "eap: asked for the password, connected"

	# Ctrl-C at the prompt: keel stops there, says so, changes nothing
	before=$(keel_net_state)
	prompt_start
	_asking() { grep -q "EAP password: " "$KEEL_LOG"; }
	lab_wait 20 _asking || keel_fail "no EAP password prompt"
	keel_stop 10
	[ "$KEEL_RC" = 1 ] || keel_fail "Ctrl-C at the prompt: keel exited with $KEEL_RC, not 1"
	grep -q '^keel: interrupted' "$KEEL_LOG" || keel_fail "Ctrl-C at the prompt: no 'keel: interrupted'"
	[ "$before" = "$(keel_net_state)" ] || keel_fail "Ctrl-C at the prompt: the client namespace changed"
	echo "eap: Ctrl-C at the prompt: $(grep -m 1 '^keel: ' "$KEEL_LOG")"
) || exit 1

echo "PASS: $KEEL_TEST"
exit 0
