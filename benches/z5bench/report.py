"""The printed and Markdown reports of a result."""

from __future__ import annotations

import math
import statistics
import sys

from .matrix import LIBS, MIB


def summarize(rows: list[dict]) -> dict:
    ratios = [r["ratio"] for r in rows if r.get("ratio")]
    effs = [r["efficiency"] for r in rows if r.get("efficiency")]
    unequal = [
        f"{r['data']}/{r['format']}/{r['codec']}/t{r['threads']}/{r['op']}/{lib}"
        for r in rows
        for lib, c in r["libs"].items()
        if c.get("unequal")
    ]
    cpu_ratios = [r["cpu_ratio"] for r in rows if r.get("cpu_ratio")]
    summary = {
        "rows": len(rows),
        "one_thread_rows": len(cpu_ratios),
        "geomean_cpu_ratio_one_thread": math.exp(statistics.fmean(math.log(x) for x in cpu_ratios))
        if cpu_ratios
        else None,
        "one_thread_rows_cpu_below_1_1": sum(1 for x in cpu_ratios if x < 1.1),
        "rows_with_ratio": len(ratios),
        "geomean_ratio": math.exp(statistics.fmean(math.log(x) for x in ratios))
        if ratios
        else None,
        "min_ratio": min(ratios) if ratios else None,
        "rows_below_1_1": sum(1 for x in ratios if x < 1.1),
        "read_rows_with_limit": len(effs),
        "read_rows_below_85pct": sum(1 for x in effs if x < 0.85),
        "unequal_reads": unequal,
    }
    return summary


def cell(entry) -> str:
    if entry is None:
        return "—"
    if entry.get("unequal"):
        return "NEQ"
    if "mb_s" not in entry:
        return "err"
    return f"{entry['mb_s']:.0f}" + ("*" if entry.get("own_files") else "")


def short_format(fmt: str) -> str:
    return {"n5": "N5", "zarr2": "zarr2", "zarr3": "zarr3", "zarr3s": "zarr3-sh"}[fmt]


def repetitions(result: dict) -> str:
    """How many repetitions each cell's median is of."""
    reps, read_reps = result["reps"], result.get("read_reps", result["reps"])
    text = f"median of {reps} repetitions ({read_reps} for reads)"
    more = result.get("max_reps", 0)
    if more > max(reps, read_reps) and result.get("budget_s"):
        text += (
            f", more rounds of all (up to {more}) while a configuration has taken less "
            f"than {result['budget_s']:g} s"
        )
    return text


def format_row(row: dict, libs: list[str]) -> str:
    op = {"write": "write", "read": "read", "read_partial": "partial"}[row["op"]]
    cells = [cell(row["libs"].get(lib)) for lib in libs]
    ratio = f"{row['ratio']:.2f}x" if row.get("ratio") else "—"
    limit = f"{row['limit']['mb_s']:.0f}" if row.get("limit", {}).get("mb_s") else "—"
    eff = f"{row['efficiency'] * 100:.0f}%" if row.get("efficiency") else "—"
    if row["op"] == "write":
        limit = eff = ""
    head = (
        f"{row['data']:<6}{short_format(row['format']):<9}{row['codec']:<6}"
        f"{row['threads']:>2} {op:<8}"
    )
    body = "".join(f"{c:>12}" for c in cells)
    cpu = f"{row['cpu_ratio']:.2f}x" if row.get("cpu_ratio") else ""
    return f"{head}{body}{ratio:>8}{cpu:>7}{limit:>9}{eff:>6}"


def format_rss(row: dict) -> str:
    if "error" in row:
        return f"{row['lib']:<12}{row['format']:<8}{row['op']:<6} t{row['threads']} error"
    return (
        f"{row['lib']:<12}{short_format(row['format']):<9}{row['codec']:<6}"
        f"{row['threads']:>2} {row['op']:<6}"
        f"{row['extra_bytes'] / MIB:>9.1f}{(row['extra_bytes'] - row['array_bytes']) / MIB:>9.1f}"
        f"{row['budget_bytes'] / MIB:>9.1f}{'yes' if row['within_budget'] else 'NO':>6}"
    )


def print_scaling(result: dict, out) -> None:
    """z5py's throughput on the 1 GiB volume against the 64 MiB one, when both ran."""
    small = {
        (r["format"], r["codec"], r["threads"], r["op"]): r
        for r in result["rows"]
        if r["data"] == "u8"
    }
    lines = []
    for r in result["rows"]:
        key = (r["format"], r["codec"], r["threads"], r["op"])
        if r["data"] != "u8big" or key not in small:
            continue
        a = small[key]["libs"]["z5py"].get("mb_s")
        b = r["libs"]["z5py"].get("mb_s")
        if a and b:
            lines.append(
                f"{short_format(key[0]):<9}{key[1]:<6}{key[2]:>2} {key[3]:<13}"
                f"{a:>9.0f}{b:>9.0f}{b / a:>8.2f}x"
            )
    if lines:
        print(file=out)
        print("z5py from 64 MiB (u8) to 1 GiB (u8big), MB/s:", file=out)
        print(
            f"{'format':<9}{'codec':<6}{'th':>2} {'op':<13}{'64 MiB':>9}{'1 GiB':>9}{'ratio':>9}",
            file=out,
        )
        for line in lines:
            print(line, file=out)


def print_report(result: dict, out=sys.stdout) -> None:
    libs = [lib for lib in LIBS if lib in result["versions"]]
    m = result["machine"]
    print(
        f"machine: {m.get('cpu', '?')}, {m.get('nproc')} cores, {m.get('mem_gib')} GiB; "
        f"load average at start {[round(x, 1) for x in m.get('loadavg_start', [])]}",
        file=out,
    )
    loads = [r["loadavg_1min"] for r in result["rows"] if r.get("loadavg_1min") is not None]
    if loads:
        print(
            f"1-minute load average during the run: min {min(loads):.1f}, median "
            f"{statistics.median(loads):.1f}, max {max(loads):.1f} (the benchmark itself adds "
            "about 1-2)",
            file=out,
        )
    print("versions: " + ", ".join(f"{lib} {v}" for lib, v in result["versions"].items()), file=out)
    if result["unavailable"]:
        print(
            "not measured: "
            + ", ".join(f"{lib} ({why})" for lib, why in result["unavailable"].items()),
            file=out,
        )
    print(
        f"{repetitions(result)}; warm page cache; MB/s = 1e6 bytes of uncompressed data per second",
        file=out,
    )
    print(file=out)
    head = f"{'data':<6}{'format':<9}{'codec':<6}{'th':>2} {'op':<8}"
    print(
        head
        + "".join(f"{lib:>12}" for lib in libs)
        + f"{'ratio':>8}{'cpu':>7}{'limit':>9}{'eff':>6}",
        file=out,
    )
    for row in result["rows"]:
        print(format_row(row, libs), file=out)
    s = result["summary"]
    print(file=out)
    if s["geomean_ratio"]:
        print(
            f"ratio = z5py / fastest other library: geometric mean {s['geomean_ratio']:.2f}x, "
            f"minimum {s['min_ratio']:.2f}x, {s['rows_below_1_1']} of "
            f"{s['rows_with_ratio']} rows below 1.1x",
            file=out,
        )
    if s.get("geomean_cpu_ratio_one_thread"):
        print(
            "CPU-time ratio on 1 thread (least CPU time of another library / z5py's): "
            f"geometric mean {s['geomean_cpu_ratio_one_thread']:.2f}x, "
            f"{s['one_thread_rows_cpu_below_1_1']} of {s['one_thread_rows']} rows below 1.1x",
            file=out,
        )
    print(
        f"reads below 85% of the limit: {s['read_rows_below_85pct']} of "
        f"{s['read_rows_with_limit']}",
        file=out,
    )
    if s["unequal_reads"]:
        print("READS NOT EQUAL TO THE SOURCE: " + ", ".join(s["unequal_reads"]), file=out)
    errors = [
        (r, lib, c["error"])
        for r in result["rows"]
        for lib, c in r["libs"].items()
        if "error" in c and not c.get("unequal")
    ]
    own = [
        (r, lib, c["canonical_error"])
        for r in result["rows"]
        for lib, c in r["libs"].items()
        if c.get("own_files")
    ]
    seen = set()
    for r, lib, error in own:
        key = (r["data"], r["format"], r["codec"], lib)
        if key not in seen:
            seen.add(key)
            print(
                f"* {lib} {r['data']}/{r['format']}/{r['codec']}: read its own files, it "
                f"cannot open z5py's: {error[:160]}",
                file=out,
            )
    for r, lib, error in errors:
        print(
            f"err {lib} {r['data']}/{r['format']}/{r['codec']}/t{r['threads']}/{r['op']}: "
            f"{error[:200]}",
            file=out,
        )
    print_scaling(result, out)
    if result["rss"]:
        print(file=out)
        print(
            "peak RSS of a full read / write in a fresh process: extra = peak - RSS before "
            "the operation (MiB), -array = extra minus the array's size; budget = array + 2 storage "
            "units per thread + 64 MiB",
            file=out,
        )
        print(
            f"{'lib':<12}{'format':<9}{'codec':<6}{'th':>2} {'op':<6}{'extra':>9}"
            f"{'-array':>9}{'budget':>9}{'ok':>6}",
            file=out,
        )
        for row in result["rss"]:
            print(format_rss(row), file=out)


def markdown_report(result: dict) -> str:
    """The run's table as a Markdown section (machine, command, then the plain table)."""
    import io

    m = result["machine"]
    buf = io.StringIO()
    print_report(result, out=buf)
    lines = [
        f"## Run of {result.get('date', '?')}",
        "",
        (
            f"- machine: {m.get('cpu', '?')} ({m.get('nproc')} cores), {m.get('mem_gib')} GiB, "
            f"Linux {m.get('kernel')}, Python {m.get('python')}"
        ),
        f"- repository commit: {m.get('git_commit', '?')}",
        f"- command: `{result['command']}`",
        f"- {repetitions(result)}, threads {result['threads']}, {result['elapsed_s']} s in all",
        "",
        "```text",
        buf.getvalue().rstrip(),
        "```",
    ]
    return "\n".join(lines)
