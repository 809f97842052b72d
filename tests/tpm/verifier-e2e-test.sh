#!/bin/bash
# keylime_verifier end to end (issue 7, Acceptance): two keylime_agents on
# swtpms, keylime_ima_emulator, keylime_registrar and keylime_verifier on
# loopback, a private D-Bus bus, all brought up by tests/lib/kldeploy.py;
# the checks are in verifier-e2e-test.py.  This wrapper skips when the
# tools are missing and gives the test a directory.  TAP.
#   $1 keylime_verifier, $2 keylime_agent, $3 keylime_registrar,
#   $4 keylime_ima_emulator, $5 keylime_ca, $6 keylime-policy, $7 kl-shm-dump
set -u

for tool in swtpm swtpm_setup swtpm_localca swtpm_ioctl tpm2-abrmd tpm2_getcap \
	dbus-daemon gdbus python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool not installed"
		exit 0
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keylime-test-XXXXXX")
exec python3 "$(dirname "$0")/verifier-e2e-test.py" "$@" "$WORK"
