"""A minimal reader of uncompressed baseline TIFF stacks (enough for the sample data)."""

from __future__ import annotations

import re
import struct
from typing import Any

import numpy as np

__all__ = [
    "read_tiff_stack",
]


TIFF_TYPES = {
    1: "B",
    2: "c",
    3: "H",
    4: "I",
    5: "II",
    6: "b",
    7: "B",
    8: "h",
    9: "i",
    10: "ii",
    11: "f",
    12: "d",
}


def read_tiff_stack(buf: bytes) -> np.ndarray:
    """Decode an uncompressed, single-channel (multi-page) baseline TIFF into an array.

    Enough for the sample data: ImageJ stacks, written either with one IFD per slice or
    with one IFD and an ``images=N`` description.  Compressed TIFFs raise ``ValueError``.
    """
    if buf[:2] == b"II":
        bo = "<"
    elif buf[:2] == b"MM":
        bo = ">"
    else:
        raise ValueError("not a TIFF file")
    (magic,) = struct.unpack(bo + "H", buf[2:4])
    if magic != 42:
        raise ValueError("unsupported TIFF variant (BigTIFF?)")
    (offset,) = struct.unpack(bo + "I", buf[4:8])
    pages = []
    first: dict[int, Any] | None = None
    while offset:
        (n,) = struct.unpack(bo + "H", buf[offset : offset + 2])
        tags: dict[int, Any] = {}
        for i in range(n):
            e = offset + 2 + 12 * i
            tag, typ, count = struct.unpack(bo + "HHI", buf[e : e + 8])
            fmt = TIFF_TYPES.get(typ)
            if fmt is None:
                continue
            size = struct.calcsize(bo + fmt) * count
            if size <= 4:
                raw = buf[e + 8 : e + 8 + size]
            else:
                (vo,) = struct.unpack(bo + "I", buf[e + 8 : e + 12])
                raw = buf[vo : vo + size]
            if typ == 2:
                tags[tag] = raw.rstrip(b"\0").decode("latin-1")
            else:
                tags[tag] = list(struct.unpack(bo + fmt * count, raw))
        if first is None:
            first = tags
        width, height = tags[256][0], tags[257][0]
        bits = tags.get(258, [1])[0]
        if tags.get(259, [1])[0] != 1:
            raise ValueError("compressed TIFF data is not supported")
        if tags.get(277, [1])[0] != 1:
            raise ValueError("multi-channel TIFF data is not supported")
        kind = {1: "u", 2: "i", 3: "f"}[tags.get(339, [1])[0]]
        dt = np.dtype(f"{bo}{kind}{bits // 8}")
        data = b"".join(buf[o : o + c] for o, c in zip(tags[273], tags[279]))
        pages.append((np.frombuffer(data, dtype=dt, count=width * height), height, width, dt))
        (offset,) = struct.unpack(bo + "I", buf[offset + 2 + 12 * n : offset + 6 + 12 * n])
    if not pages:
        raise ValueError("TIFF file has no images")
    desc = first.get(270, "") if first else ""
    m = re.search(r"images=(\d+)", desc) if isinstance(desc, str) else None
    _, h, w, dt = pages[0]
    if len(pages) == 1 and m and int(m.group(1)) > 1:
        n_img = int(m.group(1))
        start = first[273][0]
        arr = np.frombuffer(buf, dtype=dt, count=n_img * h * w, offset=start)
        return arr.reshape(n_img, h, w).astype(dt.newbyteorder("="))
    stack = np.stack([p[0].reshape(p[1], p[2]) for p in pages])
    return stack.astype(stack.dtype.newbyteorder("="))
