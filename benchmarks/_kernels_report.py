"""The Markdown report of ``bench_kernels.py`` (tables of its JSON results)."""

from __future__ import annotations

from typing import Any


def _t(res: dict[str, Any]) -> str:
    if res.get("not_run"):
        return "not run"
    if "error" in res:
        return "FAILED"
    wall = res["time_s"]
    text = f"{wall:.3f}" if wall < 10 else f"{wall:.1f}"
    if "cpu_s" in res:
        text += f" ({res['cpu_s']:.3g})"
    return text


def _spikes(row: dict[str, Any], other: str) -> str:
    key = f"spikes_differing_{other}"
    if key not in row:
        return "n/a"
    if row[key] == 0:
        return "same"
    return f"{row[key]} differ from step {row[f'first_differing_step_{other}']}"


def _ratio(row: dict[str, Any], kernel: str, other: str) -> str:
    k, o = row.get(kernel, {}), row.get(other, {})
    if "time_s" not in k or "time_s" not in o:
        return "n/a"
    text = f"{o['time_s'] / k['time_s']:.0f}x"
    if "cpu_s" in k and "cpu_s" in o and k["cpu_s"] > 0:
        text += f" ({o['cpu_s'] / k['cpu_s']:.0f}x)"
    return text


def _m(res: dict[str, Any], estimate: float | None = None) -> str:
    if res.get("not_run"):
        if estimate is not None and not res.get("skipped"):
            return f"not run (est. {estimate:.1f} GiB)"
        return "not run"
    return "FAILED" if "error" in res else f"{res['peak_mib']:.0f}"


def render(report: dict[str, Any]) -> str:
    """The report as Markdown."""
    m = report["machine"]
    kernel = report["config"]["device"]
    busy = max(m["loadavg_1m_start"], m["loadavg_1m_end"]) > 0.5 * (m["usable_cores"] or 1)
    lines = [
        f"Command: `{report['command']}` (wall time {report['wall_s'] / 60:.1f} min)",
        "",
        f"- CPU: {m['cpu_model']}, {m['logical_cores']} logical cores ({m['usable_cores']} "
        f"usable), RAM {m['ram_total_gib']} GiB ({m['ram_available_gib']} GiB available at start)",
        f"- torch {m.get('torch')}, torch.get_num_threads() = {m.get('torch_num_threads')}, "
        f"Python {m['python']}, {m['platform']}"
        + (f"; GPU {m['gpu']} (CUDA {m['cuda']})" if m.get("gpu") else ""),
        f"- {m['date_utc']}; spatialsnn {m['git_commit']}; 1-minute load average "
        f"{m['loadavg_1m_start']} at start, {m['loadavg_1m_end']} at end"
        + (" (busy machine: other processes distort the timings)" if busy else ""),
        "",
    ]
    if report.get("recurrent"):
        passes = report["config"]["repeats"] * report["config"].get("ab_rounds", 1)
        lines += [
            "### Recurrent layer, forward + backward (interpolate mode)",
            "",
            f"Wall time in seconds, process CPU time (all threads) in parentheses (the "
            f"`{kernel}` kernel: median of {passes} passes; reference and "
            "autograd: one pass); peak memory in MiB. Ratios: other backend / "
            f"`{kernel}`, of wall time (of CPU time). Gradient difference: largest relative L2 "
            f"difference of the three gradients between `{kernel}` and the other backend.",
            "",
            f"| T | batch | N | D | spike rate | {kernel} s | reference s | autograd s "
            f"| vs reference | vs autograd | {kernel} MiB | reference MiB | autograd MiB "
            "| spikes vs ref / autograd | grad diff vs ref / autograd |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|:---|",
        ]
        for row in report["recurrent"]:
            t, b, n, d = row["size"]
            k = row[kernel]
            rate = f"{100 * k['spike_rate']:.1f}%" if "spike_rate" in k else "n/a"
            tr = [_ratio(row, kernel, o) for o in ("reference", "autograd")]
            gd = " / ".join(
                f"{row[f'grad_rel_err_{o}']:.1e}" if f"grad_rel_err_{o}" in row else "n/a"
                for o in ("reference", "autograd")
            )
            same = " / ".join(_spikes(row, o) for o in ("reference", "autograd"))
            mark = " (acceptance)" if row["acceptance"] else ""
            lines.append(
                f"| {t}{mark} | {b} | {n} | {d} | {rate} | {_t(k)} | {_t(row['reference'])} "
                f"| {_t(row['autograd'])} | {tr[0]} | {tr[1]} | {_m(k)} "
                f"| {_m(row['reference'])} | {_m(row['autograd'], row['autograd_estimate_gib'])} "
                f"| {same} | {gd} |"
            )
        lines.append("")
    if any("before" in row for row in report.get("recurrent", [])):
        lines += before_after_table(report)
    if report.get("linear"):
        cfg = report["linear_config"]
        lines += [
            "### delayed_linear, forward + backward (weights and delays)",
            "",
            f"Input: batch {cfg['batch']}, T = {cfg['steps']}, {cfg['n_pre']} → {cfg['n_post']} "
            f"channels, input spikes in {100 * cfg['rate']:.1f}% of channel-steps, interpolate "
            "mode. Dense conv: the DCLS-style baseline in `benchmarks/bench_delayed_linear.py` "
            "(kernel `[n_post, n_pre, D + 2]` with linear-interpolation taps, `conv1d`, torch's "
            "default settings).",
            "",
            f"| D | {kernel} s | dense conv s | time ratio | {kernel} MiB | dense conv MiB "
            "| memory ratio | reference s | output rel. diff |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in report["linear"]:
            k, c = row["kernel"], row["dense-conv"]
            ref = row.get("reference", {"not_run": True})
            ratio = _ratio(row, "kernel", "dense-conv")
            c_time, c_mem = _t(c), _m(c)
            mem_ratio = f"{row['mem_ratio']:.0f}x" if "mem_ratio" in row else "n/a"
            if "timed_out_s" in c:
                c_time = f"> {c['timed_out_s']:.0f} (timed out)"
                c_mem = f">= {row['dense_conv_floor_mib']:.0f} (kernel, grad, intermediate)"
                if "time_s" in k:
                    ratio = f"> {c['timed_out_s'] / k['time_s']:.0f}x"
                    floor = row["dense_conv_floor_mib"] / max(k["peak_mib"], 1.0)
                    mem_ratio = f">= {floor:.0f}x"
            lines.append(
                f"| {row['max_delay']} | {_t(k)} | {c_time} | {ratio}"
                + f" | {_m(k)} | {c_mem} | {mem_ratio}"
                + f" | {_t(ref)} | "
                + (f"{row['output_rel_err']:.1e}" if "output_rel_err" in row else "n/a")
                + " |"
            )
        lines.append("")
    if report.get("shd_epoch"):
        e = report["shd_epoch"]
        lines += ["### SHD-configuration epoch", ""]
        if "error" in e:
            lines.append(f"FAILED: {e}")
        else:
            lines.append(
                f"{e['batches_timed']} of {e['batches_per_epoch']} batches timed: "
                f"{e['time_s']:.2f} s, i.e. **{e['epoch_s']:.2f} s per epoch** "
                f"(hidden spike rate {100 * e['hidden_spike_rate']:.1f}%)."
            )
        lines.append("")
    return "\n".join(lines)


def _x(row: dict[str, Any], key: str, digits: int = 0) -> str:
    return f"{row[key]:.{digits}f}x" if key in row else "n/a"


def before_after_table(report: dict[str, Any]) -> list[str]:
    """The kernel of this checkout beside that of ``--baseline-tree``, from the same run."""
    kernel = report["config"]["device"]
    cfg = report["config"]
    lines = [
        f"### Before / after: the `{kernel}` kernel of `{cfg.get('baseline_tree')}` "
        f"({cfg.get('baseline_commit') or 'commit unknown'}) and of this checkout",
        "",
        f"Both kernels in alternating workers ({cfg.get('ab_rounds')} rounds of "
        f"{cfg['repeats']} passes each, the order swapped every round; median of all passes), "
        "the PyTorch backends once, all in this run. Speed-up: before / after wall time. "
        "Ratios: other backend / kernel, for each kernel.",
        "",
        "| T | batch | N | D | before s | after s | speed-up | before vs reference "
        "| after vs reference | before vs autograd | after vs autograd | before MiB "
        "| after MiB | spikes | grad diff |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|---:|",
    ]
    for row in report["recurrent"]:
        if "before" not in row:
            continue
        t, b, n, d = row["size"]
        k, before = row[kernel], row["before"]
        speed = _x(row, "time_ratio_before", 2)
        grad = f"{row['grad_rel_err_before']:.1e}" if "grad_rel_err_before" in row else "n/a"
        lines.append(
            f"| {t} | {b} | {n} | {d} | {_t(before)} | {_t(k)} | {speed} "
            f"| {_x(row, 'before_time_ratio_reference')} | {_x(row, 'time_ratio_reference')} "
            f"| {_x(row, 'before_time_ratio_autograd')} | {_x(row, 'time_ratio_autograd')} "
            f"| {_m(before)} | {_m(k)} | {_spikes(row, 'before')} | {grad} |"
        )
    lines.append("")
    return lines
