#!/bin/sh
# Prints the CHANGELOG.md section of one version (without its heading):
#   .github/release-notes.sh 0.3.0 [CHANGELOG.md]
# Exits 1 when the version has no section or the section is empty.
set -eu
version="${1:?usage: release-notes.sh VERSION [CHANGELOG]}"
file="${2:-$(dirname "$0")/../CHANGELOG.md}"
notes="$(awk -v v="$version" '
    /^## \[/ { if (found) exit; if (index($0, "## [" v "]") == 1) { found = 1; next } }
    found { print }
' "$file")"
# Trim blank lines at both ends; fail on nothing left.
notes="$(printf '%s\n' "$notes" | sed -e '/./,$!d' | sed -e ':a' -e '/^\n*$/{$d;N;ba' -e '}')"
if [ -z "$notes" ]; then
    echo "release-notes: no section '## [$version]' in $file" >&2
    exit 1
fi
printf '%s\n' "$notes"
