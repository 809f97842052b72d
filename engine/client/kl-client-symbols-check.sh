#!/bin/sh
# Fails when a program linked only with libkl-client carries a symbol of
# sqlite, tss2 (ESYS or MU) or libsoup, defined or undefined, or needs one
# of their shared libraries: the consoles must not link them
# (ARCHITECTURE.md, "Layering rules" rule 4).
set -eu
program=$1
status=0
if nm "$program" | grep -E ' [A-Za-z] (sqlite3_|Tss2_|Esys_|soup_)'; then
	echo "FAIL: $program carries sqlite3_/Tss2_/Esys_/soup_ symbols" >&2
	status=1
fi
if readelf -d "$program" | grep -E 'NEEDED.*(libsqlite3|libtss2|libsoup)'; then
	echo "FAIL: $program needs sqlite, tss2 or libsoup" >&2
	status=1
fi
n=$(nm "$program" | grep -c ' T kl_client_' || true)
if [ "$n" -lt 10 ]; then
	echo "FAIL: $program does not contain libkl-client ($n kl_client_ functions)" >&2
	status=1
fi
[ $status -eq 0 ] && echo "ok: no sqlite, tss2 or libsoup in $program"
exit $status
