/**
 * The setup stage: a POSIX sh script that `unshare` runs as PID 1 of the new
 * namespaces. It still sees the host's filesystem (the mount namespace is a
 * private copy), so it uses the host's mount, hostname, ip and chroot to
 * build the sandbox root, and only then enters it: a tree such as a busybox
 * initramfs has no Node and maybe none of these tools.
 *
 * Every mount is made inside the new mount namespace, on a tmpfs laid over a
 * host directory (SCRATCH) only in that namespace, so the host's mount table
 * never changes and the kernel removes it all when the last process inside
 * exits, even after SIGKILL.
 *
 * The root is entered the way an initramfs hands over to the real root:
 * `mount --move` of the new root onto `/`, then chroot. The old root stays
 * underneath, unreachable by any path (`..` at a mount root follows back down
 * into the mount on top).
 *
 * Fd 3 is the status pipe to rdrescue: setup errors go there (stderr is
 * redirected) and `ready` is written just before the command is started, so
 * rdrescue can tell a setup failure from the command's own exit status.
 *
 * Inputs: environment (RDS_*) and positional arguments
 *   NBINDS, then KIND SRC DST per bind (KIND dir|file, DST resolved inside the tree), then the command.
 */
export const STAGE_SCRIPT = String.raw`
set -eu
exec 4>&2 2>&3
C=$RDS_SCRATCH
R=$C/root
mount -n -t tmpfs -o mode=0755,size=64m rdrescue-scratch "$C"
mkdir "$R"
if [ "$RDS_MODE" = rw ]; then
  mount -n --bind "$RDS_DIR" "$R"
else
  mkdir "$C/lower" "$C/upper" "$C/work"
  mount -n --bind "$RDS_DIR" "$C/lower"
  mount -n -o remount,bind,ro "$C/lower"
  mount -n -t overlay -o lowerdir="$C/lower",upperdir="$C/upper",workdir="$C/work" rdrescue-sandbox "$R"
fi

mkpoint() { # KIND INNER: make a missing mount point (the caller checked the type of an existing one)
  [ -e "$R$2" ] && return 0
  if [ "$1" = file ]; then mkdir -p "$R$(dirname "$2")"; : > "$R$2"; else mkdir -p "$R$2"; fi
}

mkpoint dir "$RDS_PROC"; mount -n -t proc -o nosuid,nodev,noexec proc "$R$RDS_PROC"
mkpoint dir "$RDS_SYS"; mount -n -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R$RDS_SYS"
mkpoint dir "$RDS_DEV"; D=$R$RDS_DEV
mount -n -t tmpfs -o mode=0755,nosuid,nodev,size=1m rdrescue-dev "$D"
for n in null zero random urandom tty; do : > "$D/$n"; mount -n --bind "/dev/$n" "$D/$n"; done
: > "$D/console"
if [ -t 0 ] && tty=$(tty); then mount -n --bind "$tty" "$D/console"; else mount -n --bind /dev/null "$D/console"; fi
mkdir "$D/pts" "$D/shm"
mount -n -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$D/pts"
mount -n -t tmpfs -o mode=1777,nosuid,nodev rdrescue-shm "$D/shm"
ln -s pts/ptmx "$D/ptmx"; ln -s /proc/self/fd "$D/fd"
ln -s /proc/self/fd/0 "$D/stdin"; ln -s /proc/self/fd/1 "$D/stdout"; ln -s /proc/self/fd/2 "$D/stderr"
for t in "$RDS_TMP" "$RDS_RUN"; do
  if [ -n "$t" ]; then mount -n -t tmpfs -o mode=1777,nosuid,nodev rdrescue-tmp "$R$t"; fi
done

n=$1; shift
while [ "$n" -gt 0 ]; do
  mkpoint "$1" "$3"
  mount -n --bind "$2" "$R$3"
  [ "$RDS_MODE" = rw ] || mount -n -o remount,bind,ro "$R$3"
  shift 3; n=$((n - 1))
done

hostname "$RDS_HOSTNAME"
if command -v ip > /dev/null; then ip link set lo up; fi
if [ -n "$RDS_VETH" ]; then
  host_ns=/proc/$RDS_HOST_PID/ns/net
  ip link add eth0 type veth peer name "$RDS_VETH" netns "$host_ns"
  nsenter --net="$host_ns" sh -c '
    echo 0 > "/proc/sys/net/ipv4/conf/$1/forwarding"
    ip addr add "$2" dev "$1"
    ip link set "$1" up' sh "$RDS_VETH" "$RDS_VETH_HOST_ADDR"
  ip addr add "$RDS_VETH_SANDBOX_ADDR" dev eth0
  ip link set eth0 up
fi

if [ "$RDS_MODE" = ro ]; then mount -n -o remount,bind,ro,nodev "$R"; else mount -n -o remount,bind,nodev "$R"; fi
cd "$R"
mount -n --move . /
echo ready >&3
exec 2>&4 3>&- 4>&-
exec env -i PATH="$RDS_PATH" HOME=/root TERM="$RDS_TERM" RDRESCUE_SANDBOX=1 RDRESCUE_SANDBOX_HOST="$RDS_VETH_PEER" chroot . "$@"
`;
