import { readElf } from '../elf/elf.js';
import { RdError, EXIT } from '../errors.js';

/**
 * What the thin launcher must know about the executable it will start, read
 * from the executable doing the inject (the same build the package installs
 * on the target): the loader it asks for, the newest glibc symbol version it
 * needs, and where the target keeps libraries of its architecture.
 */
export interface LauncherFacts {
  /** PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2, looked up inside the target root. */
  interpreter: string;
  /** The newest GLIBC_x.y the executable needs (ld.so refuses to start it on an older libc); undefined if it names none. */
  glibc?: string;
  /** Library directories inside the target, in the order the target's own ld.so would search them. */
  libDirs: string[];
}

/** Debian's multiarch directory for each e_machine the executable can be built for. */
const TRIPLETS: Record<number, string> = { 62: 'x86_64-linux-gnu', 183: 'aarch64-linux-gnu', 3: 'i386-linux-gnu', 243: 'riscv64-linux-gnu' };

function versionKey(v: string): number[] {
  return v.split('.').map(Number);
}

export function newestGlibc(versions: string[]): string | undefined {
  let best: string | undefined;
  for (const name of versions) {
    const m = /^GLIBC_(\d+\.\d+)/.exec(name);
    if (!m) continue;
    const [a, b] = versionKey(m[1]);
    if (!best || a > versionKey(best)[0] || (a === versionKey(best)[0] && b > versionKey(best)[1])) best = m[1];
  }
  return best;
}

export function launcherFacts(exe: string): LauncherFacts {
  const elf = readElf(exe);
  if (!elf.interpreter) throw new RdError('has no ELF interpreter (PT_INTERP): the rdrescue executable is a dynamically linked Node binary', { file: exe }, EXIT.usage);
  const triplet = TRIPLETS[elf.machine];
  const libDirs = [
    ...(triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`] : []),
    ...(elf.class === 64 ? ['/lib64', '/usr/lib64'] : []),
    '/lib',
    '/usr/lib',
  ];
  return { interpreter: elf.interpreter, glibc: newestGlibc(elf.versionsNeeded.flatMap((v) => v.versions)), libDirs };
}

/** Where the packages install the executable, in the order the launcher tries them. */
export const EXE_PATHS = ['/usr/bin/rdrescue', '/usr/local/bin/rdrescue', '/usr/lib/rdrescue/rdrescue'];

/**
 * The launcher put into an image as /usr/bin/rdrescue instead of 110 MiB:
 * it starts the executable installed on the mounted target root with that
 * root's own loader and libraries, found like `rdrescue env` finds the root.
 * Written for busybox ash and dash as much as bash; it needs no cat, grep or
 * sed (dracut images have none), only readlink and test -ef, which dracut's base module
 * and busybox both provide. No LD_LIBRARY_PATH is set: --library-path reaches
 * only the loader of this one process, so programs rdrescue runs (chroot,
 * mount, dracut in the target) load their own libraries as usual.
 * RDRESCUE_EXE and RDRESCUE_ROOT tell the executable where it and its root are
 * (under an explicit loader process.execPath is the loader); rdrescue takes
 * both out of its environment before it runs anything.
 */
export function thinLauncher(f: LauncherFacts): Buffer {
  const [major, minor] = f.glibc ? versionKey(f.glibc) : [0, 0];
  return Buffer.from(`#!/bin/sh
# rdrescue thin launcher, added by \`rdrescue inject --thin\` or the dracut and
# initramfs-tools hooks: the executable stays on the real root, which the
# initramfs has mounted (dracut /sysroot, initramfs-tools /root, mkinitcpio
# /new_root; RDRESCUE_ROOT=DIR for anywhere else), and runs with that root's
# own loader and libraries. Nothing from the root is copied into the image.
interp=${f.interpreter}
libdirs="${f.libDirs.join(' ')}"
exes="${EXE_PATHS.join(' ')}"
need_major=${major}
need_minor=${minor}

say() { echo "rdrescue: $*" >&2; }

# The path of /$1 inside $root as seen after chroot $root: absolute links
# restart at $root, .. stops there. Prints nothing when it does not exist.
in_root() {
	rest=\${1#/}
	cur=
	links=0
	while [ -n "$rest" ]; do
		c=\${rest%%/*}
		case "$rest" in */*) rest=\${rest#*/} ;; *) rest= ;; esac
		case "$c" in
		'' | .) continue ;;
		..) cur=\${cur%/*}; continue ;;
		esac
		if [ -L "$root$cur/$c" ]; then
			links=$((links + 1))
			[ "$links" -le 40 ] || return 1
			t=$(readlink "$root$cur/$c") || return 1
			case "$t" in /*) cur= ;; esac
			rest=$t\${rest:+/$rest}
		else
			cur=$cur/$c
		fi
	done
	[ -e "$root$cur" ] && echo "$root$cur"
}

is_mounted() {
	[ -r /proc/mounts ] || return 1
	while read -r _dev mp _rest; do
		[ "$mp" = "$1" ] && return 0
	done < /proc/mounts
	return 1
}

# The mount command for root= on the kernel command line, like \`rdrescue env\` prints it.
mount_hint() {
	where=/sysroot
	[ -e /scripts/functions ] && where=/root
	[ -e /init_functions ] && where=/new_root
	dev= fstype= flags=
	cmdline=
	[ -r /proc/cmdline ] && read -r cmdline < /proc/cmdline
	for w in $cmdline; do
		case "$w" in
		root=*) dev=\${w#root=} ;;
		rootfstype=*) fstype=" -t \${w#rootfstype=}" ;;
		rootflags=*) flags=",\${w#rootflags=}" ;;
		esac
	done
	case "$dev" in
	UUID=*) dev=/dev/disk/by-uuid/\${dev#UUID=} ;;
	LABEL=*) dev=/dev/disk/by-label/\${dev#LABEL=} ;;
	PARTUUID=*) dev=/dev/disk/by-partuuid/\${dev#PARTUUID=} ;;
	PARTLABEL=*) dev=/dev/disk/by-partlabel/\${dev#PARTLABEL=} ;;
	block:*) dev=\${dev#block:} ;;
	esac
	if [ -n "$dev" ]; then
		echo "mount it: mount$fstype -o ro$flags $dev $where"
	else
		echo "mount it read-only on $where (no root= on the kernel command line says which device)"
	fi
}

full="boot an image made by \\\`rdrescue inject\\\` without --thin, which carries rdrescue and its libraries"

root=
if [ -n "\${RDRESCUE_ROOT:-}" ]; then
	root=\${RDRESCUE_ROOT%/}
	if [ ! -d "$root/" ]; then
		say "RDRESCUE_ROOT=$RDRESCUE_ROOT is not a directory: mount the real root there, or unset RDRESCUE_ROOT to look in /sysroot, /root and /new_root"
		exit 4
	fi
	if [ "$root/" -ef / ]; then
		say "RDRESCUE_ROOT=$RDRESCUE_ROOT is the initramfs itself, not the system to rescue: $(mount_hint), then run rdrescue again"
		exit 4
	fi
else
	for d in \${NEWROOT:-} /sysroot /root /new_root; do
		if is_mounted "$d"; then
			root=$d
			break
		fi
	done
	if [ -z "$root" ]; then
		say "the real root is not mounted on /sysroot, /root or /new_root: $(mount_hint), then run rdrescue again (RDRESCUE_ROOT=DIR if it is elsewhere)"
		exit 4
	fi
fi

exe=
for p in $exes; do
	e=$(in_root "$p") || continue
	# RDRESCUE_ROOT=/ would find this launcher itself.
	[ -n "$e" ] && [ -f "$e" ] && ! [ "$e" -ef "$0" ] && exe=$e && break
done
if [ -z "$exe" ]; then
	say "no rdrescue executable on the root $root (looked for $exes there): install the rdrescue package on that system, or $full"
	exit 1
fi

ldso=$(in_root "$interp")
if [ -z "$ldso" ]; then
	say "the root $root has no $interp, the loader $exe needs: $full"
	exit 1
fi

libpath=
for d in $libdirs; do
	p=$(in_root "$d") && [ -n "$p" ] && libpath=$libpath\${libpath:+:}$p
done

# glibc before 2.34 names its file libc-X.Y.so; later ones answer ld.so --version.
have=
oldifs=$IFS
IFS=:
for d in $libpath; do
	for f in "$d"/libc-[0-9]*.so; do
		[ -e "$f" ] || continue
		have=\${f##*/libc-}
		have=\${have%.so}
	done
	[ -n "$have" ] && break
done
IFS=$oldifs
if [ -z "$have" ]; then
	v=$("$ldso" --version 2> /dev/null) || v=
	v=\${v%%"
"*}
	case "$v" in *" version "*) have=\${v##* version }; have=\${have%.} ;; esac
fi
case "$have" in
[0-9]*.[0-9]*)
	hmaj=\${have%%.*}
	hmin=\${have#*.}
	hmin=\${hmin%%[!0-9]*}
	if [ "$hmaj" -lt "$need_major" ] || { [ "$hmaj" -eq "$need_major" ] && [ "$hmin" -lt "$need_minor" ]; }; then
		say "the root $root has glibc $have, older than the $need_major.$need_minor that $exe needs: $full"
		exit 1
	fi
	;;
esac

RDRESCUE_EXE=$exe
RDRESCUE_ROOT=$root
export RDRESCUE_EXE RDRESCUE_ROOT
exec "$ldso" --inhibit-cache --library-path "$libpath" "$exe" "$@"
`);
}
