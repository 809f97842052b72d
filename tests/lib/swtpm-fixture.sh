# swtpm-fixture.sh: a private software TPM for shell tests (bash).
#
#   . tests/lib/swtpm-fixture.sh
#   kl_swtpm_start "$DIR"     # manufactures state and a local CA under DIR
#   tpm2_nvread 0x1c00002 -C 0x1c00002 -o ek.der
#   kl_swtpm_stop
#
# kl_swtpm_start exports KL_SWTPM_TCTI, TPM2TOOLS_TCTI, TCG_TCTI,
# KL_SWTPM_CA_FILE (root + intermediate PEM), KL_SWTPM_PORT, KL_SWTPM_PID.
# The CA's keys and configuration live in DIR, never in
# /var/lib/swtpm-localca, so tests can run in parallel.  swtpm stays a child
# of the shell (no --daemon: PID 1 may not reap orphans) and kl_swtpm_stop
# waits for it.  Logs go to DIR/*.log and DIR/*.out, never to stdout (the
# TAP stream).
#
# swtpm serves one client connection at a time and keylime_agent keeps its
# connection open, so a second client (tpm2-tools, keylime_ima_emulator)
# needs a resource manager in between:
#
#   kl_abrmd_start            # tpm2-abrmd on the session bus, after kl_swtpm_start
#   tpm2_pcrread sha256:10    # through abrmd, beside other clients
#   kl_abrmd_stop             # before kl_swtpm_stop
#
# kl_abrmd_start needs DBUS_SESSION_BUS_ADDRESS (run the test under
# dbus-run-session), takes a bus name of its own and exports KL_ABRMD_TCTI,
# KL_ABRMD_BUS_NAME and KL_ABRMD_PID, and points TPM2TOOLS_TCTI and TCG_TCTI
# at abrmd; kl_abrmd_stop points them back at swtpm, and kl_swtpm_stop
# stops abrmd too.  Its log is DIR/abrmd.log.
#
# swtpm_setup 0.7.1 makes an RSA-2048 EK cert in NV 0x1c00002 and an ECC
# P-384 EK cert in NV 0x1c00016 (no P-256 cert at 0x1c0000a).

# Writes DIR/swtpm_setup.conf and the swtpm-localca files it points to.
_kl_swtpm_write_config() {
	local dir=$1 localca
	localca=$(command -v swtpm_localca) || return 1
	mkdir -p "$dir/ca" "$dir/tpmstate" || return 1
	cat >"$dir/swtpm-localca.conf" <<-EOF
	statedir = $dir/ca
	signingkey = $dir/ca/signkey.pem
	issuercert = $dir/ca/issuercert.pem
	certserial = $dir/ca/certserial
	EOF
	cat >"$dir/swtpm-localca.options" <<-EOF
	--platform-manufacturer keylime-c
	--platform-version 2.1
	--platform-model swtpm
	EOF
	cat >"$dir/swtpm_setup.conf" <<-EOF
	create_certs_tool = $localca
	create_certs_tool_config = $dir/swtpm-localca.conf
	create_certs_tool_options = $dir/swtpm-localca.options
	active_pcr_banks = sha256
	EOF
}

# True when something accepts connections on 127.0.0.1:$1.
_kl_swtpm_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

kl_swtpm_available() {
	command -v swtpm >/dev/null && command -v swtpm_setup >/dev/null &&
		command -v swtpm_localca >/dev/null
}

kl_swtpm_start() {
	local dir port pid try _
	dir=$(cd "$1" && pwd) || return 1
	_kl_swtpm_write_config "$dir" || return 1
	swtpm_setup --tpm2 --tpmstate "$dir/tpmstate" \
		--create-ek-cert --create-platform-cert --lock-nvram \
		--config "$dir/swtpm_setup.conf" --logfile "$dir/swtpm_setup.log" \
		>"$dir/swtpm_setup.out" 2>&1 || {
		echo "# swtpm_setup failed, see $dir/swtpm_setup.log" >&2
		return 1
	}
	cat "$dir/ca/swtpm-localca-rootca-cert.pem" "$dir/ca/issuercert.pem" \
		>"$dir/ca-bundle.pem" || return 1

	# The swtpm TCTI uses data port P and control port P + 1.  Shell cannot
	# hand over bound sockets, so pick a random pair and retry when swtpm
	# exits because one was taken.
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + (RANDOM % 20000) * 2))
		if _kl_swtpm_port_open "$port" || _kl_swtpm_port_open $((port + 1)); then
			continue
		fi
		swtpm socket --tpm2 --tpmstate "dir=$dir/tpmstate" \
			--server "type=tcp,port=$port,bindaddr=127.0.0.1" \
			--ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
			--flags not-need-init,startup-clear \
			--log "file=$dir/swtpm.log,level=1" \
			</dev/null >>"$dir/swtpm.log" 2>&1 &
		pid=$!
		# Ready when both ports answer; 10 s at most.
		for _ in $(seq 1 1000); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			if _kl_swtpm_port_open "$port" &&
				swtpm_ioctl --tcp "127.0.0.1:$((port + 1))" -g >/dev/null 2>&1; then
				KL_SWTPM_DIR=$dir
				KL_SWTPM_PID=$pid
				KL_SWTPM_PORT=$port
				KL_SWTPM_TCTI="swtpm:host=127.0.0.1,port=$port"
				KL_SWTPM_CA_FILE="$dir/ca-bundle.pem"
				TPM2TOOLS_TCTI=$KL_SWTPM_TCTI
				TCG_TCTI=$KL_SWTPM_TCTI
				export KL_SWTPM_DIR KL_SWTPM_PID KL_SWTPM_PORT KL_SWTPM_TCTI \
					KL_SWTPM_CA_FILE TPM2TOOLS_TCTI TCG_TCTI
				return 0
			fi
			sleep 0.01
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			echo "# swtpm did not become ready on port $port, see $dir/swtpm.log" >&2
			return 1
		fi
		wait "$pid" 2>/dev/null
		echo "# swtpm on port $port exited (attempt $try), retrying" >>"$dir/swtpm.log"
	done
	echo "# swtpm did not start, see $dir/swtpm.log" >&2
	return 1
}

# Stops swtpm with TERM (KILL after 5 s) and reaps it; tpm2-abrmd first
# if it is running.
kl_swtpm_stop() {
	local _
	kl_abrmd_stop
	[ -n "${KL_SWTPM_PID:-}" ] || return 0
	kill -TERM "$KL_SWTPM_PID" 2>/dev/null
	for _ in $(seq 1 500); do
		kill -0 "$KL_SWTPM_PID" 2>/dev/null || break
		sleep 0.01
	done
	kill -KILL "$KL_SWTPM_PID" 2>/dev/null
	wait "$KL_SWTPM_PID" 2>/dev/null
	unset KL_SWTPM_PID KL_SWTPM_PORT KL_SWTPM_TCTI TPM2TOOLS_TCTI TCG_TCTI
	return 0
}

kl_abrmd_available() {
	command -v tpm2-abrmd >/dev/null && command -v tpm2_getcap >/dev/null
}

# tpm2-abrmd in front of the fixture's swtpm, on the session bus under a
# name of its own, so that fixtures on one bus do not meet.  Ready when
# tpm2_getcap answers through it; 10 s at most.
kl_abrmd_start() {
	local name tcti pid _
	if [ -z "${KL_SWTPM_TCTI:-}" ] || [ -z "${KL_SWTPM_DIR:-}" ]; then
		echo "# kl_abrmd_start: start swtpm first (kl_swtpm_start)" >&2
		return 1
	fi
	if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
		echo "# kl_abrmd_start: no session bus (DBUS_SESSION_BUS_ADDRESS unset);" \
			"run the test under dbus-run-session" >&2
		return 1
	fi
	name="com.intel.tss2.Tabrmd.kl$$_${RANDOM}_${KL_SWTPM_PORT:-0}"
	tcti="tabrmd:bus_name=$name,bus_type=session"
	tpm2-abrmd --session --dbus-name="$name" --tcti="$KL_SWTPM_TCTI" --allow-root \
		</dev/null >>"$KL_SWTPM_DIR/abrmd.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 200); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null
			echo "# tpm2-abrmd exited, see $KL_SWTPM_DIR/abrmd.log" >&2
			return 1
		fi
		if tpm2_getcap -T "$tcti" properties-fixed >/dev/null 2>>"$KL_SWTPM_DIR/abrmd.log"; then
			KL_ABRMD_PID=$pid
			KL_ABRMD_BUS_NAME=$name
			KL_ABRMD_TCTI=$tcti
			TPM2TOOLS_TCTI=$tcti
			TCG_TCTI=$tcti
			export KL_ABRMD_PID KL_ABRMD_BUS_NAME KL_ABRMD_TCTI TPM2TOOLS_TCTI TCG_TCTI
			return 0
		fi
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "# tpm2-abrmd did not become ready, see $KL_SWTPM_DIR/abrmd.log" >&2
	return 1
}

# Stops tpm2-abrmd with TERM (KILL after 5 s), reaps it and points the
# TCTI variables back at swtpm.
kl_abrmd_stop() {
	local _
	[ -n "${KL_ABRMD_PID:-}" ] || return 0
	kill -TERM "$KL_ABRMD_PID" 2>/dev/null
	for _ in $(seq 1 500); do
		kill -0 "$KL_ABRMD_PID" 2>/dev/null || break
		sleep 0.01
	done
	kill -KILL "$KL_ABRMD_PID" 2>/dev/null
	wait "$KL_ABRMD_PID" 2>/dev/null
	unset KL_ABRMD_PID KL_ABRMD_BUS_NAME KL_ABRMD_TCTI
	if [ -n "${KL_SWTPM_TCTI:-}" ]; then
		TPM2TOOLS_TCTI=$KL_SWTPM_TCTI
		TCG_TCTI=$KL_SWTPM_TCTI
		export TPM2TOOLS_TCTI TCG_TCTI
	else
		unset TPM2TOOLS_TCTI TCG_TCTI
	fi
	return 0
}
