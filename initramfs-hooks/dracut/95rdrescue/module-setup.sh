#!/bin/bash
# dracut module: puts rdrescue into the image so that `rdrescue` runs in the
# rd.break shell. rdrescue brings its own loader and libraries in a private
# tree (/usr/lib/rdrescue) plus the launcher /usr/bin/rdrescue; the image's
# libraries are never replaced.
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
    # rdrescue itself works out the library closure from the ELF headers, so
    # the private tree is exactly what `rdrescue inject` appends to an image.
    "$exe" inject --stage "$initdir" --exe "$exe" || {
        dfatal "rdrescue: could not install into $initdir"
        return 1
    }
    # Upstream dracut images ship no chroot; `rdrescue chroot` and people need one.
    inst_multiple chroot
    # Unattended runbooks (rd.rdrescue.runbook=) run on the mounted root just before the switch to it.
    inst_hook pre-pivot 90 "$initdir/usr/lib/rdrescue/dracut-pre-pivot.sh"
}
