#!/usr/bin/env python3
"""Shoebox masks for `nanobragg ensemble` shot lists (`mask = "..."` in a [[shot]] table).

For every noiseless render DIR/<stem>.bin (raw 4-byte floats, as `nanobragg batch` writes
next to <stem>.img), keep the pixels within RADIUS (a square of side 2·RADIUS + 1) of any
pixel brighter than FRACTION of the image's brightest, and write DIR/<stem>.mask.img: the
SMV layout of DIR/<stem>.img (its size and byte order only: no geometry key, see header_of)
with 1 (kept) or 0 (skipped) as unsigned shorts. Prints the
fraction of pixels kept over all images.

Usage: scripts/shoebox_masks.py DIR [RADIUS=5] [FRACTION=0.05]
Pure Python (no numpy): a few seconds per 100 images of 192² pixels.
"""
import array
import glob
import os
import re
import sys


def header_of(img_path):
    """A mask header for the SMV file's pixel layout, and its SIZE1 (fast pixels) and byte
    order. Only the layout keys are written: a `-mask` header's geometry keys set the
    detector as the C program does (its BEAM_CENTER_Y flipped to `detsize_s - y`), so copying
    the image's header would move the beam centre by about a pixel."""
    with open(img_path, "rb") as f:
        head = f.read(512).decode("latin-1")
    keys = dict(re.findall(r"([A-Z_0-9]+)=([^;]*);", head))
    order = keys.get("BYTE_ORDER", "little_endian").strip()
    fast, slow = int(keys["SIZE1"]), int(keys["SIZE2"])
    text = f"{{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER={order};\nTYPE=unsigned_short;\nSIZE1={fast};\nSIZE2={slow};\n}}\n"
    return text.encode("latin-1").ljust(512, b" "), fast, order


def dilate_1d(rows, n, radius):
    """Each run of `n` values in `rows` (flat) dilated by `radius` along the run."""
    out = bytearray(len(rows))
    for start in range(0, len(rows), n):
        last = -radius - 1
        for i in range(n):
            if rows[start + i]:
                lo = max(i - radius, last + radius + 1, 0)
                out[start + lo:start + min(i + radius, n - 1) + 1] = b"\x01" * (min(i + radius, n - 1) + 1 - lo)
                last = i
    return out


def transpose(flat, fast, slow):
    return bytes(flat[s * fast + f] for f in range(fast) for s in range(slow))


def main():
    folder = sys.argv[1]
    radius = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    fraction = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
    kept = total = 0
    for bin_path in sorted(glob.glob(os.path.join(folder, "*.bin"))):
        stem = bin_path[:-4]
        if not os.path.exists(stem + ".img"):
            continue  # not a render (Fdump.bin)
        header, fast, order = header_of(stem + ".img")
        values = array.array("f")
        with open(bin_path, "rb") as f:
            values.frombytes(f.read())
        slow = len(values) // fast
        peak = max(values)
        bright = bytearray(v > fraction * peak for v in values)
        along_fast = dilate_1d(bright, fast, radius)
        along_slow = dilate_1d(transpose(along_fast, fast, slow), slow, radius)
        mask = transpose(along_slow, slow, fast)
        words = array.array("H", list(mask))
        if (order == "big_endian") != (sys.byteorder == "big"):
            words.byteswap()
        with open(stem + ".mask.img", "wb") as f:
            f.write(header)
            f.write(words.tobytes())
        kept += sum(mask)
        total += len(mask)
    print(f"shoebox masks: {kept} of {total} pixels kept ({100.0 * kept / max(total, 1):.1f} %)")


if __name__ == "__main__":
    main()
