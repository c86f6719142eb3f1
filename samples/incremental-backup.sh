#!/usr/bin/env bash
# Incremental backup of a live EraFs image, the way dm-era is meant to be used:
#   1. mount the image with era tracking and attach MOUNT/device to a loop device (the "live" disk)
#   2. checkpoint, note the era E, and take a full base backup
#   3. ... the disk is used (this sample writes a few random blocks through the loop device) ...
#   4. take_metadata_snap, erafs copy the blocks written since E (read from the snapshot) from the
#      live disk with O_DIRECT, then drop_metadata_snap
#   5. verify the backup equals the image
# Usage: incremental-backup.sh IMAGE WORKDIR   (ERAFS may name the erafs command, e.g. "dotnet erafs.dll";
#   without it the erafs on PATH is used, else this checkout's ./erafs)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/erafs-command.sh"
image=$(realpath "$1")
work=$(realpath "$2")
block_size=65536
meta=$work/image.era
mnt=$work/mnt
backup=$work/backup.img
loop=

cleanup() {
    [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null || true
    $ERAFS unmount "$mnt" >/dev/null 2>&1 || true
}
trap cleanup EXIT

mkdir -p "$mnt"
$ERAFS mount --origin "$image" --metadata "$meta" --create --block-size "$block_size" --log-file "$work/erafs.log" "$mnt" >/dev/null
loop=$(losetup -f --show --direct-io=on "$mnt/device")

# Base backup: era 0 is every block. Writes after the checkpoint get era >= E, so they are exactly
# what the next run copies.
echo 1 > "$mnt/checkpoint"
era=$(cat "$mnt/checkpoint")
$ERAFS copy --written-since 0 --from "$mnt/device" --to "$backup" "$meta" >/dev/null
echo "base backup taken at era $era"

# The disk in use: a few random 4 KiB writes (O_DIRECT, so they reach EraFs now).
blocks=$(( $(stat -c %s "$image") / 4096 ))
for _ in $(seq 1 "${WRITES:-20}"); do
    dd if=/dev/urandom of="$loop" bs=4096 count=1 seek=$(( (RANDOM * 32768 + RANDOM) % blocks )) \
        oflag=direct conv=notrunc status=none
done

# Incremental: freeze the history, copy only what changed since E.
echo 1 > "$mnt/take_metadata_snap"
summary=$($ERAFS copy --written-since "$era" --metadata-snapshot --from "$mnt/device" --to "$backup" --format json "$meta")
copied=$(sed -n 's/.*"blocks":\([0-9]*\).*/\1/p' <<< "$summary")
echo 1 > "$mnt/drop_metadata_snap"
echo "incremental backup copied $copied blocks of $block_size bytes"

# Verify against the live disk (read through the loop device, as the backup was).
if cmp -s "$backup" "$loop"; then
    echo "backup equals the image"
else
    echo "backup differs from the image" >&2
    exit 1
fi
