#!/bin/bash
# keylime_agent on a private swtpm against keylime_registrar: registration,
# quotes checked with keylime-check, payloads, revocations, mTLS and bad
# input.  The wrapper owns the swtpm (a child of this shell); the checks
# are in agent-test.py.  TAP.
#   $1 keylime_agent, $2 keylime_registrar, $3 keylime-check, $4 keylime_ca
set -u

# shellcheck source=tests/lib/swtpm-fixture.sh
. "$(dirname "$0")/../lib/swtpm-fixture.sh"

if ! kl_swtpm_available; then
	echo "1..0 # SKIP swtpm not installed"
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
python3 "$(dirname "$0")/agent-test.py" "$1" "$2" "$3" "$4" "$WORK"
