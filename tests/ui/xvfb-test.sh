#!/bin/bash
# Runs a GTK test program ($@) on the display, or under xvfb-run when there
# is none, with the console's test environment.  TAP.
set -u
if [ -z "${DISPLAY:-}" ]; then
	if ! command -v xvfb-run >/dev/null; then
		echo "1..0 # SKIP no display and no xvfb-run"
		exit 0
	fi
	exec xvfb-run -a -s "-screen 0 1280x800x24" bash "$0" "$@"
fi
export GSETTINGS_BACKEND=memory GDK_BACKEND=x11 GSK_RENDERER=cairo GTK_A11Y=none \
	NO_AT_BRIDGE=1 LANGUAGE=C
exec "$@" --tap
