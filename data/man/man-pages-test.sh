#!/bin/sh
# Every manual page formats with groff without a warning (-ww: all of
# them), as `man --warnings` would show them.  TAP.
#   $1 groff, then the pages
set -u
groff=$1
shift
echo "1..$#"
n=0
for page in "$@"; do
	n=$((n + 1))
	if out=$(LC_ALL=C.UTF-8 "$groff" -z -ww -man "$page" 2>&1) && [ -z "$out" ]; then
		echo "ok $n - $(basename "$page")"
	else
		echo "not ok $n - $(basename "$page")"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
done
