#!/bin/bash
# keylime_verifier end to end (issue 7, Acceptance): two keylime_agents on
# swtpms, keylime_ima_emulator, keylime_registrar and keylime_verifier on
# loopback, a private D-Bus bus.  The wrapper owns the swtpms (children of
# this shell) and the bus; the checks are in verifier-e2e-test.py.  Agent 1
# and the emulator share their TPM through tpm2-abrmd; agent 2 has a swtpm
# of its own and only listens for revocations.  TAP.
#   $1 keylime_verifier, $2 keylime_agent, $3 keylime_registrar,
#   $4 keylime_ima_emulator, $5 keylime_ca, $6 keylime-policy, $7 kl-shm-dump
set -u

# a private bus: tpm2-abrmd, and keylime_verifier --session
if [ -z "${KL_VERIFIER_E2E_BUS:-}" ]; then
	KL_VERIFIER_E2E_BUS=1 exec dbus-run-session -- bash "$0" "$@"
fi

# shellcheck source=tests/lib/swtpm-fixture.sh
. "$(dirname "$0")/../lib/swtpm-fixture.sh"

if ! kl_swtpm_available || ! kl_abrmd_available; then
	echo "1..0 # SKIP swtpm or tpm2-abrmd not installed"
	exit 0
fi
for tool in gdbus python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool not installed"
		exit 0
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keylime-test-XXXXXX")
AGENT2_SWTPM_PID=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	kl_swtpm_stop
	if [ -n "$AGENT2_SWTPM_PID" ]; then
		kill -TERM "$AGENT2_SWTPM_PID" 2>/dev/null
		wait "$AGENT2_SWTPM_PID" 2>/dev/null
	fi
	# the agents mount their secure directories as root and leave them
	for secure in "$WORK"/agent*/secure; do
		if mountpoint -q "$secure" 2>/dev/null; then
			umount "$secure"
		fi
	done
	if [ -n "${KL_TEST_KEEP:-}" ]; then
		echo "# kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# agent 2's TPM first: the fixture keeps the last one's variables
mkdir -p "$WORK/tpm2" "$WORK/tpm1"
if ! kl_swtpm_start "$WORK/tpm2"; then
	echo "1..0 # SKIP swtpm did not start"
	exit 0
fi
AGENT2_SWTPM_PID=$KL_SWTPM_PID
KL_AGENT2_TCTI=$KL_SWTPM_TCTI
export KL_AGENT2_TCTI
unset KL_SWTPM_PID
if ! kl_swtpm_start "$WORK/tpm1"; then
	echo "1..0 # SKIP swtpm did not start"
	exit 0
fi
if ! kl_abrmd_start; then
	echo "1..0 # SKIP tpm2-abrmd did not start"
	exit 0
fi
python3 "$(dirname "$0")/verifier-e2e-test.py" "$@" "$WORK"
