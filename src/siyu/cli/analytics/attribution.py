"""`siyu analytics attribution` and `siyu analytics experiment`.

``attribution --paths FILE`` reads aggregated paths (the ChannelAttribution CSV format) and
passes them as parameters, so the file, the Python API and REST share one validation; without
``--paths`` the journeys come from the warehouse. ``experiment`` takes the variants' numbers on
the command line (``--control N,X --treatment N,X``) or raw per-user values from a CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from siyu.analytics.attribution.runner import read_paths_csv
from siyu.analytics.base import AnalyticsError
from siyu.analytics.experiments.inputs import read_values_csv
from siyu.cli.analytics.app import CsvOpt, FromOpt, JsonOpt, ToOpt, analytics_app, emit, run
from siyu.cli.common import fail, out

MODELS = "first_touch, last_touch, linear, time_decay, position_based, markov, shapley or all"


def _read(reader: Any, path: Path) -> list[dict[str, Any]]:
    try:
        return reader(path)
    except AnalyticsError as exc:
        raise fail(str(exc)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{path}: {getattr(exc, 'strerror', None) or exc}") from exc


@analytics_app.command("attribution")
def attribution(
    paths: Annotated[
        Path | None,
        typer.Option(
            "--paths",
            help="CSV of aggregated paths (path;total_conversions;total_conversion_value;total_null, "
            "';' or ','); default: journeys from the warehouse. 聚合路径 CSV（默认从数据仓库计算）。",
        ),
    ] = None,
    model: Annotated[str, typer.Option("--model", help=f"{MODELS}. 归因模型。")] = "all",
    event: Annotated[str, typer.Option("--event", help="Conversion event. 转化事件。")] = "Order Completed",
    value_property: Annotated[
        str, typer.Option("--value-property", help="Event property with the value. 金额属性。")
    ] = "amount",
    lookback_days: Annotated[
        float, typer.Option("--lookback-days", help="Touches this many days before count. 回溯天数。")
    ] = 30,
    half_life_days: Annotated[
        float,
        typer.Option(
            "--half-life-days",
            help="Time decay half-life (days; touches for --paths). 时间衰减半衰期（天；路径文件按触点数）。",
        ),
    ] = 7,
    from_: FromOpt = None,
    to: ToOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Conversions and revenue per channel by model (Markov removal effect, Shapley, heuristics).
    按渠道归因转化与收入（马尔可夫移除效应、Shapley 值与启发式模型）。"""
    params: dict[str, Any] = {"model": model, "half_life_days": half_life_days}
    if paths is not None:
        params["paths"] = _read(read_paths_csv, paths)
    else:
        params |= {
            "conversion_event": event,
            "value_property": value_property,
            "lookback_days": lookback_days,
            "from": from_.isoformat() if from_ else None,
            "to": to.isoformat() if to else None,
        }
    emit(run("attribution", params), as_json, as_csv)


def _variant(text: str, option: str, default_name: str, metric: str) -> dict[str, Any]:
    """``N,X`` (conversion) or ``N,MEAN,SD`` (mean), optionally ``NAME:`` first."""
    name, _, numbers = text.rpartition(":")
    parts = [p.strip() for p in numbers.split(",")]
    want = ("n", "conversions") if metric == "conversion" else ("n", "mean", "sd")
    if len(parts) != len(want):
        raise fail(f"{option} {text!r}: expected {','.join(w.upper() for w in want)}")
    try:
        n = int(parts[0])
        rest = [float(p) for p in parts[1:]]
    except ValueError:
        raise fail(f"{option} {text!r}: expected numbers ({','.join(w.upper() for w in want)})") from None
    return {"name": name.strip() or default_name, "n": n, **dict(zip(want[1:], rest, strict=True))}


def _split_numbers(text: str, option: str) -> list[float]:
    try:
        return [float(p) for p in text.split(",")]
    except ValueError:
        raise fail(f"{option} {text!r}: expected numbers separated by commas") from None


@analytics_app.command("experiment")
def experiment(
    control: Annotated[
        str | None,
        typer.Option(
            "--control",
            help="Control: N,CONVERSIONS (or N,MEAN,SD with --metric mean), optionally NAME: first. "
            "对照组：人数,转化数（均值指标：人数,均值,标准差）。",
        ),
    ] = None,
    treatment: Annotated[
        list[str] | None,
        typer.Option("--treatment", help="A treatment, as --control; repeat for more arms. 实验组，可重复。"),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            help="conversion or mean (default: conversion; with --file, mean unless every value is 0 or 1). "
            "指标类型。",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="CSV of per-user values: variant,value[,pre_value] (pre_value enables CUPED). "
            "逐用户数据 CSV（含 pre_value 时启用 CUPED）。",
        ),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="Planned split, e.g. 50,50 (default equal). 计划分流比例。"),
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level. 显著性水平。")] = 0.05,
    proper_prior: Annotated[
        bool, typer.Option("--proper-prior", help="Proper Gaussian prior on the lift. 使用正态先验。")
    ] = False,
    prior_mean: Annotated[
        float, typer.Option("--prior-mean", help="Prior mean of the lift. 先验均值。")
    ] = 0.0,
    prior_variance: Annotated[
        float, typer.Option("--prior-variance", help="Prior variance of the lift. 先验方差。")
    ] = 0.09,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """A/B test: Welch t-test, lift CI, chance to win, risk, sample-ratio mismatch, CUPED.
    A/B 实验分析：Welch t 检验、提升置信区间、胜出概率、风险、样本比例失衡检查、CUPED。"""
    treatments = treatment or []
    if file is not None:
        if control or treatments:
            raise fail("give either --file or --control/--treatment")
        variants = _read(read_values_csv, file)
        if metric is None:
            binary = all(x in (0, 1) for v in variants for x in v["values"])
            metric = "conversion" if binary else "mean"
    else:
        metric = metric or "conversion"
        if not control or not treatments:
            raise fail("give --control and at least one --treatment (or --file)")
        variants = [_variant(control, "--control", "control", metric)]
        for i, text in enumerate(treatments, start=1):
            default = "treatment" if len(treatments) == 1 else f"treatment_{i}"
            variants.append(_variant(text, "--treatment", default, metric))
    params: dict[str, Any] = {
        "metric": metric,
        "variants": variants,
        "alpha": alpha,
        "prior": {"proper": proper_prior, "mean": prior_mean, "variance": prior_variance},
        "weights": _split_numbers(weights, "--weights") if weights else None,
    }
    result = run("experiment", params)
    if as_json or as_csv:
        emit(result, as_json, as_csv)
        return
    report = result.to_dict()
    emit(result, False, False)
    for v in report["variants"][1:]:
        verdict = "significant 显著" if v.get("significant") else "not significant 不显著"
        note = f" ({v['note']})" if v.get("note") else ""
        out.print(f"{v['name']}: {verdict} at alpha {report['alpha']:g}{note}")
    flag = "  ← sample-ratio mismatch! 样本比例失衡" if report["srm_flag"] else ""
    out.print(f"SRM p-value {report['srm_p_value']:.4g}{flag}")
    if report["cuped"]:
        out.print(f"CUPED θ = {report['cuped']['theta']:.4g}")
