#!/bin/sh
# Fails when a source file uses _() or N_() but is missing from POTFILES.in.
set -eu
top=$1
cd "$top"
missing=0
for file in $(grep -rlE '\b(N_|_)\("' --include='*.c' . | sed 's|^\./||' | sort); do
	case "$file" in
	_build/* | build*/*) continue ;;
	esac
	if ! grep -qxF "$file" po/POTFILES.in; then
		echo "$file uses gettext but is not in po/POTFILES.in"
		missing=1
	fi
done
exit $missing
