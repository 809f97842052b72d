#!/bin/bash
# keylime_agent on a private swtpm against keylime_registrar: registration,
# quotes checked with keylime-check, payloads, revocations, mTLS and bad
# input.  The wrapper owns the swtpm (a child of this shell); the checks
# are in agent-test.py.  The agent and keylime_ima_emulator share the TPM
# through tpm2-abrmd on a private bus.  TAP.
#   $1 keylime_agent, $2 keylime_registrar, $3 keylime-check, $4 keylime_ca,
#   $5 keylime_ima_emulator
set -u

# a private bus of its own, for tpm2-abrmd
if [ -z "${KL_AGENT_TEST_BUS:-}" ]; then
	KL_AGENT_TEST_BUS=1 exec dbus-run-session -- bash "$0" "$@"
fi

# shellcheck source=tests/lib/swtpm-fixture.sh
. "$(dirname "$0")/../lib/swtpm-fixture.sh"

if ! kl_swtpm_available || ! kl_abrmd_available; then
	echo "1..0 # SKIP swtpm or tpm2-abrmd not installed"
	exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keylime-test-XXXXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	kl_swtpm_stop
	# the agent mounts its secure directory as root and leaves it mounted
	if mountpoint -q "$WORK/agent/secure" 2>/dev/null; then
		umount "$WORK/agent/secure"
	fi
	if [ -n "${KL_TEST_KEEP:-}" ]; then
		echo "# kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

mkdir -p "$WORK/tpm"
if ! kl_swtpm_start "$WORK/tpm"; then
	echo "1..0 # SKIP swtpm did not start"
	exit 0
fi
# the agent and keylime_ima_emulator share the TPM through abrmd
if ! kl_abrmd_start; then
	echo "1..0 # SKIP tpm2-abrmd did not start"
	exit 0
fi
python3 "$(dirname "$0")/agent-test.py" "$1" "$2" "$3" "$4" "$5" "$WORK"
