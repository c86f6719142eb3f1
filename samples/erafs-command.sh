# Sourced by the samples: which erafs to run. $ERAFS when set (e.g. "dotnet erafs.dll"), else the
# erafs on PATH (an installed one), else the checkout's ./erafs, which builds itself.
if [[ -z ${ERAFS:-} ]]; then
    if command -v erafs >/dev/null 2>&1; then
        ERAFS=erafs
    else
        ERAFS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/erafs"
    fi
fi
