/**
 * The setup stage: a POSIX sh script that `unshare` runs inside the new
 * mount, UTS, IPC and network namespaces (and user namespace when not root).
 * It still sees the host's filesystem (the mount namespace is a private
 * copy), so it uses the host's mount, hostname, ip and chroot to build the
 * sandbox root: a tree such as a busybox initramfs has no Node and maybe none
 * of these tools.
 *
 * Every mount is made inside the new mount namespace, on a tmpfs laid over a
 * host directory (SCRATCH) only in that namespace, so the host's mount table
 * never changes and the kernel removes it all when the last process inside
 * exits, even after SIGKILL.
 *
 * The PID namespace is unshared without --fork: the stage itself stays in
 * the host's PID namespace and its first child becomes PID 1. That child
 * waits (reading fd 5) until rdrescue says go, mounts /proc (only a process
 * inside the new PID namespace can mount a /proc that shows it), enters the
 * root the way an initramfs hands over to the real root (`mount --move` of
 * the new root onto `/`, then chroot; the old root stays underneath,
 * unreachable by any path) and execs the command, so the command is PID 1.
 * The stage waits for it and exits with its status, 128+N when signal N
 * killed it (util-linux 2.38's `unshare --fork` exits 1 instead when its
 * child dies of SIGKILL, which is why it is not used).
 *
 * Fd 3 is the status pipe to rdrescue: setup errors go there (stderr is
 * redirected), then `setup-done PID` (PID 1's host PID) and, from PID 1 just
 * before the exec, `started`, so rdrescue can tell a setup failure from the
 * command's own exit status. PID 1 runs under `setpriv --pdeathsig KILL`:
 * when the stage dies (it has the same setting towards rdrescue), so does
 * the sandbox.
 *
 * Inputs: environment (RDS_*) and positional arguments
 *   NBINDS, then KIND SRC DST per bind (KIND dir|file, DST resolved inside the tree), then the command.
 */
export const STAGE_SCRIPT = String.raw`
set -eu
exec 4>&2 2>&3 6<&0
C=$RDS_SCRATCH
R=$C/root
n=$1; shift
bindargs=$((3 * n))

(
  read -r go <&5 && [ "$go" = go ] || exit 125
  exec 5<&- 6<&-
  mount -n -t proc -o nosuid,nodev,noexec proc "$R$RDS_PROC"
  cd "$R"
  mount -n --move . /
  shift "$bindargs"
  echo started >&3
  exec 2>&4 3>&- 4>&-
  # An asynchronous list starts with SIGINT and SIGQUIT ignored, and exec keeps that: Ctrl-C would not reach the command.
  sig=--default-signal=INT,QUIT
  env "$sig" true 2> /dev/null || sig=-i # coreutils < 8.31 has no --default-signal
  exec setpriv --pdeathsig KILL --bounding-set "$RDS_DROP_CAPS" -- env -i "$sig" PATH="$RDS_PATH" HOME=/root TERM="$RDS_TERM" RDRESCUE_SANDBOX=1 RDRESCUE_SANDBOX_HOST="$RDS_VETH_PEER" chroot . "$@"
) 0<&6 & # an explicit stdin: an asynchronous list would otherwise get /dev/null
init=$!
trap 'kill -KILL "$init" 2> /dev/null || :' EXIT
exec 5<&- 6<&-

mount -n -t tmpfs -o mode=0755 rdrescue-scratch "$C"
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

mkpoint dir "$RDS_PROC"
mkpoint dir "$RDS_SYS"; mount -n -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R$RDS_SYS"
mkpoint dir "$RDS_DEV"; D=$R$RDS_DEV
mount -n -t tmpfs -o mode=0755,nosuid,nodev,size=1m rdrescue-dev "$D"
for node in null zero random urandom tty; do : > "$D/$node"; mount -n --bind "/dev/$node" "$D/$node"; done
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
echo "setup-done $init" >&3
trap - EXIT
# Signals are rdrescue's to forward; here they only interrupt wait (a handler, unlike an ignore, is not inherited by PID 1).
trap : INT TERM HUP QUIT
exec 2> /dev/null 3>&- 4>&- # the command's fate is rdrescue's to report (no "Killed" from sh)
while :; do
  if wait "$init"; then status=0; else status=$?; fi
  kill -0 "$init" 2> /dev/null || break
done
exit "$status"
`;
