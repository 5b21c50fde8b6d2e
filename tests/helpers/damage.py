"""Damage done to files on purpose, as a bit-flip on disk or a hand edit would."""

import json
import struct


def flip_bit(path, tensor, bit=30):
    """Flip one bit of the first element of ``tensor`` in a safetensors file (bit 30: the exponent)."""
    raw = bytearray(path.read_bytes())
    header_size = struct.unpack("<Q", raw[:8])[0]
    start = 8 + header_size + json.loads(raw[8:8 + header_size])[tensor]["data_offsets"][0]
    raw[start + bit // 8] ^= 1 << (bit % 8)
    path.write_bytes(bytes(raw))


def edit_bytes(path, old, new):
    """Replace ``old`` by ``new`` (same length) in a file, as a bit-flip or a hand edit would."""
    raw = path.read_bytes()
    assert raw.count(old) == 1 and len(old) == len(new)
    path.write_bytes(raw.replace(old, new))
