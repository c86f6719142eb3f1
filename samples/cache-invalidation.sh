#!/usr/bin/env bash
# The cache use case: an image sits under a cache (dm-cache, a CDN, a read cache on another host).
# The storage vendor snapshots the image; later the image is rolled back to that snapshot. Every
# cached block written after the snapshot is now stale, and only those must be invalidated:
#   1. mount the image with era tracking
#   2. the vendor snapshot: checkpoint, note the era E, copy the image aside
#   3. ... the image is written (blocks listed in WRITE_BLOCKS, one 64 KiB tracking block each) ...
#   4. take_metadata_snap, list the blocks written since E, drop_metadata_snap, unmount
#   5. roll the image back to the vendor snapshot (erafs copy of only those blocks) and print the
#      blocks the cache must invalidate
# Usage: cache-invalidation.sh IMAGE WORKDIR   (ERAFS may name the erafs command, e.g. "dotnet erafs.dll";
#   without it the erafs on PATH is used, else this checkout's ./erafs)
# Prints one line per block to invalidate (tracking block numbers of 64 KiB).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/erafs-command.sh"
image=$(realpath "$1")
work=$(realpath "$2")
block_size=65536
meta=$work/image.era
mnt=$work/mnt
vendor_snapshot=$work/vendor-snapshot.img

mkdir -p "$mnt"
$ERAFS mount --origin "$image" --metadata "$meta" --create --block-size "$block_size" --log-file "$work/erafs.log" "$mnt" >/dev/null
trap '$ERAFS unmount "$mnt" >/dev/null 2>&1 || true' EXIT

echo 1 > "$mnt/checkpoint"
era=$(cat "$mnt/checkpoint")
cp --sparse=always "$image" "$vendor_snapshot"

for block in ${WRITE_BLOCKS:-3 10 11 12 200}; do
    dd if=/dev/urandom of="$mnt/device" bs=$block_size count=1 seek="$block" oflag=direct conv=notrunc status=none
done

echo 1 > "$mnt/take_metadata_snap"
list=$($ERAFS invalidate --metadata-snapshot --written-since "$era" "$meta")
echo 1 > "$mnt/drop_metadata_snap"
$ERAFS unmount "$mnt" >/dev/null
trap - EXIT

# Roll back beneath EraFs, as the vendor would; only the blocks written since E differ, so only they
# are copied back. The cache must now drop exactly these blocks.
$ERAFS copy --written-since "$era" --from "$vendor_snapshot" --to "$image" "$meta" >&2
sed -n -e 's|.*<block block="\([0-9]*\)"/>.*|\1 \1|p' \
       -e 's|.*<range begin="\([0-9]*\)" end *= *"\([0-9]*\)"/>.*|\1 \2|p' <<< "$list" |
while read -r begin end; do
    [ "$end" = "$begin" ] && end=$(( begin + 1 ))
    seq "$begin" $(( end - 1 ))
done
