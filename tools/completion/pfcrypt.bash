# SPDX-License-Identifier: MIT
# bash completion for pfcrypt(1), pfcryptfs(8) and pfcrypt-keystore(8).
# Installed as completions/pfcrypt with links named pfcryptfs and pfcrypt-keystore
# (bash-completion loads a file by the command's name).  Plain bash: it does not
# need the bash-completion package's helpers, so it also works when sourced.
# The option lists mirror each program's --help (the desktop test checks).

_pfcrypt_subcommands="keystore init mount umount status rotate rewrap retire check export import path salvage"
_pfcrypt_keystore_subcommands="init start stop status lock unlock passwd cancel-retire"

# Options of one pfcrypt subcommand ($1; keystore: $1 = "keystore").
_pfcrypt_opts()
{
	case $1 in
	keystore) echo "--store --kdf-profile --start --locked --log-file --json --passphrase-file
		--passphrase-fd --extpass --new-passphrase-file --key --version --socket -q --quiet
		--help" ;;
	init) echo "--key --cipher --block-size --no-holes --socket --help" ;;
	mount) echo "-f -v --verbose -q --quiet -o --socket --help" ;;
	umount) echo "-z --lazy -q --quiet --help" ;;
	status) echo "--json --socket --help" ;;
	rotate) echo "--key --socket --help" ;;
	rewrap) echo "--threads --socket --help" ;;
	retire) echo "--key --version --after --now --force --passphrase-file --passphrase-fd
		--extpass --socket --help" ;;
	check) echo "--quick --json --threads --fold-dirids --socket --help" ;;
	export) echo "--key --versions -o --export-passphrase-file --kdf-profile --passphrase-file
		--passphrase-fd --extpass --socket --help" ;;
	import) echo "--export-passphrase-file --socket --help" ;;
	path) echo "--backing --socket --help" ;;
	salvage) echo "--backing --socket --help" ;;
	esac
}

# Complete the argument of option $1 (prev word); returns 1 if $1 takes none.
_pfcrypt_optarg()
{
	local cur=$2
	case $1 in
	--socket | --store | --passphrase-file | --new-passphrase-file | --log-file | \
		--export-passphrase-file | -o)
		# -o of mount takes mount options, -o of export a file
		if [[ $1 == -o && $3 == mount ]]; then
			COMPREPLY=($(compgen -W "ro rw allow_other auto_unmount noatime nosuid nodev
				noexec socket= verbose" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	--extpass | --confirm-export) COMPREPLY=($(compgen -c -- "$cur")) ;;
	--cipher) COMPREPLY=($(compgen -W "aes256gcm xchacha20poly1305" -- "$cur")) ;;
	--kdf-profile) COMPREPLY=($(compgen -W "interactive moderate sensitive test" -- "$cur")) ;;
	--block-size) COMPREPLY=($(compgen -W "4096 8192 16384 32768 65536 131072 262144
		524288 1048576" -- "$cur")) ;;
	--key | --version | --versions | --threads | --passphrase-fd) COMPREPLY=() ;;
	*) return 1 ;;
	esac
	return 0
}

_pfcrypt()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local i cmd="" sub=""

	# the subcommand (and the keystore's own subcommand), skipping global options
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--socket) ((i++)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${COMP_WORDS[i]}
			elif [[ $cmd == keystore && -z $sub ]]; then
				sub=${COMP_WORDS[i]}
			fi
			;;
		esac
	done
	_pfcrypt_optarg "$prev" "$cur" "$cmd" && return 0
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-q --quiet --socket --help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$_pfcrypt_subcommands" -- "$cur"))
		fi
		return 0
	fi
	if [[ $cmd == keystore && -z $sub && $cur != -* ]]; then
		COMPREPLY=($(compgen -W "$_pfcrypt_keystore_subcommands" -- "$cur"))
		return 0
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_pfcrypt_opts "$cmd")" -- "$cur"))
	else
		COMPREPLY=($(compgen -d -- "$cur")) # BACKING, MNT
	fi
	return 0
}

_pfcryptfs()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}

	case $prev in
	--socket | --log-file) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
	-o) COMPREPLY=($(compgen -W "ro rw allow_other auto_unmount noatime nosuid nodev noexec
		socket= verbose nonempty log_file=" -- "$cur")); return 0 ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "-f -d -s -v --verbose -o --socket --log-file --help --version" \
			-- "$cur"))
	else
		COMPREPLY=($(compgen -d -- "$cur"))
	fi
	return 0
}

_pfcrypt_keystore()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}

	_pfcrypt_optarg "$prev" "$cur" "" && return 0
	case $prev in
	--client-timeout | --idle-timeout | --max-clients | --lifetime) return 0 ;;
	esac
	COMPREPLY=($(compgen -W "--socket --store --init --serve --kdf-profile --passphrase-file
		--passphrase-fd --extpass --locked --foreground --log-file --verbose
		--client-timeout --idle-timeout --max-clients --lifetime --confirm-export --help
		--version" -- "$cur"))
	return 0
}

complete -F _pfcrypt pfcrypt
complete -F _pfcryptfs pfcryptfs
complete -F _pfcrypt_keystore pfcrypt-keystore
