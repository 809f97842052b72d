#!/bin/bash
# The shell swtpm fixture: starts a private swtpm, reads the RSA and ECC EK
# certificates with tpm2-tools and verifies them against the fixture's CA
# with openssl, and checks that another fixture's CA rejects them; then
# tpm2-abrmd in front of it, on a private session bus, serving clients
# one after another.  TAP.
set -u

# a private session bus for tpm2-abrmd, whatever bus the caller has
if [ -z "${KL_TEST_PRIVATE_BUS:-}" ] && command -v dbus-run-session >/dev/null; then
	KL_TEST_PRIVATE_BUS=1 exec dbus-run-session -- bash "$0" "$@"
fi

# shellcheck source=tests/lib/swtpm-fixture.sh
. "$(dirname "$0")/../lib/swtpm-fixture.sh"

echo "1..8"
if ! kl_swtpm_available || ! command -v tpm2_nvread >/dev/null; then
	for n in 1 2 3 4 5 6 7 8; do
		echo "ok $n # SKIP swtpm or tpm2-tools not installed"
	done
	exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keylime-test-XXXXXX")
OTHER_PID=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	kl_swtpm_stop
	if [ -n "$OTHER_PID" ]; then
		kill -TERM "$OTHER_PID" 2>/dev/null
		wait "$OTHER_PID" 2>/dev/null
	fi
	if [ -n "${KL_TEST_KEEP:-}" ]; then
		echo "# kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

n=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	echo "not ok $n - $1"
	failed=1
}
failed=0

# A second fixture first, only for its CA; its process is stopped at exit.
mkdir -p "$WORK/b" "$WORK/a"
start=$(date +%s%N)
if kl_swtpm_start "$WORK/b"; then
	OTHER_CA=$KL_SWTPM_CA_FILE
	OTHER_PID=$KL_SWTPM_PID
	OTHER_PORT=$KL_SWTPM_PORT
	unset KL_SWTPM_PID
	echo "# fixture start (swtpm_setup + swtpm): $((($(date +%s%N) - start) / 1000000)) ms"
else
	OTHER_CA=
fi

if kl_swtpm_start "$WORK/a" && [ -n "$OTHER_CA" ] && [ "$KL_SWTPM_PORT" != "$OTHER_PORT" ]; then
	ok "two fixtures started on ports $OTHER_PORT and $KL_SWTPM_PORT"
else
	not_ok "two fixtures started"
	exit 1
fi

if tpm2_nvread 0x1c00002 -C 0x1c00002 -o "$WORK/ek-rsa.der" 2>"$WORK/nvread.log" &&
	openssl x509 -inform DER -in "$WORK/ek-rsa.der" -out "$WORK/ek-rsa.pem" 2>>"$WORK/nvread.log"; then
	ok "tpm2_nvread reads the RSA EK certificate from 0x1c00002"
else
	sed 's/^/# /' "$WORK/nvread.log"
	not_ok "tpm2_nvread reads the RSA EK certificate from 0x1c00002"
fi

if tpm2_nvread 0x1c00016 -C 0x1c00016 -o "$WORK/ek-ecc.der" 2>>"$WORK/nvread.log" &&
	openssl x509 -inform DER -in "$WORK/ek-ecc.der" -out "$WORK/ek-ecc.pem" 2>>"$WORK/nvread.log" &&
	openssl x509 -in "$WORK/ek-ecc.pem" -noout -text | grep -q 'NIST CURVE: P-384'; then
	ok "tpm2_nvread reads the ECC P-384 EK certificate from 0x1c00016"
else
	sed 's/^/# /' "$WORK/nvread.log"
	not_ok "tpm2_nvread reads the ECC P-384 EK certificate from 0x1c00016"
fi

if openssl verify -CAfile "$KL_SWTPM_CA_FILE" "$WORK/ek-rsa.pem" "$WORK/ek-ecc.pem" >"$WORK/verify.log" 2>&1; then
	ok "openssl verify: EK certificates chain to the fixture's CA"
else
	sed 's/^/# /' "$WORK/verify.log"
	not_ok "openssl verify: EK certificates chain to the fixture's CA"
fi

if ! openssl verify -CAfile "$OTHER_CA" "$WORK/ek-rsa.pem" >"$WORK/verify-other.log" 2>&1; then
	ok "openssl verify: another fixture's CA rejects the EK certificate"
else
	not_ok "openssl verify: another fixture's CA rejects the EK certificate"
fi

# tpm2-abrmd: clients one after another, while abrmd keeps the one swtpm
# connection; a direct swtpm client would be refused meanwhile.
if [ -z "${KL_TEST_PRIVATE_BUS:-}" ] || ! kl_abrmd_available; then
	n=$((n + 2))
	echo "ok $((n - 1)) # SKIP tpm2-abrmd or dbus-run-session not installed"
	echo "ok $n # SKIP tpm2-abrmd or dbus-run-session not installed"
elif ! kl_abrmd_start; then
	not_ok "kl_abrmd_start starts tpm2-abrmd"
	not_ok "kl_abrmd_stop stops and reaps tpm2-abrmd"
else
	zero=0000000000000000000000000000000000000000000000000000000000000000
	one=0000000000000000000000000000000000000000000000000000000000000001
	# PCR 23 from zero: SHA-256(32 zero bytes || 00..01)
	# shellcheck disable=SC2059 # the format is the bytes
	expected=$(printf "$(printf '%s%s' "$zero" "$one" | sed 's/../\\x&/g')" | sha256sum | cut -d' ' -f1)
	if [ "$TPM2TOOLS_TCTI" = "$KL_ABRMD_TCTI" ] && [ "$TCG_TCTI" = "$KL_ABRMD_TCTI" ] &&
		tpm2_pcrreset 23 2>"$WORK/abrmd-clients.log" &&
		before=$(tpm2_pcrread sha256:23 2>>"$WORK/abrmd-clients.log") &&
		tpm2_pcrextend "23:sha256=$one" 2>>"$WORK/abrmd-clients.log" &&
		after=$(tpm2_pcrread sha256:23 2>>"$WORK/abrmd-clients.log") &&
		echo "$before" | grep -qi "23: 0x$zero" &&
		echo "$after" | grep -qi "23: 0x$expected"; then
		ok "tpm2_pcrreset, tpm2_pcrread, tpm2_pcrextend, tpm2_pcrread through tpm2-abrmd"
	else
		sed 's/^/# /' "$WORK/abrmd-clients.log"
		echo "# before: $before"
		echo "# after: ${after:-} (expected $expected)"
		not_ok "tpm2-tools clients through tpm2-abrmd"
	fi
	pid=$KL_ABRMD_PID
	kl_abrmd_stop
	if ! kill -0 "$pid" 2>/dev/null && [ -z "${KL_ABRMD_PID:-}" ] &&
		[ "$TPM2TOOLS_TCTI" = "$KL_SWTPM_TCTI" ]; then
		ok "kl_abrmd_stop stops and reaps tpm2-abrmd and restores the swtpm TCTI"
	else
		not_ok "kl_abrmd_stop stops and reaps tpm2-abrmd and restores the swtpm TCTI"
	fi
fi

pid=$KL_SWTPM_PID
kl_swtpm_stop
if ! kill -0 "$pid" 2>/dev/null && [ -z "${KL_SWTPM_PID:-}" ]; then
	ok "kl_swtpm_stop stops and reaps swtpm"
else
	not_ok "kl_swtpm_stop stops and reaps swtpm"
fi

exit $failed
