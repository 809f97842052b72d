#!/bin/bash
# keylime_registrar against tpm2-tools on a private swtpm: the TPM side is
# an implementation independent of ours.  This wrapper owns the swtpm
# (it must stay a child of a shell, see swtpm-fixture.sh); the checks are in
# registrar-tpm2-tools-test.py, the D-Bus ones on a private bus.  TAP.
#   $1: the keylime_registrar binary, $2: keylime_ca
set -u

# shellcheck source=tests/lib/swtpm-fixture.sh
. "$(dirname "$0")/../lib/swtpm-fixture.sh"

if ! kl_swtpm_available || ! command -v tpm2_activatecredential >/dev/null; then
	echo "1..0 # SKIP swtpm or tpm2-tools not installed"
	exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keylime-test-XXXXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	kl_swtpm_stop
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
# a private bus of its own for the D-Bus checks
dbus-run-session -- python3 "$(dirname "$0")/registrar-tpm2-tools-test.py" "$1" "$2" "$WORK"
