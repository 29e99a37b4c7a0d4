"""Results: wrk's numbers summed up per endpoint, the tables, the targets, and the Markdown and
JSON files in bench/results/."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from common import (
    RESULTS_DIR,
    ROOT,
    TARGET_DEEP_VS_FIRST,
    TARGET_FANOUT_S,
    TARGET_FEED_RATIO,
    TARGET_RSS_MB,
    TARGET_SINGLE_CLIENT_P99_MS,
    TARGET_VISIBILITY_MS,
    rel,
    say,
)
from probe import Endpoint


@dataclass
class EndpointResult:
    key: str
    label: str
    connections: int
    requests_per_s: float
    ratio_to_health: float | None
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors_status: int
    errors_socket: int
    statuses: dict[str, int]
    queries: int | None
    max_process_rss_mb: float | None
    preflight_problem: str | None = None
    tasks_pending_after: int | None = None  # distributed mode: fan-out tasks not yet run


def summarize(endpoint: Endpoint, raw: dict[str, Any], queries: int | None) -> EndpointResult:
    latency = raw["latency_us"]
    percentiles = latency["percentiles"]
    errors = raw["errors"]
    seconds = raw["duration_us"] / 1e6
    return EndpointResult(
        key=endpoint.key,
        label=endpoint.label,
        connections=raw["connections"],
        requests_per_s=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        ratio_to_health=None,
        p50_ms=round(percentiles["50"] / 1000, 2),
        p90_ms=round(percentiles["90"] / 1000, 2),
        p99_ms=round(percentiles["99"] / 1000, 2),
        max_ms=round(latency["max"] / 1000, 2),
        requests=raw["requests"],
        errors_status=errors["status"],
        errors_socket=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        statuses=raw["statuses"],
        queries=queries,
        max_process_rss_mb=None,
    )


def format_errors(result: EndpointResult) -> str:
    parts = []
    failing = {code: n for code, n in result.statuses.items() if not 200 <= int(code) < 400}
    if failing:
        parts.append(" ".join(f"{code}x{n}" for code, n in sorted(failing.items())))
    elif result.errors_status:
        parts.append(f"{result.errors_status} status")
    if result.errors_socket:
        parts.append(f"{result.errors_socket} socket")
    return ", ".join(parts) or "0"


def table(results: list[EndpointResult]) -> list[str]:
    rows = [
        "| endpoint | conns | req/s | vs health | p50 ms | p99 ms | errors | SQL/req |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for result in results:
        ratio = f"{result.ratio_to_health:.2f}" if result.ratio_to_health is not None else "-"
        queries = str(result.queries) if result.queries is not None else "?"
        rows.append(
            f"| {result.label} | {result.connections} | {result.requests_per_s:,.0f} | {ratio} "
            f"| {result.p50_ms:.1f} | {result.p99_ms:.1f} | {format_errors(result)} "
            f"| {queries} |"
        )
    return rows


def target_checks(
    results: list[EndpointResult], max_rss: float | None, worker: dict[str, Any] | None = None
) -> list[str]:
    by_key = {result.key: result for result in results}
    checks = []

    def check(ok: bool, text: str) -> None:
        checks.append(f"- {'met' if ok else 'NOT met'}: {text}")

    if "feed_1conn" in by_key:
        p99 = by_key["feed_1conn"].p99_ms
        check(
            p99 < TARGET_SINGLE_CLIENT_P99_MS,
            f"feed p99 with one client {p99:.1f} ms (target < {TARGET_SINGLE_CLIENT_P99_MS:.0f})",
        )
    feed = by_key.get("feed")
    if feed is not None and feed.ratio_to_health is not None:
        check(
            feed.ratio_to_health >= TARGET_FEED_RATIO,
            f"feed throughput {feed.ratio_to_health:.2f} of health "
            f"(target >= {TARGET_FEED_RATIO:.2f})",
        )
    deep = by_key.get("feed_deep")
    if feed is not None and deep is not None and feed.requests_per_s:
        ratio = deep.requests_per_s / feed.requests_per_s
        check(
            ratio >= TARGET_DEEP_VS_FIRST,
            f"deep feed page at {ratio:.2f} of the first page's throughput "
            f"(target >= {TARGET_DEEP_VS_FIRST:.2f})",
        )
    if max_rss is not None:
        check(
            max_rss < TARGET_RSS_MB,
            f"largest server process {max_rss:.0f} MB RSS (target < {TARGET_RSS_MB:.0f})",
        )
    if worker is not None:
        check(
            worker["max_process_rss_mb"] < TARGET_RSS_MB,
            f"largest Celery worker process {worker['max_process_rss_mb']:.0f} MB RSS, "
            f"{worker['max_process_anon_mb']:.0f} MB of it anonymous (target < "
            f"{TARGET_RSS_MB:.0f})",
        )
    return checks


def save_results(name: str, report: dict[str, Any], markdown: str) -> None:
    """Write a run's report as bench/results/<name>.json and .md, and print the Markdown."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    base = RESULTS_DIR / name
    Path(f"{base}.json").write_text(json.dumps(report, indent=2) + "\n")
    Path(f"{base}.md").write_text(markdown)
    say("")
    say(markdown)
    say(f"Saved {rel(Path(f'{base}.json'))} and {rel(Path(f'{base}.md'))}")


def run_meta(started_at: datetime, command: str, packages: list[str]) -> dict[str, Any]:
    """What every report says about where and how it was measured: the command, the commit,
    the machine, and the versions of `packages` (keyed by name, dashes as underscores)."""
    return {
        "started_at": started_at.strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "commit": git_describe(),
        "python": platform.python_version(),
        **{name.replace("-", "_"): package_version(name) for name in packages},
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
    }


def git_describe() -> str:
    def git(*args: str) -> str:
        result = subprocess.run(  # noqa: S603
            ["git", *args],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit} (with uncommitted changes)" if dirty else commit


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown_report(report: dict[str, Any]) -> str:
    meta = report["meta"]
    dataset = report["dataset"]
    distributed = meta.get("distributed")
    mode = ", distributed mode (Redis + Celery)" if distributed else ""
    lines = [
        f"# Plaza benchmark: {meta['size']} on {meta['db']}{mode}, {meta['started_at']}",
        "",
        f"`{meta['command']}`",
        "",
        f"- commit {meta['commit']}; Python {meta['python']}, Django {meta['django']}; "
        f"{meta['cpus']} CPUs ({meta['cpu_model']}); {meta['wrk']}",
        f"- wrk: {meta['duration_s']} s per endpoint, {meta['threads']} threads, "
        f"{meta['connections']} connections; load average before the run "
        f"{meta['load_average_before']} (1 min)",
        "- data: "
        + ", ".join(
            f"{dataset[key]:,} {key}"
            for key in ("users", "posts", "follows", "likes", "comments", "notifications")
            if isinstance(dataset.get(key), int)
        )
        + f"; the viewer follows {number(dataset.get('viewer_following'))}; "
        f"{dataset.get('celebrity')} has {number(dataset.get('celebrity_followers'))} followers",
        f"- deep page: {report['deep_pages']} pages into the viewer's feed",
    ]
    if distributed:
        lines.append(
            f"- distributed mode: `REDIS_URL` set (Redis cache, Celery broker, home timelines in "
            f"Redis), a throwaway {distributed['redis']}, {distributed['worker']} "
            f"(Celery {distributed['celery']}); the viewer's timeline held "
            f"{number(distributed['feed_timeline_ids'])} post ids when the load began (built "
            "by the probe's first feed request); pages past it continue from SQL"
        )
    else:
        lines.append("- embedded mode: no `REDIS_URL` (local-memory cache, feed from SQL)")
    for layout in report["layouts"]:
        results = [EndpointResult(**item) for item in layout["endpoints"]]
        lines += ["", f"## {layout['description']}", "", *table(results), ""]
        lines.append(
            f"Largest server process: {layout['max_process_rss_mb']:.0f} MB RSS; all of its "
            f"processes together: {layout['max_total_rss_mb']:.0f} MB (maxima over the run)."
            + (
                f" Anonymous memory alone (RSS less mapped files such as SQLite's mmap): "
                f"{layout['max_process_anon_mb']:.0f} MB."
                if layout.get("max_process_anon_mb") is not None
                else ""
            )
        )
        worker = layout.get("worker")
        if worker:
            backlog = next((r.tasks_pending_after for r in results if r.key == "post_create"), None)
            lines.append(
                f"Celery worker: largest process {worker['max_process_rss_mb']:.0f} MB RSS "
                f"({worker['max_process_anon_mb']:.0f} MB anonymous), all of its processes "
                f"{worker['max_total_rss_mb']:.0f} MB. "
                + (
                    f"Fan-out tasks still queued when the `POST /api/posts/` load ended: "
                    f"{backlog:,}; "
                    if backlog is not None
                    else ""
                )
                + f"after the last endpoint the worker needed {worker['drain_s']:.1f} s to run "
                f"the {worker['tasks_pending_after_load']:,} left"
                + ("" if worker["drained"] else " and did NOT finish")
                + f"; {worker['errors_logged']} errors in its log."
            )
        like = next((r for r in results if r.key == "like"), None)
        if like is not None and like.requests:
            new = like.statuses.get("201", 0)
            lines.append(
                f"Likes: {new / like.requests:.0%} were new (201), "
                f"{like.statuses.get('200', 0)} had been liked before (200)."
            )
        lines += ["", "Targets:", *layout["targets"]]
    return "\n".join(lines) + "\n"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fanout_markdown(report: dict[str, Any]) -> str:
    meta, celebrity, ordinary = report["meta"], report["celebrity"], report["ordinary"]
    settings = report["settings"]
    lines = [
        f"# Plaza fan-out benchmark: {meta['size']} on {meta['db']}, {meta['started_at']}",
        "",
        f"`{meta['command']}`",
        "",
        f"- commit {meta['commit']}; Python {meta['python']}, Django {meta['django']}, "
        f"Celery {meta['celery']}, {meta['redis']}; {meta['cpus']} CPUs ({meta['cpu_model']}); "
        f"load average before the run {meta['load_average_before']} (1 min)",
        f"- {meta['layout']}; FEED_FANOUT_MAX_FOLLOWERS={settings['FEED_FANOUT_MAX_FOLLOWERS']:,}"
        f", FEED_FANOUT_BATCH_SIZE={settings['FEED_FANOUT_BATCH_SIZE']:,}, "
        f"FEED_TIMELINE_SIZE={settings['FEED_TIMELINE_SIZE']:,}",
        f"- timings start when the server's 201 for `POST /api/posts/` arrives (the post is "
        f"committed and its fan-out task queued by then) and end when the post id is seen in "
        f"Redis; a warm-up post took {report['warmup_s'] * 1000:.0f} ms",
        "",
        f"## A post by {celebrity['username']}, {celebrity['followers']:,} followers",
        "",
        f"Every follower's timeline was first created empty (`TimelineStore.build(user_id, [])`"
        f", {celebrity['build_timelines_s']:.1f} s; Redis then used "
        f"{celebrity['redis_used_memory_mb']:.0f} MB): fan-out only adds to timelines that "
        "exist.",
        "",
        "Seconds from the 201; the last column counts from sending the request (an upper "
        "bound: the post is committed and its task queued before the response is sent).",
        "",
        "| post | API ms | first follower s | last follower s | all followers s | followers/s "
        "| all, from the request s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    seconds = []
    for index, run in enumerate(celebrity["runs"], 1):
        if run["seconds"] is not None:
            seconds.append(run["seconds"])
        lines.append(
            f"| {index} | {run['api_ms']:.0f} | {secs(run['first_follower_s'])} "
            f"| {secs(run['last_follower_s'])} "
            f"| {secs(run['seconds']) if run['seconds'] is not None else 'not all'} "
            f"| {ms(run['followers_per_s'])} | {secs(run['seconds_from_sent'])} |"
        )
    visibility, api = ordinary["visibility"], ordinary["api"]
    upper = ordinary["visibility_from_sent"]
    read = ordinary["read_load"]
    lines += [
        "",
        f"## Ordinary accounts: {ordinary['posts']} posts by {ordinary['authors']} accounts",
        "",
        f"{ordinary['rate_per_s']} posts/s; the authors have {ordinary['followers_median']} "
        f"followers (median, at most {ordinary['followers_max']}), "
        f"{ordinary['timelines']:,} timelines created empty first. Each post is timed into the "
        "timeline of its author's last follower in fan-out order"
        + (
            f"; meanwhile wrk read the viewer's feed on {read['connections']} connections "
            f"({read['requests_per_s']:,} req/s, p99 {read['p99_ms']} ms)."
            if read
            else "."
        ),
        "",
        "| | posts | p50 ms | p90 ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| 201 to visible in the timeline | {ordinary['visible']}/{ordinary['posts']} "
        f"| {ms(visibility['p50_ms'])} | {ms(visibility['p90_ms'])} "
        f"| {ms(visibility['p99_ms'])} | {ms(visibility['max_ms'])} |",
        f"| request sent to visible (upper bound) | {ordinary['visible']}/{ordinary['posts']} "
        f"| {ms(upper['p50_ms'])} | {ms(upper['p90_ms'])} "
        f"| {ms(upper['p99_ms'])} | {ms(upper['max_ms'])} |",
        f"| `POST /api/posts/` (for scale) | {ordinary['posts']} | {ms(api['p50_ms'])} "
        f"| {ms(api['p90_ms'])} | {ms(api['p99_ms'])} | {ms(api['max_ms'])} |",
        "",
        "## Celery worker",
        "",
        'RSS of the worker\'s processes, sampled every 0.25 s; "anonymous" leaves out pages '
        "of mapped files (SQLite maps up to 256 MB of its database file: `PRAGMA mmap_size`), "
        "which the kernel shares and can reclaim.",
        "",
        "| phase | largest process MB | its anonymous MB | all its processes MB |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {label} | {rss['max_process_mb']:.0f} | {rss['max_process_anon_mb']:.0f} "
            f"| {rss['max_total_mb']:.0f} |"
            for label, rss in report["worker_rss"].items()
        ),
        "",
        f"Errors in the worker's log: {report['worker_errors_logged']}. Redis used "
        f"{report['redis_used_memory_mb_end']:.0f} MB at the end.",
        "",
        "Targets:",
    ]
    followers = celebrity["followers"]
    if seconds and len(seconds) == len(celebrity["runs"]):
        worst = max(seconds)
        lines.append(
            f"- {'met' if worst < TARGET_FANOUT_S else 'NOT met'}: {followers:,} followers "
            f"fanned out in at most {worst:.2f} s by one worker (target < "
            f"{TARGET_FANOUT_S:.0f} s for 50,000; at this rate 50,000 take "
            f"{worst * 50_000 / followers:.2f} s)"
        )
    else:
        lines.append("- NOT met: the celebrity's post did not reach every follower")
    p99 = visibility["p99_ms"]
    complete = ordinary["visible"] == ordinary["posts"]
    lines.append(
        f"- {'met' if p99 is not None and complete and p99 < TARGET_VISIBILITY_MS else 'NOT met'}"
        f": ordinary post-to-feed visibility p99 {ms(p99)} ms from the 201, "
        f"{ms(upper['p99_ms'])} ms from the request ({ordinary['visible']}/{ordinary['posts']} "
        "seen; target < "
        f"{TARGET_VISIBILITY_MS / 1000:.0f} s)"
    )
    worker_max = max(rss["max_process_mb"] for rss in report["worker_rss"].values())
    anon_max = max(rss["max_process_anon_mb"] for rss in report["worker_rss"].values())
    lines.append(
        f"- {'met' if worker_max < TARGET_RSS_MB else 'NOT met'}: largest worker process "
        f"{worker_max:.0f} MB RSS, {anon_max:.0f} MB of it anonymous "
        f"(target < {TARGET_RSS_MB:.0f})"
    )
    return "\n".join(lines) + "\n"
