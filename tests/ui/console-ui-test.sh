#!/bin/bash
# keylime-console UI test (suite ui): a display (Xvfb unless one is set),
# then console-ui-test.py brings up the deployment with tests/lib/kldeploy.py
# (its own private bus) and runs the GTK harness.  TAP.
#   $1 kl-console-ui-test, $2 the build directory, $3 the compiled
#   GSettings schema dir, $4 the screenshot dir
set -u

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
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "${KL_TEST_KEEP:-}" ]; then
		echo "# kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
python3 "$(dirname "$0")/console-ui-test.py" "$@" "$WORK/deployment"
