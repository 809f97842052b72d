#!/bin/bash
# keylime-tui under tmux against a real deployment (suite tui): the wrapper
# skips when a tool is missing and gives the test a directory; the checks
# are in keylime-tui-test.py.  TAP.
#   $1 keylime-tui, $2 keylime_verifier, $3 keylime_agent,
#   $4 keylime_registrar, $5 keylime_ima_emulator, $6 keylime_ca,
#   $7 keylime-policy
set -u

for tool in tmux swtpm swtpm_setup swtpm_localca swtpm_ioctl tpm2-abrmd tpm2_getcap \
	dbus-daemon python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool not installed"
		exit 0
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keylime-tui-test-XXXXXX")
python3 "$(dirname "$0")/keylime-tui-test.py" "$@" "$WORK"
status=$?
if [ -n "${KL_TEST_KEEP:-}" ]; then
	echo "# kept $WORK"
else
	rm -rf "$WORK"
fi
exit $status
