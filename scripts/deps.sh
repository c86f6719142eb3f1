# Sourced by scripts/demo and scripts/test: installs the Debian packages EraFs needs when missing.
# shellcheck shell=bash

# etcd-server and etcd-client: the clustered region log's tests start their own three-member etcd.
erafs_packages=(fuse3 libfuse3-3 libfuse3-dev pkg-config gcc e2fsprogs util-linux fio thin-provisioning-tools
    python3-prometheus-client etcd-server etcd-client)

# What an installed erafs needs to run and mount (scripts/install); the rest is for building and tests.
erafs_runtime_packages=(fuse3 libfuse3-3 util-linux)

# erafs_install_deps [PACKAGE...]: the given packages (default: all of erafs_packages) when missing.
erafs_install_deps() {
    local missing=() wanted=("$@")
    ((${#wanted[@]} > 0)) || wanted=("${erafs_packages[@]}")
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then return 0; fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "erafs: missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
        return 1
    fi
    echo "erafs: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

erafs_require_dotnet() {
    if ! command -v dotnet >/dev/null; then
        echo "erafs: the .NET SDK (dotnet, 10.0) is required and not on PATH" >&2
        return 1
    fi
}
