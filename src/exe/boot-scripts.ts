/**
 * The shell run at boot for unattended runbooks (issue "Recovery runbooks":
 * rd.rdrescue.runbook=). It is written for the smallest shells and tool sets
 * it meets: dracut images have no cat, grep or touch, initramfs-tools has
 * busybox ash. Installed as /usr/lib/rdrescue/boot-runbook.sh; initramfs-tools
 * runs the same file as scripts/init-bottom/rdrescue-runbook, dracut calls it
 * from a pre-pivot hook.
 */
export const BOOT_RUNBOOK = `#!/bin/sh
# rdrescue: run a recovery runbook while the initramfs boots, with nobody at
# the console, on the mounted real root; the boot continues whatever happens.
# Which runbook: rd.rdrescue.runbook=PATH on the kernel command line, PATH a
# file in the initramfs or DEVICE:/path (LABEL=..., UUID=..., /dev/...) on a
# filesystem mounted read-only for the run; else the one baked in by
# \`rdrescue inject --runbook\`, which runs once (a marker in the target says so).
PREREQ=""
case "$1" in
prereqs)
	echo "$PREREQ"
	exit 0
	;;
esac
target="\${1:-\${rootmnt:-/root}}"
exec > /dev/console 2>&1
say() { echo "rdrescue: $*"; }

read -r cmdline < /proc/cmdline
arg=
for w in $cmdline; do
	case "$w" in rd.rdrescue.runbook=*) arg="\${w#rd.rdrescue.runbook=}" ;; esac
done

file=
mnt=
marker=
if [ -n "$arg" ]; then
	case "$arg" in
	/*) file="$arg" ;;
	*:/*)
		dev="\${arg%%:/*}"
		case "$dev" in
		LABEL=*) dev="/dev/disk/by-label/\${dev#LABEL=}" ;;
		UUID=*) dev="/dev/disk/by-uuid/\${dev#UUID=}" ;;
		esac
		i=0
		while [ ! -b "$dev" ] && [ "$i" -lt 20 ]; do
			sleep 1
			i=$((i + 1))
		done
		mnt=/run/rdrescue/runbook-source
		mkdir -p "$mnt"
		if ! mount -o ro "$dev" "$mnt"; then
			say "cannot mount $dev for rd.rdrescue.runbook=$arg; boot continues"
			exit 0
		fi
		file="$mnt/\${arg#*:/}"
		;;
	*)
		say "rd.rdrescue.runbook=$arg: give /path/in/initramfs or DEVICE:/path; boot continues"
		exit 0
		;;
	esac
else
	for f in /etc/rdrescue/runbook-*; do
		[ -f "$f" ] || continue
		file="$f"
		marker="$target/var/lib/rdrescue/\${f##*/}.done"
	done
	[ -n "$file" ] || exit 0
	[ -e "$marker" ] && exit 0
fi

say "running runbook $file on $target"
/usr/bin/rdrescue run "$file" --yes --root "$target"
rc=$?
if [ "$rc" -eq 0 ]; then
	say "runbook $file: done; boot continues"
else
	say "runbook $file: FAILED (exit $rc), see the report above; boot continues"
fi

if [ -n "$marker" ] && [ "$rc" -eq 0 ]; then
	# A baked-in runbook runs once: record it in the target, leaving its mount as it was.
	opts=
	while read -r _dev mp _type o _rest; do
		[ "$mp" = "$target" ] && opts="$o"
	done < /proc/mounts
	case ",$opts," in *,ro,*) mount -o remount,rw "$target" ;; esac
	mkdir -p "\${marker%/*}" && ( : > "$marker" ) || say "could not record $marker: the runbook will run again at the next boot"
	case ",$opts," in *,ro,*) mount -o remount,ro "$target" ;; esac
fi
[ -n "$mnt" ] && umount "$mnt"
exit 0
`;

/** dracut sources its hooks inside init, so the hook only starts the script as a separate process. */
export const DRACUT_PRE_PIVOT = `#!/bin/sh
# rdrescue: unattended runbook before the switch to the real root (see /usr/lib/rdrescue/boot-runbook.sh)
if [ -x /usr/lib/rdrescue/boot-runbook.sh ]; then
    /usr/lib/rdrescue/boot-runbook.sh "\${NEWROOT:-/sysroot}"
fi
`;

/** Where the hooks go in each kind of image, and initramfs-tools' list of what init-bottom runs in order. */
export const DRACUT_HOOK_PATH = 'usr/lib/dracut/hooks/pre-pivot/90-rdrescue-runbook.sh';
export const INIT_BOTTOM_PATH = 'scripts/init-bottom/rdrescue-runbook';
export const INIT_BOTTOM_ORDER = 'scripts/init-bottom/ORDER';
export const INIT_BOTTOM_LINE = `/${INIT_BOTTOM_PATH} "$@"`;
