#!/bin/sh
# Entry point of the xbranch image; installed as /usr/local/bin/xbranch-entrypoint.
#
# The image is used two ways and this keeps both working:
#   docker run IMAGE create --sandbox pr-7        -> xbranch create --sandbox pr-7
#   docker run IMAGE --version                    -> xbranch --version
#   (Signadot step) IMAGE /path/to/step-script    -> runs the script (its shebang)
#   IMAGE sh -c '...'  /  IMAGE xbranch ...       -> runs that command
#   IMAGE '#!/bin/sh<newline>...'                 -> script text given as one
#                                                    argument: written to a temp
#                                                    file and run
# It is not documented whether the Signadot operator replaces the
# entrypoint with the step script or passes the script as arguments; if it
# replaces it, this file is simply not involved.
set -eu

xbranch=/usr/local/bin/xbranch

if [ "$#" -eq 0 ]; then
    exec "$xbranch" --help
fi

case "$1" in
    create | delete | status | url | list | gc | help | -*)
        # An xbranch subcommand or a global flag.
        exec "$xbranch" "$@"
        ;;
    '#!'*)
        # The script's text itself. Keep it in a private temp file and run
        # it through its shebang; the file is left for the kernel to read,
        # so it cannot be removed before exec (it lives in TMPDIR).
        tmp="$(mktemp "${TMPDIR:-/tmp}/xbranch-step.XXXXXX")"
        printf '%s\n' "$1" >"$tmp"
        chmod 0700 "$tmp"
        shift
        exec "$tmp" "$@"
        ;;
esac

# A command or a script path. A script file that is not executable (for
# instance mounted from a ConfigMap without the x bit) is run through the
# interpreter named on its first line.
if [ -f "$1" ] && [ ! -x "$1" ]; then
    first="$(head -n 1 "$1")"
    case "$first" in
        '#!'*)
            interp="${first#'#!'}"
            # Word splitting of the shebang line is wanted here
            # ("/usr/bin/env sh", "/bin/sh -eu").
            # shellcheck disable=SC2086
            exec $interp "$@"
            ;;
        *)
            exec /bin/sh "$@"
            ;;
    esac
fi

exec "$@"
