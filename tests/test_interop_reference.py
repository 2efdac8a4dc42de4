"""Interop with the published C++ z5py 3.0.2 wheel (the reference implementation).

The reference lives in its own virtualenv (created by ``.ci/ref-venv.sh``) at
``$Z5PY_REF_PYTHON`` (default ``/work/ref-venv/bin/python``).  It runs as a subprocess on a
small script (``REF_SCRIPT``) that executes a batch of jobs: write datasets from ``.npy``
files, or read datasets into ``.npy`` files.  Data crosses over as ``.npy``, everything else
as JSON.  One subprocess writes every reference-side case and one reads every case we wrote,
so the whole module costs two interpreter start-ups.

For every case the same dataset is written by both implementations, which allows comparing
the metadata JSON key by key and, for uncompressed N5 / Zarr v2 / unsharded Zarr v3,
every chunk file byte for byte.

The tests at the end (hand-crafted N5 blocks per the N5 specification) need no reference.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from interop_helpers import (
    CHUNKS,
    COMMON_DTYPES,
    EDGE_CHUNKS,
    EDGE_SHAPE,
    MISSING_CHUNK,
    READ_WINDOW,
    REGION,
    SHAPE,
    SHARDS,
    all_chunk_indices,
    assert_same_array,
    assert_z5_reads,
    expected_with_fill,
    make_data,
    n5_chunk_bytes,
    n5_chunk_path,
    parse_n5_header,
    read_json,
    z5_attrs,
    z5_create,
    z5_open,
    z5_read,
    z5_write,
)

REF_PYTHON = os.environ.get("Z5PY_REF_PYTHON", "/work/ref-venv/bin/python")

#: attributes that nlohmann::json (the reference) and we both round-trip exactly
REF_ATTRS = {
    "description": "reference ✓",
    "int": -42,
    "float": 0.25,
    "bool": False,
    "none": None,
    "list": [1, 2.5, "x"],
    "nested": {"a": {"b": [1, 2, 3]}},
}

REF_SCRIPT = r"""
import json, sys, traceback
import numpy as np
import z5py


def open_file(job, mode):
    fmt = job["fmt"]
    if fmt == "n5":
        return z5py.File(job["path"], mode=mode, use_zarr_format=False)
    return z5py.File(job["path"], mode=mode, use_zarr_format=True,
                     dimension_separator=job.get("sep") or ".",
                     zarr_format=3 if fmt == "zarr3" else 2)


def region_slices(region):
    return tuple(slice(a, b) for a, b in region)


def do_write(job):
    f = open_file(job, "a")
    for k, v in job.get("root_attrs", {}).items():
        f.attrs[k] = v
    kwargs = dict(job["opts"])
    if job["fmt"] == "zarr3":
        if job.get("shards"):
            kwargs["shards"] = tuple(job["shards"])
        kwargs["chunk_key_encoding"] = job.get("cke") or "default"
    ds = f.create_dataset(job["name"], shape=tuple(job["shape"]), dtype=job["dtype"],
                          chunks=tuple(job["chunks"]), compression=job["compression"],
                          fillvalue=job["fill"], **kwargs)
    data = np.load(job["data"])
    if job.get("region"):
        sl = region_slices(job["region"])
        ds[sl] = data[sl]
    else:
        ds[...] = data
    for idx, npy in job.get("varlen", []):
        ds.write_chunk(tuple(idx), np.load(npy), True)
    for k, v in job.get("attrs", {}).items():
        ds.attrs[k] = v
    return {}


def do_read(job):
    f = open_file(job, "r")
    ds = f[job["name"]]
    if not job.get("read_chunks"):  # the reference cannot read varlength chunks as arrays
        np.save(job["out"], ds[...])
        np.save(job["out_window"], ds[region_slices(job["window"])])
    chunks = {}
    for idx in job.get("read_chunks", []):
        c = ds.read_chunk(tuple(idx))
        if c is not None:
            npy = job["out"] + ".chunk_" + "_".join(map(str, idx)) + ".npy"
            np.save(npy, c)
            chunks[",".join(map(str, idx))] = npy
    names = []
    f.visititems(lambda name, obj: names.append(name))
    return {"shape": list(ds.shape), "chunks": list(ds.chunks), "dtype": str(ds.dtype),
            "attrs": dict(ds.attrs), "root_attrs": dict(f.attrs), "chunk_files": chunks,
            "tree": sorted(names)}


def main():
    jobs = json.load(open(sys.argv[1]))
    results = {}
    for job in jobs:
        try:
            out = do_write(job) if job["op"] == "write" else do_read(job)
            out["ok"] = True
        except Exception:
            out = {"ok": False, "error": traceback.format_exc()}
        results[job["id"]] = out
    json.dump(results, open(sys.argv[2], "w"))


main()
"""


# ============================================================================================
# cases
# ============================================================================================


@dataclass(frozen=True)
class RefCase:
    id: str
    fmt: str
    dtype: str
    compression: str
    opts: dict  # our spelling
    ref_opts: dict  # the reference's spelling
    shape: tuple = SHAPE
    chunks: tuple = CHUNKS
    fill: object = 0
    region: tuple | None = None
    shards: tuple | None = None
    cke: str | None = None  # our spelling: '/', '.', 'v2'
    sep: str | None = None  # zarr v2 dimension separator
    name: str = "d"
    attrs: bool = False
    varlen: tuple = field(default=())  # N5: ((chunk index), length) written in varlen mode

    @property
    def ext(self):
        return ".n5" if self.fmt == "n5" else ".zarr"

    @property
    def region_slices(self):
        return None if self.region is None else tuple(slice(a, b) for a, b in self.region)

    def data(self):
        return make_data(self.dtype, self.shape)

    def expected(self):
        data = self.data()
        if self.region is None:
            return data
        return expected_with_fill(data, self.region_slices, self.fill)


_REGION = tuple((s.start, s.stop) for s in REGION)

N5_CODECS = {
    "raw": ("raw", {}, {}),
    "gzip": ("gzip", {"level": 5}, {"level": 5}),
    "bzip2": ("bzip2", {"level": 5}, {"level": 5}),
    "xz": ("xz", {"level": 6}, {"level": 6}),
    "lz4": ("lz4", {}, {}),
    "zstd": ("zstd", {"level": 3}, {"level": 3}),
    "blosc-lz4-1": ("blosc", {"codec": "lz4", "clevel": 5, "shuffle": 1}, None),
    "blosc-zstd-2": ("blosc", {"codec": "zstd", "clevel": 5, "shuffle": 2}, None),
    "blosc-blosclz-0": ("blosc", {"codec": "blosclz", "clevel": 5, "shuffle": 0}, None),
    "blosc-zlib-1": ("blosc", {"codec": "zlib", "clevel": 5, "shuffle": 1}, None),
}
# the reference ignores 'clevel' for N5 and Zarr v2 blosc (it always writes 5), so every
# blosc case here uses 5
ZARR2_CODECS = {
    "raw": ("raw", {}, {}),
    "blosc-lz4-1": ("blosc", {"codec": "lz4", "clevel": 5, "shuffle": 1}, None),
    "blosc-zstd-2": ("blosc", {"codec": "zstd", "clevel": 5, "shuffle": 2}, None),
    "blosc-lz4hc-0": ("blosc", {"codec": "lz4hc", "clevel": 5, "shuffle": 0}, None),
    "zlib": ("zlib", {"level": 5}, {"level": 5}),
    "gzip": ("gzip", {"level": 5}, {"level": 5}),
    "bzip2": ("bzip2", {"level": 5}, {"level": 5}),
    "zstd": ("zstd", {"level": 3}, {"level": 3}),
}
# the reference spells the v3 blosc level 'level'
ZARR3_CODECS = {
    "raw": ("raw", {}, {}),
    "gzip": ("gzip", {"level": 5}, {"level": 5}),
    "zstd": ("zstd", {"level": 3}, {"level": 3}),
    "blosc-lz4-1": (
        "blosc",
        {"codec": "lz4", "clevel": 5, "shuffle": 1},
        {"codec": "lz4", "level": 5, "shuffle": 1},
    ),
    "blosc-zstd-2": (
        "blosc",
        {"codec": "zstd", "clevel": 5, "shuffle": 2},
        {"codec": "zstd", "level": 5, "shuffle": 2},
    ),
}
SWEEP_DTYPES = ["uint8", "int16", "float64"]


def _case(id, fmt, dtype, codec_table, codec, **kw):
    compression, opts, ref_opts = codec_table[codec]
    return RefCase(id, fmt, dtype, compression, opts, opts if ref_opts is None else ref_opts, **kw)


def _cases():
    cases = []
    for codec in N5_CODECS:
        dtypes = COMMON_DTYPES if codec in ("raw", "gzip") else SWEEP_DTYPES
        for d in dtypes:
            cases.append(_case(f"n5-{codec}-{d}", "n5", d, N5_CODECS, codec))
    for codec in ZARR2_CODECS:
        dtypes = COMMON_DTYPES if codec in ("raw", "blosc-lz4-1") else SWEEP_DTYPES
        for d in dtypes:
            cases.append(_case(f"zarr2-{codec}-{d}", "zarr2", d, ZARR2_CODECS, codec))
    for codec in ZARR3_CODECS:
        for sharded in (False, True):
            dtypes = COMMON_DTYPES if codec == "raw" and sharded else SWEEP_DTYPES
            for d in dtypes:
                tag = "sharded" if sharded else "plain"
                cases.append(
                    _case(
                        f"zarr3-{codec}-{tag}-{d}",
                        "zarr3",
                        d,
                        ZARR3_CODECS,
                        codec,
                        shards=SHARDS if sharded else None,
                    )
                )
    for sharded in (False, True):
        tag = "sharded" if sharded else "plain"
        cases.append(
            _case(
                f"zarr3-cke-v2-{tag}",
                "zarr3",
                "int32",
                ZARR3_CODECS,
                "raw",
                cke="v2",
                shards=SHARDS if sharded else None,
            )
        )
    # dimension separator
    cases.append(_case("zarr2-sep-slash", "zarr2", "int32", ZARR2_CODECS, "raw", sep="/"))
    cases.append(_case("zarr2-sep-slash-gzip", "zarr2", "float32", ZARR2_CODECS, "zlib", sep="/"))
    # edge chunks
    for fmt, table in (("n5", N5_CODECS), ("zarr2", ZARR2_CODECS), ("zarr3", ZARR3_CODECS)):
        cases.append(
            _case(f"{fmt}-edge", fmt, "uint16", table, "raw", shape=EDGE_SHAPE, chunks=EDGE_CHUNKS)
        )
    cases.append(
        _case(
            "zarr3-edge-sharded",
            "zarr3",
            "uint16",
            ZARR3_CODECS,
            "gzip",
            shape=EDGE_SHAPE,
            chunks=(8, 8, 8),
            shards=EDGE_CHUNKS,
        )
    )
    # fill values and missing chunks (the reference stores fill values as doubles, so only
    # values a double represents exactly)
    cases.append(_case("n5-missing", "n5", "int32", N5_CODECS, "gzip", region=_REGION))
    for fmt, table in (("zarr2", ZARR2_CODECS), ("zarr3", ZARR3_CODECS)):
        for dtype, fill in (
            ("int16", -7),
            ("uint8", 200),
            ("float32", float("nan")),
            ("float64", -2.5),
            ("uint32", 0),
        ):
            cases.append(
                _case(
                    f"{fmt}-fill-{dtype}-{fill}",
                    fmt,
                    dtype,
                    table,
                    "raw",
                    fill=fill,
                    region=_REGION,
                )
            )
    cases.append(
        _case(
            "zarr3-fill-sharded-nan",
            "zarr3",
            "float64",
            ZARR3_CODECS,
            "zstd",
            fill=float("nan"),
            region=_REGION,
            shards=SHARDS,
        )
    )
    # attributes and nested paths
    for fmt, table in (("n5", N5_CODECS), ("zarr2", ZARR2_CODECS), ("zarr3", ZARR3_CODECS)):
        cases.append(
            _case(f"{fmt}-attrs-nested", fmt, "float32", table, "raw", name="x/y/d", attrs=True)
        )
    # N5 varlength chunks: chunk (0, 0) holds 7 elements, chunk (1, 2) holds 20
    cases.append(
        _case(
            "n5-varlen",
            "n5",
            "int32",
            N5_CODECS,
            "raw",
            shape=(10, 12),
            chunks=(5, 5),
            varlen=(((0, 0), 7), ((1, 2), 20)),
        )
    )
    cases.append(
        _case(
            "n5-varlen-gzip",
            "n5",
            "uint16",
            N5_CODECS,
            "gzip",
            shape=(10, 12),
            chunks=(5, 5),
            varlen=(((0, 1), 3),),
        )
    )
    return cases


CASES = {c.id: c for c in _cases()}
CASE_IDS = list(CASES)


def _varlen_data(case, idx, n):
    return make_data(case.dtype, (n,), seed=100 * idx[0] + idx[1])


# ============================================================================================
# running the reference
# ============================================================================================


@pytest.fixture(scope="module")
def ref_python():
    if not (os.path.isfile(REF_PYTHON) and os.access(REF_PYTHON, os.X_OK)):
        pytest.skip(
            f"reference interpreter {REF_PYTHON} (Z5PY_REF_PYTHON) is missing; "
            "create it with .ci/ref-venv.sh"
        )
    return REF_PYTHON


def _run_ref(ref_python, workdir: Path, jobs):
    script = workdir / "ref_script.py"
    script.write_text(REF_SCRIPT)
    jobs_file = workdir / "jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    results_file = workdir / "results.json"
    # the reference imports its own z5py: a PYTHONPATH pointing at ours must not reach it
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [ref_python, str(script), str(jobs_file), str(results_file)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(results_file.read_text())


def _write_job(case, path, npy):
    job = {
        "op": "write",
        "id": case.id,
        "path": str(path),
        "fmt": case.fmt,
        "name": case.name,
        "dtype": case.dtype,
        "shape": list(case.shape),
        "chunks": list(case.chunks),
        "compression": case.compression,
        "opts": case.ref_opts,
        "fill": case.fill,
        "data": str(npy),
        "region": [list(r) for r in case.region] if case.region else None,
        "shards": list(case.shards) if case.shards else None,
        "cke": {"/": "default", "v2": "v2", None: None}[case.cke],
        "sep": case.sep,
    }
    if case.attrs:
        job["attrs"] = REF_ATTRS
        job["root_attrs"] = {"root": REF_ATTRS}
    if case.varlen:
        job["varlen"] = []
        for idx, n in case.varlen:
            vnpy = Path(str(npy) + f".varlen_{'_'.join(map(str, idx))}.npy")
            np.save(vnpy, _varlen_data(case, idx, n))
            job["varlen"].append([list(idx), str(vnpy)])
    return job


def _read_job(case, path, out):
    return {
        "op": "read",
        "id": case.id,
        "path": str(path),
        "fmt": case.fmt,
        "name": case.name,
        "sep": case.sep,
        "out": str(out),
        "out_window": str(out) + ".window.npy",
        "window": [[s.start, s.stop] for s in READ_WINDOW]
        if case.shape == SHAPE
        else [[0, n] for n in case.shape],
        "read_chunks": [list(idx) for idx, _ in case.varlen],
    }


@pytest.fixture(scope="module")
def ref_written(ref_python, tmp_path_factory):
    """Every case written by the reference: {case id: (container path, job result)}."""
    work = tmp_path_factory.mktemp("ref_written")
    jobs = []
    for case in CASES.values():
        npy = work / f"{case.id}.npy"
        np.save(npy, case.data())
        jobs.append(_write_job(case, work / f"{case.id}{case.ext}", npy))
    results = _run_ref(ref_python, work, jobs)
    return {cid: (work / f"{cid}{CASES[cid].ext}", results[cid]) for cid in CASES}


def _our_write(case, path):
    ds = z5_write(
        path,
        case.fmt,
        case.name,
        case.data(),
        chunks=case.chunks,
        region=case.region_slices,
        compression=case.compression,
        opts=case.opts,
        fillvalue=case.fill if case.fmt != "n5" else None,
        dimension_separator=case.sep,
        shards=case.shards,
        chunk_key_encoding=case.cke,
    )
    for idx, n in case.varlen:
        ds.write_chunk(idx, _varlen_data(case, idx, n), varlen=True)
    if case.attrs:
        for k, v in REF_ATTRS.items():
            ds.attrs[k] = v
        z5_open(path, case.fmt, "a").attrs["root"] = REF_ATTRS


@pytest.fixture(scope="module")
def ours_written(ref_python, tmp_path_factory):
    """Every case written by us and read back by the reference:
    {case id: (container path, our write error or None, reference read result, out npy)}."""
    work = tmp_path_factory.mktemp("ours_written")
    jobs, errors = [], {}
    for case in CASES.values():
        path = work / f"{case.id}{case.ext}"
        try:
            _our_write(case, path)
        except Exception as error:  # noqa: BLE001 - re-raised by the test of this case
            errors[case.id] = error
            continue
        jobs.append(_read_job(case, path, work / f"{case.id}.out.npy"))
    results = _run_ref(ref_python, work, jobs) if jobs else {}
    return {
        cid: (
            work / f"{cid}{CASES[cid].ext}",
            errors.get(cid),
            results.get(cid),
            work / f"{cid}.out.npy",
        )
        for cid in CASES
    }


def _ref_ok(result):
    assert result["ok"], "the reference failed:\n" + result["error"]


# ============================================================================================
# reference -> ours
# ============================================================================================


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_reference_written_read_by_ours(ref_written, case_id):
    case = CASES[case_id]
    path, result = ref_written[case_id]
    _ref_ok(result)
    if case.varlen:
        # whole-array reads over varlength chunks are undefined (the reference refuses
        # them too): read the chunks themselves, and the regular chunks as an array
        ds = z5_open(path, None, "r")[case.name]
        for idx, n in case.varlen:
            chunk = ds.read_chunk(idx)
            assert_same_array(np.asarray(chunk).reshape(-1), _varlen_data(case, idx, n))
        assert_same_array(ds[5:10, 0:10], case.data()[5:10, 0:10])
        return
    expected = case.expected()
    window = READ_WINDOW if case.shape == SHAPE else None
    whole, part, ds = z5_read(path, case.name, window)
    assert tuple(ds.shape) == case.shape
    assert tuple(ds.chunks) == case.chunks
    if case.shards:
        assert tuple(ds.shards) == case.shards
    assert_same_array(whole, expected)
    if window is not None:
        assert_same_array(part, expected[window])
    if case.attrs:
        f = z5_open(path, None, "r")
        assert z5_attrs(f[case.name]) == REF_ATTRS
        assert z5_attrs(f) == {"root": REF_ATTRS}
        assert sorted(f.keys()) == ["x"]
        assert sorted(f["x"].keys()) == ["y"]


# ============================================================================================
# ours -> reference
# ============================================================================================


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_ours_read_by_reference(ours_written, case_id):
    case = CASES[case_id]
    path, error, result, out = ours_written[case_id]
    if error is not None:
        raise error
    _ref_ok(result)
    assert result["shape"] == list(case.shape)
    assert result["chunks"] == list(case.chunks)
    assert np.dtype(result["dtype"]) == np.dtype(case.dtype)
    if case.varlen:
        for idx, n in case.varlen:
            npy = result["chunk_files"][",".join(map(str, idx))]
            assert_same_array(np.load(npy).reshape(-1), _varlen_data(case, idx, n))
            raw = n5_chunk_path(path / case.name, idx).read_bytes()
            mode, _, num, _ = parse_n5_header(raw)
            assert (mode, num) == (1, n)
        return
    expected = case.expected()
    assert_same_array(np.load(out), expected)
    window = READ_WINDOW if case.shape == SHAPE else tuple(slice(0, n) for n in case.shape)
    assert_same_array(np.load(str(out) + ".window.npy"), expected[window])
    if case.attrs:
        assert result["attrs"] == REF_ATTRS
        # the reference lists N5's "n5" version key among the root attributes
        root_attrs = {k: v for k, v in result["root_attrs"].items() if k != "n5"}
        assert root_attrs == {"root": REF_ATTRS}
        assert result["tree"] == ["x", "x/y", "x/y/d"]


# ============================================================================================
# metadata key by key, raw chunks byte for byte
# ============================================================================================


def _metadata_file(case, root):
    return (
        root
        / case.name
        / {"n5": "attributes.json", "zarr2": ".zarray", "zarr3": "zarr.json"}[case.fmt]
    )


def _same_json(a, b):
    """JSON equality where 5 == 5.0 (the reference writes numbers from doubles), NaN == NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


#: keys where the reference is known to deviate from the formats, with the reason
KNOWN_REF_DEVIATIONS = {
    # z5py 3.0.2 writes {"id": "zlib"} (and a zlib stream) for compression='gzip' in Zarr v2
    ("zarr2", "gzip"): "compressor",
}


def _comparable(case, meta):
    meta = json.loads(json.dumps(meta))
    if case.fmt == "n5" and case.compression == "blosc":
        # 'nthreads' is a runtime setting the reference serializes and tensorstore rejects
        meta["compression"].pop("nthreads", None)
    if case.attrs:
        for k in REF_ATTRS:
            meta.pop(k, None)  # N5 keeps user attributes in the same file
        meta.pop("attributes", None)  # Zarr v3 keeps them inline
    if meta.get("storage_transformers") == []:
        # optional in v3; an empty list means none (zarr-python writes it too)
        del meta["storage_transformers"]
    return meta


def _data_files(ds_dir: Path):
    meta_names = {"attributes.json", ".zarray", ".zattrs", "zarr.json"}
    return sorted(
        str(p.relative_to(ds_dir))
        for p in ds_dir.rglob("*")
        if p.is_file() and p.name not in meta_names
    )


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_metadata_and_chunks_match_reference(ref_written, ours_written, case_id):
    case = CASES[case_id]
    ref_root, ref_result = ref_written[case_id]
    our_root, error, _, _ = ours_written[case_id]
    _ref_ok(ref_result)
    if error is not None:
        raise error
    ref_meta = _comparable(case, read_json(_metadata_file(case, ref_root)))
    our_meta = _comparable(case, read_json(_metadata_file(case, our_root)))
    deviating = KNOWN_REF_DEVIATIONS.get((case.fmt, case.compression))
    if deviating is not None:
        assert ref_meta.pop(deviating) != our_meta[deviating]  # still deviating?
        assert our_meta.pop(deviating) == {"id": "gzip", "level": case.opts["level"]}
    assert ref_meta.keys() == our_meta.keys()
    for key in ref_meta:
        assert _same_json(our_meta[key], ref_meta[key]), (key, our_meta[key], ref_meta[key])

    # the same chunks exist (missing chunks missing on both sides)
    ref_files = _data_files(ref_root / case.name)
    our_files = _data_files(our_root / case.name)
    assert our_files == ref_files
    if case.region is not None and case.fmt != "n5" and not case.shards:
        sep = case.sep or "."
        key = sep.join(map(str, MISSING_CHUNK))
        if case.fmt == "zarr3":
            key = "c/" + "/".join(map(str, MISSING_CHUNK))
        assert key not in our_files
    if case.fmt == "n5" and case.region is not None:
        missing = "/".join(map(str, reversed(MISSING_CHUNK)))
        assert missing not in our_files

    # uncompressed chunks are byte-identical (headers included)
    if case.compression == "raw" and not case.shards:
        for name in ref_files:
            ours = (our_root / case.name / name).read_bytes()
            theirs = (ref_root / case.name / name).read_bytes()
            assert ours == theirs, name


@pytest.mark.parametrize("fmt", ["n5", "zarr2", "zarr3"])
def test_group_metadata_matches_reference(ref_written, ours_written, fmt):
    case = CASES[f"{fmt}-attrs-nested"]
    ref_root, ref_result = ref_written[case.id]
    our_root, error, _, _ = ours_written[case.id]
    _ref_ok(ref_result)
    if error is not None:
        raise error
    for group in ["", "x", "x/y"]:
        names = sorted(p.name for p in (ref_root / group).iterdir() if p.is_file())
        assert sorted(p.name for p in (our_root / group).iterdir() if p.is_file()) == names
        for name in names:
            assert _same_json(
                read_json(our_root / group / name), read_json(ref_root / group / name)
            ), (group, name)


# ============================================================================================
# hand-crafted N5 blocks (N5 specification), no reference needed
# ============================================================================================


def _n5_dataset(tmp_path, shape, chunks, dtype="uint16", compression="raw"):
    root = tmp_path / "c.n5"
    z5_create(root, "n5", "d", dtype, shape=shape, chunks=chunks, compression=compression)
    return root


def test_n5_spec_example_block(tmp_path):
    """The N5 README's example: a 1x2x3 (x, y, z) uint16 raw block."""
    root = _n5_dataset(tmp_path, (3, 2, 1), (3, 2, 1))
    block = bytes.fromhex("0000 0003 00000001 00000002 00000003".replace(" ", "")) + bytes(
        [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6]
    )
    (root / "d" / "0" / "0").mkdir(parents=True)
    (root / "d" / "0" / "0" / "0").write_bytes(block)
    whole, _, _ = z5_read(root, "d")
    np.testing.assert_array_equal(whole, np.arange(1, 7, dtype="uint16").reshape(3, 2, 1))
    # and we encode exactly these bytes
    f = z5_open(root, None, "a")
    ds = f["d"]
    assert bytes(ds.array_to_format(np.arange(1, 7, dtype="uint16").reshape(3, 2, 1))) == block


def test_n5_handcrafted_varlength_block(tmp_path):
    root = _n5_dataset(tmp_path, (4, 6), (2, 3), dtype="int32")
    values = np.array([7, -1, 123456, 0, 5], dtype="int32")  # 5 elements in a 2x3 block
    path = n5_chunk_path(root / "d", (1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        n5_chunk_bytes(np.zeros((2, 3), "int32"), mode=1, num_elements=5)[:16]
        + values.astype(">i4").tobytes()
    )
    ds = z5_open(root, None, "r")["d"]
    np.testing.assert_array_equal(np.asarray(ds.read_chunk((1, 1))).reshape(-1), values)


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_n5_handcrafted_clipped_and_padded_edge_blocks(tmp_path, dtype):
    """Readers must use the header dims: a clipped edge block (z5, Java) and a full-size
    one (tensorstore, old zarr N5Store) both read back correctly, whole and in part (uint8
    blocks are read in part, from the payload's byte range)."""
    data = make_data(dtype, (5, 7))
    root = _n5_dataset(tmp_path, (5, 7), (4, 4), dtype=dtype)
    for idx in all_chunk_indices((5, 7), (4, 4)):
        sl = tuple(slice(i * 4, i * 4 + 4) for i in idx)
        block = data[sl]
        if idx == (1, 1):  # pad this edge block to the full 4x4 with garbage
            padded = np.full((4, 4), 99, dtype=dtype)
            padded[: block.shape[0], : block.shape[1]] = block
            block = padded
        path = n5_chunk_path(root / "d", idx)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(n5_chunk_bytes(np.ascontiguousarray(block)))
    window = np.s_[1:5, 2:7]
    assert_z5_reads(root, "d", data, window)


def _xxh32(data: bytes, seed: int) -> int:
    """xxHash32 (what lz4-java's LZ4BlockOutputStream checksums blocks with)."""
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    m = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m

    def word(i):
        return int.from_bytes(data[i : i + 4], "little")

    n, i = len(data), 0
    if n >= 16:
        v = [(seed + p1 + p2) & m, (seed + p2) & m, seed & m, (seed - p1) & m]
        while i + 16 <= n:
            for k in range(4):
                v[k] = (rotl((v[k] + word(i + 4 * k) * p2) & m, 13) * p1) & m
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & m
    else:
        h = (seed + p5) & m
    h = (h + n) & m
    while i + 4 <= n:
        h = (rotl((h + word(i) * p3) & m, 17) * p4) & m
        i += 4
    while i < n:
        h = (rotl((h + data[i] * p5) & m, 11) * p1) & m
        i += 1
    h ^= h >> 15
    h = (h * p2) & m
    h ^= h >> 13
    h = (h * p3) & m
    h ^= h >> 16
    return h


def test_xxh32_known_values():
    assert _xxh32(b"", 0) == 0x02CC5D05
    assert _xxh32(b"abc", 0) == 0x32D153FF
    assert _xxh32(b"Nobody inspects the spammish repetition", 0) == 0xE2293B2F


def _lz4_java_stream(payload: bytes, block_size: int, compress: bool) -> bytes:
    """lz4-java ``LZ4BlockOutputStream`` framing (what Java N5's Lz4Compression writes)."""
    import numcodecs

    level = max(0, (block_size - 1).bit_length() - 10)
    out = b""
    for start in range(0, len(payload), block_size):
        block = payload[start : start + block_size]
        method, body = 0x10, block
        if compress:
            packed = numcodecs.LZ4().encode(block)[4:]  # drop numcodecs' size prefix
            if len(packed) < len(block):
                method, body = 0x20, packed
        checksum = _xxh32(block, 0x9747B28C) & 0x0FFFFFFF
        out += b"LZ4Block" + bytes([method | level])
        out += len(body).to_bytes(4, "little") + len(block).to_bytes(4, "little")
        out += checksum.to_bytes(4, "little") + body
    return out + b"LZ4Block" + bytes([0x10 | level]) + bytes(12)  # end mark


@pytest.mark.parametrize("compress", [False, True], ids=["raw-blocks", "lz4-blocks"])
def test_n5_java_lz4_block_stream_read_by_ours(tmp_path, compress):
    """Java N5 frames lz4 chunks with lz4-java's LZ4Block stream (formats.md 4.1.6)."""
    data = (np.arange(9 * 10, dtype="int16") % 7).reshape(9, 10)
    root = tmp_path / "c.n5"
    z5_create(root, "n5", "d", "int16", shape=(9, 10), chunks=(5, 10), compression="lz4")
    meta_path = root / "d" / "attributes.json"
    meta = read_json(meta_path)
    meta["compression"] = {"type": "lz4", "blockSize": 64}  # as Java writes it
    meta_path.write_text(json.dumps(meta))
    for idx in all_chunk_indices((9, 10), (5, 10)):
        block = np.ascontiguousarray(data[idx[0] * 5 : idx[0] * 5 + 5])
        raw = n5_chunk_bytes(block)
        header_len = 4 + 4 * block.ndim
        path = n5_chunk_path(root / "d", idx)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw[:header_len] + _lz4_java_stream(raw[header_len:], 64, compress))
    whole, _, _ = z5_read(root, "d")
    assert_same_array(whole, data)
