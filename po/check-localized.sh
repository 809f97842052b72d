#!/bin/sh
# Fails unless PROGRAM shows EXPECTED in German and not without it: runs
# PROGRAM ARGS... with LANGUAGE=de under LC_ALL=C.UTF-8 (glibc lets
# LANGUAGE choose the catalogue there, so no de_DE locale is needed) and
# KEYLIME_LOCALEDIR=LOCALEDIR (the catalogues built in <build>/po), then
# again without LANGUAGE.
# Usage: check-localized.sh LOCALEDIR EXPECTED PROGRAM [ARGS...]
set -eu
localedir=$1
expected=$2
shift 2
german=$(env LC_ALL=C.UTF-8 LANGUAGE=de KEYLIME_LOCALEDIR="$localedir" "$@" </dev/null 2>&1) || true
english=$(env -u LANGUAGE LC_ALL=C.UTF-8 KEYLIME_LOCALEDIR="$localedir" "$@" </dev/null 2>&1) || true
case "$german" in
*"$expected"*) ;;
*)
	printf '%s\n' "no \"$expected\" in the German output of $*:" "$german" >&2
	exit 1
	;;
esac
case "$english" in
*"$expected"*)
	printf '%s\n' "\"$expected\" also without LANGUAGE=de in the output of $*" >&2
	exit 1
	;;
*) ;;
esac
echo "$* speaks German: $expected"
