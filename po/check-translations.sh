#!/bin/sh
# Fails when a catalogue lacks a translation of any message: extracts a
# fresh template from POTFILES.in, as meson's keylime-c-pot target does
# (xgettext with the keywords and flags of meson's glib preset; .ui,
# .metainfo.xml.in, .gschema.xml and .policy files through xgettext's ITS
# rules, .desktop.in as a desktop file), and compares the catalogue with
# it: msgcmp counts fuzzy and untranslated entries as missing.
# Usage: check-translations.sh SOURCE_ROOT CATALOGUE.po [XGETTEXT [MSGCMP]]
set -eu
top=$1
po=$2
xgettext=${3:-xgettext}
msgcmp=${4:-msgcmp}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-translations.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# the arguments of meson's i18n.gettext(preset: 'glib'), meson 1.0
"$xgettext" --package-name=keylime-c -f "$top/po/POTFILES.in" -D "$top" -k_ \
	-o "$tmp/keylime-c.pot" \
	--from-code=UTF-8 --add-comments \
	--keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
	--keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
	--flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format \
	--flag=g_dngettext:2:pass-c-format --flag=g_strdup_printf:1:c-format \
	--flag=g_string_printf:2:c-format --flag=g_string_append_printf:2:c-format \
	--flag=g_error_new:3:c-format --flag=g_set_error:4:c-format \
	--flag=g_markup_printf_escaped:1:c-format --flag=g_log:3:c-format \
	--flag=g_print:1:c-format --flag=g_printerr:1:c-format \
	--flag=g_printf:1:c-format --flag=g_fprintf:2:c-format \
	--flag=g_sprintf:2:c-format --flag=g_snprintf:3:c-format 2>"$tmp/xgettext.log" || {
	cat "$tmp/xgettext.log" >&2
	exit 1
}
if [ ! -s "$tmp/keylime-c.pot" ]; then
	echo "xgettext found no translatable strings in po/POTFILES.in" >&2
	exit 1
fi
if ! "$msgcmp" "$po" "$tmp/keylime-c.pot"; then
	echo "$po lacks the translations above: run 'ninja -C build keylime-c-update-po'," >&2
	echo "translate the new or fuzzy entries and drop their fuzzy flags" >&2
	exit 1
fi
n=$(grep -c '^msgid ' "$tmp/keylime-c.pot")
echo "$po translates all $((n - 1)) messages of the template"
