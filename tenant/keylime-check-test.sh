#!/bin/sh
# TAP test of keylime-check: exit codes 0/1/2, the JSON shape, and that
# keylime-policy's output is accepted back.
# Usage: keylime-check-test.sh KEYLIME-CHECK KEYLIME-POLICY TESTS-DATA-DIR
set -u
check=$1
policy_tool=$2
data=$3
ima=$data/ima
quote=$data/quote
eventlogs=$data/eventlogs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
failures=0

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failures=$((failures + 1))
	fi
}

# expect STATUS DESCRIPTION COMMAND...: the command exits with STATUS
expect() {
	status=$1
	description=$2
	shift 2
	"$@" >"$work/out" 2>"$work/err"
	got=$?
	if [ "$got" -ne "$status" ]; then
		sed 's/^/# /' "$work/out" "$work/err"
		echo "# exit $got, expected $status"
	fi
	[ "$got" -eq "$status" ]
	ok $? "$description"
}

# json_check PYTHON-EXPRESSION: evaluated with j = the JSON printed last
json_check() {
	python3 -c "import json,sys; j=json.load(open('$work/out')); sys.exit(0 if ($1) else 1)"
	ok $? "$2"
}

echo "1..45"

pcr=8dcd5e7eb63e363377ec19b0d358601ccc19f25a30486f35784c5288dbb91d9d
expect 0 "keylime-policy makes a policy from the IMA log" \
	"$policy_tool" create runtime -m "$ima/ima-log-sha256" -o "$work/policy.json"
expect 0 "ima: the log passes its own policy and the quoted PCR" \
	"$check" ima --log "$ima/ima-log-sha256" --policy "$work/policy.json" --pcr "$pcr"
expect 0 "ima --json: passes" \
	"$check" ima --log "$ima/ima-log-sha256" --policy "$work/policy.json" --pcr "$pcr" --json
json_check "set(j) == {'result', 'pcr', 'findings', 'counts'} and j['result'] == 'pass' and j['pcr'] == '$pcr' and j['findings'] == [] and j['counts']['good'] == 2" \
	"ima --json: exactly result, pcr, findings, counts"
expect 1 "ima: a wrong PCR 10 fails" \
	"$check" ima --log "$ima/ima-log-sha256" --policy "$work/policy.json" --pcr "${pcr%?}e" --json
json_check "j['result'] == 'fail' and [f['subject'] for f in j['findings']] == ['PCR 10']" \
	"ima --json: the PCR mismatch is the one finding"
expect 1 "ima: the legacy allowlist names files the log does not have" \
	"$check" ima --log "$ima/ima-log-sha256" --allowlist "$ima/allowlist-sha256" --json
json_check "[(f['component'], f['subject'], f['line']) for f in j['findings']] == [('ima', 'boot_aggregate', 1), ('ima', '/data', 2)] and all(set(f) == {'component', 'subject', 'reason', 'line'} for f in j['findings'])" \
	"ima --json: findings carry component, subject, reason and line"
printf '.*\n' >"$work/exclude-all"
expect 0 "ima: an exclude list covering everything passes" \
	"$check" ima --log "$ima/ima-log-sha256" --allowlist "$ima/allowlist-sha256" --exclude "$work/exclude-all"
{
	cat "$ima/ima-log-sha256"
	echo "10 not-hex ima-ng sha256:00 /x"
} >"$work/bad.log"
expect 1 "ima: a malformed line is a finding" \
	"$check" ima --log "$work/bad.log" --policy "$work/policy.json" --json
json_check "any(f['line'] == 3 for f in j['findings'])" "ima: the malformed line is named by number"
expect 2 "ima: a missing log is unusable" \
	"$check" ima --log "$work/nonexistent" --policy "$work/policy.json"
grep -q nonexistent "$work/err"
ok $? "ima: the message names the missing file"
printf '{"meta": {"version": 1}}' >"$work/bad-policy.json"
expect 2 "ima: an invalid policy is unusable" \
	"$check" ima --log "$ima/ima-log-sha256" --policy "$work/bad-policy.json"
expect 2 "ima: a non-hex --pcr is unusable" \
	"$check" ima --log "$ima/ima-log-sha256" --policy "$work/policy.json" --pcr xyz
expect 2 "ima: --policy and --allowlist together is a usage error" \
	"$check" ima --log "$ima/ima-log-sha256" --policy "$work/policy.json" --allowlist "$ima/allowlist-sha256"

nonce=kl-fuzz-nonce-000001
expect 0 "quote: an RSA quote made on swtpm verifies" \
	"$check" quote --ak "$quote/ak-rsa.tpm2b" --nonce "$nonce" --quote "$quote/quote-rsa"
expect 0 "quote: an ECDSA quote made on swtpm verifies, given as --ak-tpm and stdin" \
	sh -c "'$check' quote --ak-tpm \"\$(base64 -w0 '$quote/ak-ecc.tpm2b')\" --nonce $nonce --quote - --json <'$quote/quote-ecc'"
json_check "set(j) == {'result', 'pcrs', 'findings', 'counts'} and j['result'] == 'pass' and sorted(j['pcrs']) == ['15', '16', '22']" \
	"quote --json: exactly result, pcrs, findings, counts"
expect 1 "quote: another nonce fails" \
	"$check" quote --ak "$quote/ak-rsa.tpm2b" --nonce kl-fuzz-nonce-000002 --quote "$quote/quote-rsa"
expect 1 "quote: a tpm_policy the PCRs break fails" \
	"$check" quote --ak "$quote/ak-rsa.tpm2b" --nonce "$nonce" --quote "$quote/quote-rsa" \
	--tpm-policy '{"15": "1111111111111111111111111111111111111111111111111111111111111111"}'
expect 2 "quote: a garbage AK is unusable" \
	"$check" quote --ak-tpm "AAAA" --nonce "$nonce" --quote "$quote/quote-rsa"

# boot: sha256 PCR 0 with StartupLocality 3 as the TCG spec has it
pcr0=0ee9a7feba8f4172f1a7451594aa5731665a4d353ac61814042ce107a00742f2
pcr7=741fd028c51b4d2fbdcc7f28014cc758d17ccc1fe2ea7ca17b0e8009480a557c
expect 0 "boot: the Secure Boot log replays" \
	"$check" boot --log "$eventlogs/binary_bios_measurements-secureboot"
expect 0 "boot --json: the sha1+sha256 log replays" \
	"$check" boot --log "$eventlogs/binary_bios_measurements" --json
json_check "set(j) == {'result', 'pcrs', 'findings', 'counts'} and j['result'] == 'pass' and sorted(j['pcrs']) == ['sha1', 'sha256'] and j['pcrs']['sha256']['0'] == '$pcr0' and j['pcrs']['sha256']['7'] == '$pcr7' and len(j['pcrs']['sha256']) == 24" \
	"boot --json: result, pcrs per bank (PCR 0 from the locality), findings, counts"
expect 0 "boot: quoted PCRs that match pass" \
	"$check" boot --log "$eventlogs/binary_bios_measurements" --pcrs "{\"0\": \"$pcr0\", \"7\": \"$pcr7\"}"
expect 1 "boot: a wrong quoted PCR 7 fails" \
	"$check" boot --log "$eventlogs/binary_bios_measurements" --json \
	--pcrs "{\"sha256\": {\"0\": \"$pcr0\", \"7\": \"${pcr7%?}d\"}, \"sha1\": {\"0\": \"78f3e576d5da8873860e557535d181f4a37e2963\"}}"
json_check "j['result'] == 'fail' and [(f['component'], f['subject']) for f in j['findings']] == [('measured_boot', 'PCR 7')] and j['counts']['compared'] == 3" \
	"boot --json: the PCR mismatch is the one finding"
expect 2 "boot: the garbage log is unusable" \
	"$check" boot --log "$eventlogs/binary_bios_measurements-bogus"
grep -q "offset 0x" "$work/err"
ok $? "boot: the message names the offset"
expect 2 "boot: the empty log is unusable" \
	"$check" boot --log "$eventlogs/binary_bios_measurements-empty"
head -c 3000 "$eventlogs/binary_bios_measurements" >"$work/truncated"
expect 2 "boot: a truncated log is unusable" \
	"$check" boot --log "$work/truncated"
grep -q "event 14 at offset 0x913: eventSize" "$work/err"
ok $? "boot: the message names the event, offset and field"
expect 2 "boot: non-hex --pcrs is unusable" \
	"$check" boot --log "$eventlogs/binary_bios_measurements" --pcrs '{"0": "zz"}'
expect 2 "boot: --log is required" "$check" boot

# boot --refstate/--policy: the shipped policies, found through KL_MB_POLICY_DIR
KL_MB_POLICY_DIR=$data/../../data/mb-policies
export KL_MB_POLICY_DIR
"$policy_tool" create measured-boot -e "$eventlogs/binary_bios_measurements-secureboot" -o "$work/mb.json" 2>/dev/null
expect 0 "boot --refstate: the log passes the example policy against its own reference state" \
	"$check" boot --log "$eventlogs/binary_bios_measurements-secureboot" --refstate "$work/mb.json" --json
json_check "j['result'] == 'pass' and j['findings'] == []" "boot --refstate --json: no findings"
expect 1 "boot --policy reject-all fails" \
	"$check" boot --log "$eventlogs/binary_bios_measurements-secureboot" --refstate "$work/mb.json" --policy reject-all --json
json_check "[(f['component'], f['subject']) for f in j['findings']] == [('measured_boot', 'boot events')]" \
	"boot --policy reject-all: one measured_boot finding"
expect 0 "boot --policy accept-all passes" \
	"$check" boot --log "$eventlogs/binary_bios_measurements-secureboot" --refstate "$work/mb.json" --policy accept-all
expect 1 "boot --refstate: another machine's log fails the example policy" \
	"$check" boot --log "$eventlogs/binary_bios_measurements" --refstate "$work/mb.json" --json
json_check "len(j['findings']) > 3 and all(f['component'] == 'measured_boot' and f['subject'].startswith('event ') for f in j['findings'])" \
	"boot --refstate --json: each finding names an event"
expect 2 "boot: an unknown --policy is unusable" \
	"$check" boot --log "$eventlogs/binary_bios_measurements-secureboot" --refstate "$work/mb.json" --policy no-such-policy
echo '{"pk": "not a list"}' >"$work/bad-mb.json"
expect 2 "boot: a malformed --refstate is unusable" \
	"$check" boot --log "$eventlogs/binary_bios_measurements-secureboot" --refstate "$work/bad-mb.json"
expect 2 "boot: --policy without --refstate is a usage error" \
	"$check" boot --log "$eventlogs/binary_bios_measurements-secureboot" --policy example

[ "$failures" -eq 0 ]
