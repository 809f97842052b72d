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

echo "1..22"

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

[ "$failures" -eq 0 ]
