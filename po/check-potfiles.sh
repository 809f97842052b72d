#!/bin/sh
# Fails when a file with translatable strings is missing from POTFILES.in:
# C sources using _(, N_( or C_(, GtkBuilder files with translatable="yes",
# and the desktop, AppStream, GSettings and polkit files that xgettext reads
# (.desktop.in, .metainfo.xml.in, .gschema.xml, .policy).
set -eu
top=$1
cd "$top"
missing=0
{
	grep -rlE '\b(N_|C_|_)\("' --include='*.c' . || true
	grep -rl 'translatable="yes"' --include='*.ui' . || true
	find . \( -name '*.desktop.in' -o -name '*.metainfo.xml.in' -o -name '*.gschema.xml' \
		-o -name '*.policy' -o -name '*.policy.in' \) -print
} | sed 's|^\./||' | sort -u >"${TMPDIR:-/tmp}/potfiles-check.$$"
while read -r file; do
	case "$file" in
	_build/* | build*/* | subprojects/*) continue ;;
	esac
	if ! grep -qxF "$file" po/POTFILES.in; then
		echo "$file has translatable strings but is not in po/POTFILES.in"
		missing=1
	fi
done <"${TMPDIR:-/tmp}/potfiles-check.$$"
rm -f "${TMPDIR:-/tmp}/potfiles-check.$$"
# and every listed file exists
grep -vE '^(#|$)' po/POTFILES.in | while read -r file; do
	if [ ! -f "$file" ]; then
		echo "po/POTFILES.in lists $file, which does not exist"
		exit 1
	fi
done || missing=1
exit $missing
