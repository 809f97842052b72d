#!/bin/bash
# keylime-console UI test (suite ui): a private D-Bus bus, a display (Xvfb
# unless one is set), two swtpms — agent 1's shared with the IMA emulator
# through tpm2-abrmd — then console-ui-test.py brings up the daemons and
# runs the GTK harness.  TAP.
#   $1 kl-console-ui-test, $2 keylime_verifier, $3 keylime_agent,
#   $4 keylime_registrar, $5 keylime_ima_emulator, $6 keylime-policy,
#   $7 keylime_ca, $8 the compiled GSettings schema dir, $9 the screenshot dir
set -u

if [ -z "${KL_CONSOLE_UI_BUS:-}" ]; then
	KL_CONSOLE_UI_BUS=1 exec dbus-run-session -- bash "$0" "$@"
fi
if [ -z "${DISPLAY:-}" ]; then
	if ! command -v xvfb-run >/dev/null; then
		echo "1..0 # SKIP no display and no xvfb-run"
		exit 0
	fi
	exec xvfb-run -a -s "-screen 0 1280x800x24" bash "$0" "$@"
fi

# shellcheck source=tests/lib/swtpm-fixture.sh
. "$(dirname "$0")/../lib/swtpm-fixture.sh"

if ! kl_swtpm_available || ! kl_abrmd_available; then
	echo "1..0 # SKIP swtpm or tpm2-abrmd not installed"
	exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keylime-ui-XXXXXX")
AGENT2_SWTPM_PID=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	kl_swtpm_stop
	if [ -n "$AGENT2_SWTPM_PID" ]; then
		kill -TERM "$AGENT2_SWTPM_PID" 2>/dev/null
		wait "$AGENT2_SWTPM_PID" 2>/dev/null
	fi
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

mkdir -p "$WORK/tpm2" "$WORK/tpm1"
if ! kl_swtpm_start "$WORK/tpm2"; then
	echo "1..0 # SKIP swtpm did not start"
	exit 0
fi
AGENT2_SWTPM_PID=$KL_SWTPM_PID
KL_AGENT2_TCTI=$KL_SWTPM_TCTI
KL_UI_SWTPM_CAS=$KL_SWTPM_CA_FILE
unset KL_SWTPM_PID
if ! kl_swtpm_start "$WORK/tpm1"; then
	echo "1..0 # SKIP swtpm did not start"
	exit 0
fi
KL_UI_SWTPM_CAS="$KL_UI_SWTPM_CAS:$KL_SWTPM_CA_FILE"
export KL_AGENT2_TCTI KL_UI_SWTPM_CAS
if ! kl_abrmd_start; then
	echo "1..0 # SKIP tpm2-abrmd did not start"
	exit 0
fi
python3 "$(dirname "$0")/console-ui-test.py" "$@" "$WORK"
