#!/bin/bash
# keylime_ima_emulator on a private swtpm behind tpm2-abrmd (on a private
# session bus): it extends PCR 10 so that keylime-check replays the log to
# the TPM's value, follows an appended entry (written in two pieces), and
# stops on a truncated log and on a malformed line.  TAP.
#   $1: keylime_ima_emulator, $2: keylime-check
set -u

if [ -z "${KL_TEST_PRIVATE_BUS:-}" ] && command -v dbus-run-session >/dev/null; then
	KL_TEST_PRIVATE_BUS=1 exec dbus-run-session -- bash "$0" "$@"
fi

EMULATOR=$1
CHECK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=$HERE/../data

# shellcheck source=tests/lib/swtpm-fixture.sh
. "$HERE/../lib/swtpm-fixture.sh"

if [ -z "${KL_TEST_PRIVATE_BUS:-}" ] || ! kl_swtpm_available || ! kl_abrmd_available ||
	! command -v tpm2_pcrread >/dev/null || ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP swtpm, tpm2-abrmd, tpm2-tools, dbus-run-session or python3 not installed"
	exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keylime-test-XXXXXX")
EMU_PID=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$EMU_PID" ]; then
		kill -TERM "$EMU_PID" 2>/dev/null
		wait "$EMU_PID" 2>/dev/null
	fi
	kl_swtpm_stop
	if [ -n "${KL_TEST_KEEP:-}" ]; then
		echo "# kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

echo "1..10"
n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	echo "not ok $n - $1"
	failed=1
}
# show FILE as TAP comments
show() {
	sed 's/^/# /' "$1"
}

# hex -> bytes on stdout
unhex() {
	# shellcheck disable=SC2059 # the format is the bytes
	printf "$(printf '%s' "$1" | sed 's/../\\x&/g')"
}

# u32 little endian, as hex
u32le() {
	printf '%02x%02x%02x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) \
		$((($1 >> 24) & 255))
}

# An ima-ng line as the kernel writes it: the template hash is SHA-1 over
# the d-ng field (len, "sha256:\0", digest) and the n-ng field (len, path\0).
ima_ng_line() {
	local path=$1 digest=$2 dng nng thash
	dng=$(printf 'sha256:' | od -An -tx1 | tr -d ' \n')00$digest
	nng=$(printf '%s' "$path" | od -An -tx1 | tr -d ' \n')00
	thash=$(unhex "$(u32le $((${#dng} / 2)))$dng$(u32le $((${#nng} / 2)))$nng" | sha1sum |
		cut -d' ' -f1)
	printf '10 %s ima-ng sha256:%s %s\n' "$thash" "$digest" "$path"
}

# PCR 10 of the sha256 bank, lowercase hex
pcr10() {
	tpm2_pcrread sha256:10 -o "$WORK/pcr.bin" >/dev/null 2>>"$WORK/pcrread.log" &&
		od -An -tx1 "$WORK/pcr.bin" | tr -d ' \n'
}

# wait_for SECONDS COMMAND...: polls COMMAND every 50 ms
wait_for() {
	local limit=$(($1 * 20)) _
	shift
	for _ in $(seq 1 "$limit"); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# keylime-check --json: "pass" / "fail", the replayed PCR, and the findings
summarise() {
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["result"], r["pcr"], r["counts"]["fnf"], r["counts"]["template-hash"])
for f in r["findings"]:
    print("finding", f["subject"], "|", f["reason"])
' "$1"
}

mkdir -p "$WORK/tpm"
if ! kl_swtpm_start "$WORK/tpm" || ! kl_abrmd_start; then
	not_ok "swtpm and tpm2-abrmd start"
	exit 1
fi
ok "swtpm and tpm2-abrmd started"

# upstream's ima-ng log, upstream's ima-sig lines, and a violation entry
LOG=$WORK/ascii_runtime_measurements
cp "$DATA/ima/ima-log-sha256" "$LOG"
tail -n +2 "$DATA/fuzz/ima-log/seed-ima-sig-upstream" >>"$LOG"
printf '10 %040d ima-ng sha256:%064d /tmp/open-writers\n' 0 0 >>"$LOG"
ENTRIES=$(wc -l <"$LOG")
# an allowlist of the log's own digests (violations have none)
awk '$2 !~ /^0+$/ { d = $4; sub(/^[^:]*:/, "", d); print d "  " $5 }' "$LOG" >"$WORK/allowlist"

# 2: --once extends what is there
if "$EMULATOR" --once --log "$LOG" 2>"$WORK/once.log" &&
	grep -q "now at entry $ENTRIES\$" "$WORK/once.log"; then
	ok "keylime_ima_emulator --once extends $ENTRIES entries"
else
	show "$WORK/once.log"
	not_ok "keylime_ima_emulator --once extends $ENTRIES entries"
fi

# 3: the TPM's PCR 10 is what keylime-check replays; the log passes
PCR=$(pcr10)
if "$CHECK" ima --log "$LOG" --allowlist "$WORK/allowlist" --pcr "$PCR" \
	>"$WORK/check1.out" 2>&1; then
	echo "# PCR 10 (sha256): $PCR"
	ok "keylime-check passes the log against the TPM's PCR 10"
else
	echo "# PCR 10 (sha256): ${PCR:-(unread)}"
	show "$WORK/check1.out"
	not_ok "keylime-check passes the log against the TPM's PCR 10"
fi

# 4: and it would notice another value
if ! "$CHECK" ima --log "$LOG" --allowlist "$WORK/allowlist" \
	--pcr "$(printf '%064d' 1)" >"$WORK/check-wrong.out" 2>&1 &&
	grep -q "does not match TPM PCR" "$WORK/check-wrong.out"; then
	ok "keylime-check fails the log against another PCR 10 value"
else
	show "$WORK/check-wrong.out"
	not_ok "keylime-check fails the log against another PCR 10 value"
fi

# 5: following, it goes on after what PCR 10 already holds
"$EMULATOR" --log "$LOG" --interval 20 2>"$WORK/follow.log" &
EMU_PID=$!
if wait_for 10 grep -q "now at entry $ENTRIES\$" "$WORK/follow.log" &&
	grep -q "up to line $ENTRIES" "$WORK/follow.log" && [ "$(pcr10)" = "$PCR" ]; then
	ok "the following emulator starts after line $ENTRIES, PCR 10 unchanged"
else
	show "$WORK/follow.log"
	not_ok "the following emulator starts after line $ENTRIES, PCR 10 unchanged"
fi

# 6: an entry appended in two writes is extended once, when complete
NEW=/usr/bin/unlisted-tool
LINE=$(ima_ng_line "$NEW" "$(printf 'not in the allowlist' | sha256sum | cut -d' ' -f1)")
printf '%s' "${LINE:0:50}" >>"$LOG"
# a few polls with half a line (not a check: what follows is)
sleep 0.2
printf '%s\n' "${LINE:50}" >>"$LOG"
if wait_for 10 grep -q "extended PCR 10 with 1 entries, now at entry $((ENTRIES + 1))\$" \
	"$WORK/follow.log" && kill -0 "$EMU_PID" 2>/dev/null; then
	ok "the appended entry is extended once complete"
else
	show "$WORK/follow.log"
	not_ok "the appended entry is extended once complete"
fi

# 7: keylime-check replays the log to the new PCR 10 and names the file
PCR2=$(pcr10)
"$CHECK" ima --log "$LOG" --allowlist "$WORK/allowlist" --pcr "$PCR2" --json \
	>"$WORK/check2.json" 2>"$WORK/check2.err"
status=$?
summary=$(summarise "$WORK/check2.json" 2>&1)
expected="fail $PCR2 1 0
finding $NEW | File not found in allowlist: $NEW"
if [ "$status" -eq 1 ] && [ "$PCR2" != "$PCR" ] && [ "$summary" = "$expected" ]; then
	ok "keylime-check: PCR 10 replays, and $NEW is not in the allowlist"
else
	echo "# exit $status, PCR 10 $PCR2"
	printf '%s\n' "$summary" >"$WORK/summary" && show "$WORK/summary"
	show "$WORK/check2.err"
	not_ok "keylime-check: PCR 10 replays, and $NEW is not in the allowlist"
fi

# 8: a truncated log stops it: PCR 10 cannot follow
head -n 2 "$LOG" >"$WORK/head" && cat "$WORK/head" >"$LOG"
# shellcheck disable=SC2317 # called by wait_for
emulator_exited() {
	! kill -0 "$EMU_PID" 2>/dev/null
}
if wait_for 10 emulator_exited; then
	wait "$EMU_PID"
	status=$?
else
	status=running
fi
EMU_PID=
if [ "$status" = 1 ] && grep -q "shrank" "$WORK/follow.log" && [ "$(pcr10)" = "$PCR2" ]; then
	ok "a truncated log stops the emulator with exit status 1"
else
	echo "# exit status $status"
	show "$WORK/follow.log"
	not_ok "a truncated log stops the emulator with exit status 1"
fi

# 9: a malformed line is an error naming it, after the entries before it
BAD=$WORK/bad
head -n 2 "$DATA/ima/ima-log-sha256" >"$BAD"
echo "10 not-a-template-hash ima-ng sha256:00 /broken" >>"$BAD"
if ! "$EMULATOR" --once --log "$BAD" 2>"$WORK/bad.log" &&
	grep -q "$BAD:3: " "$WORK/bad.log" && [ "$(pcr10)" != "$PCR2" ]; then
	ok "a malformed line 3 is an error naming FILE:3"
else
	show "$WORK/bad.log"
	not_ok "a malformed line 3 is an error naming FILE:3"
fi

# 10: the kernel's own list is refused
if ! "$EMULATOR" --once --log /sys/kernel/security/ima/ascii_runtime_measurements \
	2>"$WORK/securityfs.log" && grep -q "kernel's own" "$WORK/securityfs.log"; then
	ok "the kernel's own measurement list is refused"
else
	show "$WORK/securityfs.log"
	not_ok "the kernel's own measurement list is refused"
fi

exit $failed
