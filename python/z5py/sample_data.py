"""Sample volumes for demos and tests: downloaded once into a cache directory, or made up."""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import Z5Error
from .tiff import read_tiff_stack

__all__ = [
    "STENT_URL",
    "T1_HEAD_URL",
    "DownloadError",
    "cache_dir",
    "download",
    "fetch_test_data",
    "fetch_test_data_stent",
    "make_sample_volume",
    "to_uint8",
]


#: Where :func:`fetch_test_data` downloads the T1 head MRI (ImageJ sample, 256x256x129).
T1_HEAD_URL = "https://imagej.net/ij/images/t1-head-raw.zip"


#: Where :func:`fetch_test_data_stent` downloads the stent CT volume (imageio sample).
STENT_URL = "https://raw.githubusercontent.com/imageio/imageio-binaries/master/images/stent.npz"


class DownloadError(Z5Error, OSError):
    """Test data could not be downloaded (for example because the machine is offline)."""


def cache_dir() -> Path:
    """Directory for downloaded sample data: ``$Z5PY_CACHE``, else ``$XDG_CACHE_HOME/z5py``,
    else ``~/.cache/z5py``."""
    env = os.environ.get("Z5PY_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "z5py"


def download(url: str, filename: str, timeout: float = 60.0) -> Path:
    """Return the cached copy of ``url`` (named ``filename``), downloading it if needed."""
    target = cache_dir() / filename
    if target.is_file() and target.stat().st_size > 0:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create the cache directory {target.parent}: {e}") from e
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "z5py"})
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status = getattr(response, "status", None)
            if status is not None and status != 200:
                raise DownloadError(f"downloading {url} failed with HTTP status {status}")
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-")
            try:
                with os.fdopen(fd, "wb") as out:
                    while True:
                        buf = response.read(1 << 20)
                        if not buf:
                            break
                        out.write(buf)
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
    except DownloadError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise DownloadError(
            f"could not download test data from {url} ({reason}); the machine may be offline. "
            f"Download the file by hand and save it as {target} "
            "(or point $Z5PY_CACHE at a directory that has it)."
        ) from e
    return target


def to_uint8(data: np.ndarray) -> np.ndarray:
    """Scale a volume to uint8 (0..255 by its maximum), unless it is uint8 already."""
    if data.dtype == np.uint8:
        return data
    data = data.astype(np.float64)
    lo = min(0.0, float(data.min())) if data.size else 0.0
    hi = float(data.max()) if data.size else 0.0
    if hi <= lo:
        return np.zeros(data.shape, dtype=np.uint8)
    return ((data - lo) / (hi - lo) * 255).astype(np.uint8)


def fetch_test_data() -> np.ndarray:
    """The T1-weighted head MRI sample volume as a ``uint8`` array (scaled by its maximum).

    The ImageJ sample archive is downloaded once from :data:`T1_HEAD_URL` into
    :func:`cache_dir` and read from there afterwards.

    Raises:
        DownloadError: when the file is not cached and cannot be downloaded.
    """
    path = download(T1_HEAD_URL, "t1-head-raw.zip")
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith((".tif", ".tiff"))]
            if not names:
                raise ValueError("archive holds no TIFF file")
            buf = zf.read(names[0])
    except (zipfile.BadZipFile, ValueError) as e:
        raise DownloadError(f"cached test data {path} is damaged ({e}); delete it and retry") from e
    return to_uint8(read_tiff_stack(buf))


def fetch_test_data_stent() -> np.ndarray:
    """The stent CT sample volume as a ``uint8`` array (scaled by its maximum).

    Downloaded once from :data:`STENT_URL` into :func:`cache_dir`.

    Raises:
        DownloadError: when the file is not cached and cannot be downloaded.
    """
    path = download(STENT_URL, "stent.npz")
    try:
        with np.load(path) as z:
            data = z[z.files[0]]
    except (OSError, ValueError, zipfile.BadZipFile, IndexError) as e:
        raise DownloadError(f"cached test data {path} is damaged ({e}); delete it and retry") from e
    return to_uint8(np.asarray(data))


def make_sample_volume(shape: Sequence[int], seed: int = 0) -> np.ndarray:
    """A uint8 sample volume: an ellipsoid of smooth gradients and ripples with a little
    noise, on an empty background (compresses, but not trivially, like real scans)."""
    shape = tuple(int(s) for s in shape)
    grids = np.ogrid[tuple(slice(0, s) for s in shape)]
    vol = np.full(shape, 20.0, dtype=np.float32)
    radius = np.zeros(shape, dtype=np.float32)
    for g, s in zip(grids, shape):
        x = g.astype(np.float32) / max(1, s - 1)
        vol += x * (160.0 / len(shape))
        radius += ((x - 0.5) / 0.48) ** 2
    if len(shape) >= 2:
        vol += (
            30.0
            * np.sin(grids[-1].astype(np.float32) / 9.0)
            * np.cos(grids[-2].astype(np.float32) / 13.0)
        )
    rng = np.random.default_rng(seed)
    vol += rng.integers(0, 6, size=shape, dtype=np.uint8)
    vol[radius > 1.0] = 0
    return np.clip(vol, 0, 255).astype(np.uint8)
