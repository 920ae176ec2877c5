"""What an .npz holds, read from each member's .npy header before anything is unpacked (numpy only).

    with zipfile.ZipFile(path) as z:
        arrays = npz_headers(z, max_bytes=64 * 2**20)   # {"x": ((N, F), dtype('float64')), ...}

np.load trusts the header: it allocates the shape a member declares before reading a byte of
data (a 600-byte member declaring 10^12 rows asked for 14.6 TiB), and a member that is not an
.npy at all (a raw pickle) comes back as bytes. Here every member must be an .npy array of plain
values (no objects, so no pickles) whose declared data is exactly the bytes the member holds and
at most `max_bytes`; anything else raises NpzRefused naming the member and the limit.
"""
from __future__ import annotations

import math
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy

MAX_HEADER = 10_000  # numpy's own bound on a header it parses safely


class NpzRefused(ValueError):
    """A member of an .npz that is not read; the message names it and the limit."""


def _header(fh) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = npy.read_magic(fh)
    except ValueError:
        raise ValueError("it does not begin with the .npy magic string") from None
    if version == (1, 0):
        shape, _, dtype = npy.read_array_header_1_0(fh, max_header_size=MAX_HEADER)
    elif version == (2, 0):
        shape, _, dtype = npy.read_array_header_2_0(fh, max_header_size=MAX_HEADER)
    else:
        raise ValueError(f".npy format version {version[0]}.{version[1]}")
    return shape, dtype


def npz_headers(z: zipfile.ZipFile, max_bytes: int) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Each member's array name -> (shape, dtype), from its header; NpzRefused for a member that
    is not an .npy array of plain values, declares more than `max_bytes` of data, or declares
    other than the bytes it holds."""
    out = {}
    for info in z.infolist():
        name = info.filename
        shown = repr(name[:60])
        if not name.endswith(".npy"):
            raise NpzRefused(f"{shown} is not an .npy array")
        try:
            with z.open(info) as fh:
                shape, dtype = _header(fh)
                offset = fh.tell()
        except (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error) as exc:
            raise NpzRefused(f"{shown} is not an .npy array ({' '.join(str(exc).split())[:80]})") from None
        if dtype.hasobject:
            raise NpzRefused(f"{shown} holds Python objects ({dtype}); only arrays of numbers or text are read")
        if any(d < 0 for d in shape):
            raise NpzRefused(f"{shown} declares shape {shape}")
        nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
        if nbytes > max_bytes:
            raise NpzRefused(f"{shown} declares shape {shape} of {dtype} ({nbytes:,} bytes); "
                             f"at most {max_bytes:,} bytes")
        if nbytes != info.file_size - offset:
            raise NpzRefused(f"{shown} declares shape {shape} of {dtype} ({nbytes:,} bytes) but holds "
                             f"{max(info.file_size - offset, 0):,}")
        out[name[:-4]] = (tuple(shape), dtype)
    return out
