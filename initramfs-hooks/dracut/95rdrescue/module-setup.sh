#!/bin/bash
# dracut module: makes `rdrescue` runnable in the rd.break shell.
#
# By default only a launcher of a few KiB goes in (/usr/bin/rdrescue): at the
# prompt it starts the rdrescue installed on the mounted root (/sysroot) with
# that root's own loader and libraries. RDRESCUE_MODE=full (in a file in
# /etc/dracut.conf.d/, or the environment) puts in the whole executable with
# its own loader and libraries instead (about 110 MiB), for a root that may
# be unreadable or has no rdrescue.
#
# The executable is $RDRESCUE_EXE, else `rdrescue` in PATH; it must be the
# single executable (dist/rdrescue), not the npm package's Node script.

rdrescue_exe() {
    local exe="${RDRESCUE_EXE:-$(command -v rdrescue 2> /dev/null)}"
    [[ -n $exe && -x $exe ]] || return 1
    echo "$exe"
}

# called by dracut
check() {
    # Included by default once installed: a rescue tool is of no use if it
    # has to be asked for before the server breaks.
    rdrescue_exe > /dev/null || {
        dwarn "rdrescue: executable not found (set RDRESCUE_EXE or put rdrescue in PATH)"
        return 1
    }
    return 0
}

# called by dracut
depends() {
    return 0
}

# called by dracut
install() {
    local exe
    exe="$(rdrescue_exe)" || return 1
    # The same files `rdrescue inject [--thin]` appends to an image; rdrescue
    # reads the loader, glibc version and (full) library closure from the ELF headers.
    local mode=--thin
    case "${RDRESCUE_MODE:-thin}" in
        thin) ;;
        full) mode= ;;
        *) dwarn "rdrescue: RDRESCUE_MODE=$RDRESCUE_MODE is neither thin nor full; using thin" ;;
    esac
    "$exe" inject --stage "$initdir" --exe "$exe" $mode || {
        dfatal "rdrescue: could not install into $initdir"
        return 1
    }
    # Upstream dracut images ship no chroot; `rdrescue chroot` and people need one.
    inst_multiple chroot
    # Unattended runbooks (rd.rdrescue.runbook=) run on the mounted root just before the switch to it.
    inst_hook pre-pivot 90 "$initdir/usr/lib/rdrescue/dracut-pre-pivot.sh"
}
