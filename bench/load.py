"""Driving load: wrk against each endpoint on each server layout, in the plain and the
distributed mode (`run.py run`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shlex
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import (
    DEEP_PAGES,
    DRAIN_TIMEOUT_S,
    LUA_DIR,
    PROBE_MARKER,
    ROOT,
    RUN_PY,
    VENV_BIN,
    WORK_DIR,
    WRK_MARKER,
    BenchError,
    say,
)
from probe import ENDPOINT_KEYS, Endpoint, Tokens, build_endpoints
from processes import (
    RedisServer,
    RssSampler,
    Worker,
    base_env,
    celery_worker,
    free_port,
    layouts,
    redis_server,
    redis_version,
    server,
    set_label,
    wait_for_tasks,
)
from report import (
    format_errors,
    markdown_report,
    package_version,
    run_meta,
    save_results,
    summarize,
    target_checks,
)


def preflight(port: int, endpoint: Endpoint) -> str | None:
    """One GET through the real server; a problem's description, or None if it answered 2xx."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{endpoint.path}")
    if endpoint.token:
        request.add_header("Authorization", f"Token {endpoint.token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return None if 200 <= response.status < 300 else f"answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"answered {exc.code}: {exc.read()[:200]!r}"
    except OSError as exc:
        return f"failed: {exc}"


def wrk_version() -> str:
    result = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    output = (result.stdout or result.stderr).strip().splitlines()
    return output[0].split(" Copyright")[0] if output else "unknown"


def run_wrk(
    endpoint: Endpoint, port: int, duration: int, threads: int, connections: int, seed: int
) -> dict[str, Any]:
    connections = endpoint.connections or connections
    command = [
        "wrk",
        f"--threads={min(threads, connections)}",
        f"--connections={connections}",
        f"--duration={duration}s",
        "--timeout=10s",
        "--latency",
        f"--script={LUA_DIR / endpoint.script}",
    ]
    if endpoint.token:
        command += ["--header", f"Authorization: Token {endpoint.token}"]
    command.append(f"http://127.0.0.1:{port}{endpoint.path}")
    command += ["--", *endpoint.script_args, str(seed)]
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, check=False, timeout=duration + 60
    )
    for line in result.stdout.splitlines():
        if line.startswith(WRK_MARKER):
            parsed: dict[str, Any] = json.loads(line[len(WRK_MARKER) :])
            parsed["connections"] = connections
            return parsed
    raise BenchError(
        f"wrk printed no result for {endpoint.label} (exit {result.returncode}):\n"
        f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
    )


@dataclass
class Distributed:
    """The distributed mode's services for one run: Redis and one Celery worker."""

    redis: RedisServer
    worker: Worker


def benchmark(
    args: argparse.Namespace, database_url: str, tokens_path: Path, servers: list[str]
) -> None:
    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    run_dir = WORK_DIR / f"run-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    if not args.redis:
        env = base_env(database_url, args.env)
        measure(args, env, tokens_path, servers, run_dir, started_at, None)
        return
    # The distributed mode: REDIS_URL turns on the Redis cache, the Celery broker and the
    # home timelines; the same Redis and worker serve every layout of the run.
    with redis_server(run_dir / "redis.log", args.port) as redis:
        env = base_env(database_url, [f"REDIS_URL={redis.url}", *args.env])
        with celery_worker(
            env, run_dir / "celery.log", redis, args.worker_pool, args.worker_concurrency
        ) as worker:
            measure(
                args, env, tokens_path, servers, run_dir, started_at, Distributed(redis, worker)
            )


def measure(
    args: argparse.Namespace,
    env: dict[str, str],
    tokens_path: Path,
    servers: list[str],
    run_dir: Path,
    started_at: datetime,
    distributed: Distributed | None,
) -> None:
    tokens = Tokens.load(tokens_path)
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    say("Counting each endpoint's SQL queries in-process (one request each)")
    spec_path = run_dir / "probe.json"
    spec_path.write_text(json.dumps({"tokens_file": str(tokens_path), "deep_pages": DEEP_PAGES}))
    probe = subprocess.run(  # noqa: S603
        [str(VENV_BIN / "python"), str(RUN_PY), "probe", str(spec_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    probed = next(
        (
            json.loads(line[len(PROBE_MARKER) :])
            for line in probe.stdout.splitlines()
            if line.startswith(PROBE_MARKER)
        ),
        None,
    )
    if probe.returncode != 0 or probed is None:
        raise BenchError(f"the query-count probe failed (exit {probe.returncode}).")
    if probed["deep_pages"] < DEEP_PAGES:
        say(
            f"  note: the viewer's feed has only {probed['deep_pages']} pages after the first; "
            "the deep page is the last one."
        )

    lists = {
        "user_tokens": str(run_dir / "user-tokens.txt"),
        "post_ids": str(run_dir / "post-ids.txt"),
    }
    Path(lists["user_tokens"]).write_text("".join(f"{t}\n" for _, t in tokens.users))
    Path(lists["post_ids"]).write_text("".join(f"{p}\n" for p in tokens.post_ids))
    endpoints = build_endpoints(
        tokens, probed["celebrity"], probed["deep_path"], probed["deep_pages"], lists
    )
    wanted = {key.strip() for key in args.endpoints.split(",") if key.strip()}
    if wanted and wanted != {"all"}:
        unknown = wanted - set(ENDPOINT_KEYS)
        if unknown:
            raise BenchError(f"unknown endpoints {sorted(unknown)}; known: {ENDPOINT_KEYS}")
        endpoints = [e for e in endpoints if e.key in wanted or e.key == "health"]
    queries: dict[str, int | None] = {}
    for endpoint in endpoints:
        measured = probed["queries"].get(endpoint.queries_from or endpoint.key)
        queries[endpoint.key] = measured["queries"] if measured else None
        if measured and not 200 <= measured["status"] < 300:
            say(f"  warning: {endpoint.label} answered {measured['status']} in-process")
    say(
        "  "
        + ", ".join(
            f"{e.key} {queries[e.key]}" for e in endpoints if queries.get(e.key) is not None
        )
    )

    per_layout = args.warmup + len(endpoints) * (args.duration + 1) + 5
    say(
        f"Benchmarking {len(endpoints)} endpoints x {len(servers)} server layouts, "
        f"{args.duration} s each: about {per_layout * len(servers) / 60:.1f} minutes"
    )
    seed = random.randrange(1 << 30)
    load_before = os.getloadavg()[0]
    if load_before > (os.cpu_count() or 1) / 2:
        say(
            f"  note: the load average is {load_before:.1f} on {os.cpu_count()} CPUs: something "
            "else is running, and absolute figures will be noisy (ratios less so)."
        )
    layout_reports = []
    for layout_index, name in enumerate(servers, 1):
        port = free_port(args.port)
        layout = layouts([name], args.workers, port)[0]
        log_path = run_dir / f"{name}.log"
        with contextlib.ExitStack() as stack:
            sampler = stack.enter_context(
                RssSampler(stack.enter_context(server(layout, env, port, log_path)))
            )
            samplers = [sampler]
            if distributed is not None:
                worker_sampler = RssSampler(distributed.worker.process.pid)
                samplers.append(stack.enter_context(worker_sampler))
            problems: dict[str, str] = {}
            for endpoint in endpoints:
                if endpoint.method == "GET" and (problem := preflight(port, endpoint)):
                    problems[endpoint.key] = problem
                    say(f"  warning: {endpoint.label} {problem}")
            if args.warmup:
                set_label(samplers, "warmup")
                warm = next((e for e in endpoints if e.key == "feed"), endpoints[0])
                say(f"  warm-up: {warm.label} for {args.warmup} s")
                run_wrk(
                    warm, port, args.warmup, args.threads, args.connections, seed
                )  # result discarded
            results = []
            for index, endpoint in enumerate(endpoints, 1):
                connections = endpoint.connections or args.connections
                say(
                    f"[{name} {layout_index}/{len(servers)}, {index}/{len(endpoints)}] "
                    f"{endpoint.label}: {args.duration} s, {connections} connections"
                )
                set_label(samplers, endpoint.key)
                raw = run_wrk(
                    endpoint,
                    port,
                    args.duration,
                    args.threads,
                    args.connections,
                    seed + 1000 * layout_index + index,  # each layout likes other pairs
                )
                result = summarize(endpoint, raw, queries.get(endpoint.key))
                result.max_process_rss_mb = round(sampler.max_process.get(endpoint.key, 0.0), 1)
                result.preflight_problem = problems.get(endpoint.key)
                if distributed is not None:
                    result.tasks_pending_after = distributed.redis.pending_tasks()
                results.append(result)
                say(
                    f"    {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
                    f"p99 {result.p99_ms:.1f} ms, errors {format_errors(result)}"
                    + (
                        f", fan-out tasks pending {result.tasks_pending_after:,}"
                        if result.tasks_pending_after
                        else ""
                    )
                )
            worker_report: dict[str, Any] | None = None
            if distributed is not None:
                # Let the worker finish this layout's fan-out before the next layout starts,
                # and time it: the backlog the write load left behind.
                set_label(samplers, "drain")
                pending, waited, drained = wait_for_tasks(distributed.redis, DRAIN_TIMEOUT_S)
                if pending:
                    say(
                        f"  the worker ran the {pending:,} fan-out tasks left in {waited:.1f} s"
                        + ("" if drained else f" (NOT all within {DRAIN_TIMEOUT_S:.0f} s)")
                    )
                worker_report = {
                    "max_process_rss_mb": round(max(worker_sampler.max_process.values()), 1),
                    "max_total_rss_mb": round(max(worker_sampler.max_total.values()), 1),
                    "max_process_anon_mb": round(
                        max(worker_sampler.max_process_anon.values(), default=0.0), 1
                    ),
                    "tasks_pending_after_load": pending,
                    "drain_s": round(waited, 1),
                    "drained": drained,
                    "errors_logged": distributed.worker.errors(),
                }
        health = next((r for r in results if r.key == "health"), None)
        for result in results:
            if health is not None and health.requests_per_s:
                result.ratio_to_health = round(result.requests_per_s / health.requests_per_s, 3)
        max_process = max(sampler.max_process.values(), default=0.0)
        max_total = max(sampler.max_total.values(), default=0.0)
        layout_reports.append(
            {
                "server": name,
                "description": layout.description,
                "command": shlex.join(layout.command),
                "endpoints": [asdict(result) for result in results],
                "max_process_rss_mb": round(max_process, 1),
                "max_total_rss_mb": round(max_total, 1),
                "max_process_anon_mb": round(
                    max(sampler.max_process_anon.values(), default=0.0), 1
                ),
                "targets": target_checks(results, max_process, worker_report),
                "worker": worker_report,
            }
        )

    command = (
        f"make bench SIZE={args.size} DB={args.db} DURATION={args.duration} "
        f"CONNECTIONS={args.connections} THREADS={args.threads} BENCH_WORKERS={args.workers}"
        + (" REDIS=1" if distributed is not None else "")
        + (
            f" WORKER_POOL={args.worker_pool}"
            if distributed is not None and args.worker_pool != "solo"
            else ""
        )
    )
    report = {
        "meta": {
            "size": args.size,
            "db": args.db,
            **run_meta(started_at, command, ["django", "uvicorn", "gunicorn"]),
            "wrk": wrk_version(),
            "duration_s": args.duration,
            "threads": args.threads,
            "connections": args.connections,
            "workers": args.workers,
            "extra_env": args.env,
            "load_average_before": round(load_before, 2),
            "mode": "distributed" if distributed is not None else "embedded",
            "distributed": None
            if distributed is None
            else {
                "redis": redis_version(),
                "celery": package_version("celery"),
                "worker": distributed.worker.description,
                "worker_command": shlex.join(distributed.worker.command),
                "feed_timeline_ids": probed["dataset"].get("viewer_timeline_ids"),
            },
        },
        "dataset": probed["dataset"],
        "deep_pages": probed["deep_pages"],
        "deep_path": probed["deep_path"],
        "probe": probed["queries"],
        "layouts": layout_reports,
    }
    mode = "-redis" if distributed is not None else ""
    save_results(f"{stamp}-{args.size}-{args.db}{mode}", report, markdown_report(report))
