#!/bin/bash
# keylime_tenant end to end (issue 8, Acceptance): keylime_agent on a
# swtpm, keylime_registrar and keylime_verifier on loopback, every tenant
# command run as an operator would.  The wrapper owns the swtpm (a child of
# this shell); the checks are in tenant-e2e-test.py.  TAP.
#   $1 keylime_tenant, $2 keylime_verifier, $3 keylime_agent,
#   $4 keylime_registrar, $5 keylime-policy
set -u

# shellcheck source=tests/lib/swtpm-fixture.sh
. "$(dirname "$0")/../lib/swtpm-fixture.sh"

if ! kl_swtpm_available; then
	echo "1..0 # SKIP swtpm not installed"
	exit 0
fi
if ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP python3 not installed"
	exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keylime-test-XXXXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	kl_swtpm_stop
	# the agent mounts its secure directory as root and leaves it
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

mkdir -p "$WORK/tpm"
if ! kl_swtpm_start "$WORK/tpm"; then
	echo "1..0 # SKIP swtpm did not start"
	exit 0
fi
python3 "$(dirname "$0")/tenant-e2e-test.py" "$@" "$WORK"
