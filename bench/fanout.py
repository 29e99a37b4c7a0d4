"""The fan-out benchmark (`run.py fanout`): the parent that starts Redis, a worker and the
server, and the probe, a child with Django and redis-py, that times posts into timelines."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import (
    CELERY_QUEUE,
    CELERY_UNACKED,
    DRAIN_TIMEOUT_S,
    FANOUT_MARKER,
    FANOUT_TIMEOUT_S,
    ROOT,
    RUN_PY,
    VENV_BIN,
    WORK_DIR,
    percentile,
)
from load import run_wrk
from probe import Endpoint
from processes import (
    RssSampler,
    base_env,
    celery_worker,
    free_port,
    layouts,
    redis_server,
    redis_version,
    run_child,
    server,
)
from report import fanout_markdown, run_meta, save_results

if TYPE_CHECKING:
    from redis import Redis

    from plaza.accounts.models import User
    from plaza.feed.timelines import TimelineStore


def fanout_probe_main(spec_path: Path) -> None:
    """The measuring side of `run.py fanout`, in a child process with Django and redis-py:
    creates posts through the running server and watches followers' timelines in Redis.
    Prints one JSON line for the parent."""
    probe = FanoutProbe.start(json.loads(spec_path.read_text()))
    with RssSampler(probe.spec["worker_pid"]) as worker_rss:
        worker_rss.label = "warmup"
        authors = probe.ordinary_authors()
        warmup_s = probe.warm_up(authors[0])
        worker_rss.label = "celebrity"
        celebrity_report = probe.celebrity()
        worker_rss.label = "ordinary"
        ordinary_report = probe.ordinary(authors)
        probe.idle()
    print(
        FANOUT_MARKER
        + json.dumps(
            {
                "warmup_s": round(warmup_s, 3),
                "celebrity": celebrity_report,
                "ordinary": ordinary_report,
                "worker_rss": worker_rss_report(worker_rss),
                "settings": probe.settings_report(),
            }
        ),
        flush=True,
    )


def worker_rss_report(worker_rss: RssSampler) -> dict[str, dict[str, float]]:
    return {
        label: {
            "max_process_mb": round(worker_rss.max_process[label], 1),
            "max_total_mb": round(worker_rss.max_total[label], 1),
            "max_process_anon_mb": round(worker_rss.max_process_anon[label], 1),
        }
        for label in worker_rss.max_process
    }


def latency_summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(percentile(values, 0.50), 1),
        "p90_ms": round(percentile(values, 0.90), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
        "max_ms": round(max(values), 1),
    }


@dataclass
class Posting:
    """The ordinary accounts' posts, shared between the thread that posts and the loop that
    watches timelines."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: dict[int, tuple[int, float]] = field(default_factory=dict)  # post -> (follower, 201)
    posted: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class FanoutProbe:
    spec: dict[str, Any]
    tokens: dict[str, Any]
    store: TimelineStore
    client: Redis
    counter: int = 0

    @classmethod
    def start(cls, spec: dict[str, Any]) -> FanoutProbe:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        sys.path.insert(0, str(ROOT))
        django.setup()

        from plaza.core.redis import redis_client
        from plaza.feed.timelines import timeline_store

        store, client = timeline_store(), redis_client()
        if store is None or client is None:
            raise SystemExit("fanout: REDIS_URL is not set, or FEED_TIMELINES is off.")
        tokens = json.loads(Path(spec["tokens_file"]).read_text())
        return cls(spec, tokens, store, client)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.spec['port']}"

    def note(self, message: str) -> None:
        print(message, flush=True)

    def followers_in_fanout_order(self, user_id: int) -> list[int]:
        from plaza.feed.tasks import _follower_batches

        # The fan-out task's own query, so the last id here is the last timeline it fills.
        return [follower for batch in _follower_batches(user_id) for follower in batch]

    def build_empty(self, user_ids: list[int]) -> float:
        """Make these timelines exist, empty: fan-out only pushes into existing ones.
        (Rebuilding each from SQL, as a reader's first request does, is not what is measured
        here, and would take minutes for 50,000+ users.)"""
        started = time.perf_counter()
        for user_id in user_ids:
            self.store.build(user_id, [])
        return time.perf_counter() - started

    def idle(self, timeout: float = DRAIN_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while self.client.llen(CELERY_QUEUE) + self.client.hlen(CELERY_UNACKED) > 0:
            if time.monotonic() > deadline:
                raise SystemExit(f"fanout: the worker did not empty its queue in {timeout} s.")
            time.sleep(0.05)

    def create_post(self, token: str) -> tuple[int, float, float]:
        """POST /api/posts/ through the server: (post id, sent at, 201 received at)."""
        self.counter += 1
        body = json.dumps(
            {
                "title": f"Fan-out benchmark post {self.counter}",
                "content": "Written by bench/run.py fanout to time its way into timelines.",
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback URL built above
            f"{self.base_url}/api/posts/",
            data=body,
            method="POST",
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        sent = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            payload = json.loads(response.read())
            status = response.status
        answered = time.perf_counter()
        if status != 201:
            raise SystemExit(f"fanout: POST /api/posts/ answered {status}: {payload!r}")
        return int(payload["id"]), sent, answered

    def present(self, pairs: list[tuple[int, int]]) -> list[bool]:
        """Whether each (user id, post id) is in that user's timeline: one round trip."""
        from plaza.feed.timelines import _key, _member

        pipe = self.client.pipeline(transaction=False)
        for user_id, post_id in pairs:
            pipe.zscore(_key(user_id), _member(post_id))
        return [score is not None for score in pipe.execute()]

    def settings_report(self) -> dict[str, int]:
        from django.conf import settings

        return {
            "FEED_FANOUT_MAX_FOLLOWERS": settings.FEED_FANOUT_MAX_FOLLOWERS,
            "FEED_FANOUT_BATCH_SIZE": settings.FEED_FANOUT_BATCH_SIZE,
            "FEED_TIMELINE_SIZE": settings.FEED_TIMELINE_SIZE,
        }

    # --- Warm-up -----------------------------------------------------------------------------

    def ordinary_authors(self) -> list[dict[str, Any]]:
        """The first sample users of the tokens file that have followers, with their ids and
        their followers in fan-out order."""
        from plaza.accounts.models import User

        sample = self.tokens["users"]
        ids = dict(
            User.objects.filter(username__in=[u["username"] for u in sample]).values_list(
                "username", "id"
            )
        )
        authors: list[dict[str, Any]] = []
        for user in sample:
            followers = self.followers_in_fanout_order(ids[user["username"]])
            if followers:
                authors.append({**user, "id": ids[user["username"]], "followers": followers})
            if len(authors) == self.spec["authors"]:
                break
        if not authors:
            raise SystemExit("fanout: no sample user in the tokens file has followers.")
        return authors

    def warm_up(self, author: dict[str, Any]) -> float:
        """One post, waited for: the worker's first task pays for imports and its database
        connection, which the measured posts should not."""
        last = author["followers"][-1]
        self.build_empty([last])
        self.idle()
        post_id, _sent, answered = self.create_post(author["token"])
        while not self.present([(last, post_id)])[0]:
            if time.perf_counter() - answered > 60:
                raise SystemExit("fanout: the warm-up post reached no timeline in 60 s.")
            time.sleep(0.005)
        warmup_s = time.perf_counter() - answered
        self.note(f"  warm-up post visible after {warmup_s * 1000:.0f} ms")
        return warmup_s

    # --- (a) The most-followed account's post, fanned out to every follower ------------------

    def choose_celebrity(self) -> tuple[User, dict[str, Any], str]:
        """(the account that will post, the most-followed account, the poster's token)."""
        from django.conf import settings

        from plaza.accounts.models import User

        spec = self.spec
        top = User.objects.order_by("-followers_count").values("username", "followers_count")[0]
        with_token = {c["username"]: c["token"] for c in self.tokens.get("celebrities", [])}
        if not with_token:
            raise SystemExit(f"fanout: {spec['tokens_file']} lists no celebrities with tokens.")
        candidates = User.objects.filter(username__in=with_token).order_by("-followers_count")
        if spec["celebrity"]:
            candidates = candidates.filter(username=spec["celebrity"])
            if not candidates:
                raise SystemExit(f"fanout: no token for {spec['celebrity']!r} in the tokens file.")
        celebrity = candidates[0]
        if celebrity.username != top["username"] and not spec["celebrity"]:
            self.note(
                f"  note: {top['username']} has the most followers ({top['followers_count']:,}) "
                f"but no token; using {celebrity.username}"
            )
        if celebrity.followers_count >= settings.FEED_FANOUT_MAX_FOLLOWERS:
            raise SystemExit(
                f"fanout: FEED_FANOUT_MAX_FOLLOWERS={settings.FEED_FANOUT_MAX_FOLLOWERS} would "
                f"skip {celebrity.username}'s {celebrity.followers_count:,} followers."
            )
        return celebrity, top, with_token[celebrity.username]

    def celebrity(self) -> dict[str, Any]:
        celebrity, top, token = self.choose_celebrity()
        followers = self.followers_in_fanout_order(celebrity.pk)
        self.note(
            f"Creating {len(followers) + 1:,} empty timelines ({celebrity.username}'s followers "
            "and their own) with TimelineStore.build(user_id, [])"
        )
        build_s = self.build_empty([*followers, celebrity.pk])
        self.note(f"  done in {build_s:.1f} s")
        runs = []
        for index in range(self.spec["celebrity_posts"]):
            self.idle()
            run = self.time_celebrity_post(token, followers)
            runs.append(run)
            seconds = run["seconds"]
            self.note(
                f"  post {index + 1}/{self.spec['celebrity_posts']}: "
                + (
                    f"in all {len(followers):,} timelines {seconds:.2f} s after the 201 "
                    f"({len(followers) / seconds:,.0f} followers/s)"
                    if seconds
                    else f"{run['missing']:,} timelines still miss it after {FANOUT_TIMEOUT_S} s"
                )
            )
        return {
            "username": celebrity.username,
            "followers": len(followers),
            "followers_count": celebrity.followers_count,
            "most_followed": top["username"],
            "build_timelines_s": round(build_s, 1),
            "redis_used_memory_mb": round(self.client.info("memory")["used_memory"] / 2**20, 1),
            "runs": runs,
        }

    def time_celebrity_post(self, token: str, followers: list[int]) -> dict[str, Any]:
        post_id, sent, answered = self.create_post(token)
        deadline = answered + FANOUT_TIMEOUT_S
        first_at, last_at = self.watch_ends(post_id, followers[0], followers[-1], deadline)
        missing, complete_at = self.watch_all(post_id, followers, last_at, deadline)
        seconds = None if complete_at is None or missing else complete_at - answered
        return {
            "post_id": str(post_id),
            "api_ms": round((answered - sent) * 1000, 1),
            "first_follower_s": None if first_at is None else round(first_at - answered, 3),
            "last_follower_s": None if last_at is None else round(last_at - answered, 3),
            "seconds": None if seconds is None else round(seconds, 3),
            "seconds_from_sent": None if seconds is None else round(seconds + answered - sent, 3),
            "followers_per_s": round(len(followers) / seconds) if seconds else None,
            "missing": len(missing),
        }

    def watch_ends(
        self, post_id: int, first: int, last: int, deadline: float
    ) -> tuple[float | None, float | None]:
        """When the post reached the first and the last follower in the task's order."""
        first_at = last_at = None
        while last_at is None and time.perf_counter() < deadline:
            first_seen, last_seen = self.present([(first, post_id), (last, post_id)])
            now = time.perf_counter()
            if first_seen and first_at is None:
                first_at = now
            if last_seen:
                last_at = now
            else:
                time.sleep(0.002)
        return first_at, last_at

    def watch_all(
        self, post_id: int, followers: list[int], last_at: float | None, deadline: float
    ) -> tuple[list[int], float | None]:
        """(followers still without the post, when all had it). The last follower in the
        task's order having it proves nothing about the others: check every one, in pipelined
        chunks, and keep polling any the order did not predict."""
        missing, complete_at = list(followers), last_at
        while missing and time.perf_counter() < deadline:
            still = []
            for start in range(0, len(missing), 10_000):
                chunk = missing[start : start + 10_000]
                flags = self.present([(follower, post_id) for follower in chunk])
                still += [f for f, seen in zip(chunk, flags, strict=True) if not seen]
            if still and still != missing:
                complete_at = None  # the order was wrong: time it by the checks instead
            missing = still
            if missing:
                time.sleep(0.01)
            elif complete_at is None:
                complete_at = time.perf_counter()
        return missing, complete_at

    # --- (b) Ordinary accounts posting a few times a second ----------------------------------
    # Each post is timed into the timeline of its author's last follower (in fan-out order).

    def ordinary(self, authors: list[dict[str, Any]]) -> dict[str, Any]:
        spec = self.spec
        audience = sorted({f for author in authors for f in author["followers"]})
        self.note(
            f"Creating {len(audience):,} empty timelines for the followers of "
            f"{len(authors)} ordinary accounts"
        )
        self.build_empty(audience)
        self.idle()
        read_load: dict[str, Any] = {}
        wrk_thread = self.start_read_load(read_load) if spec["read_connections"] else None
        total = max(1, round(spec["rate"] * spec["duration"]))
        self.note(
            f"Posting {total} times as {len(authors)} accounts, {spec['rate']:g} per second"
            + (
                f", under a feed read load of {spec['read_connections']} connections"
                if spec["read_connections"]
                else ""
            )
        )
        posting = Posting()
        poster = threading.Thread(
            target=self.post_steadily, args=(authors, total, posting), daemon=True
        )
        poster.start()
        visible_at = self.watch_posts(posting)
        poster.join()
        if wrk_thread is not None:
            wrk_thread.join()
        if not posting.posted:
            failures = posting.failures
            raise SystemExit(f"fanout: every post failed, e.g. {failures[0] if failures else '?'}")
        report = self.ordinary_report(authors, audience, posting, visible_at, read_load)
        if posting.failures:
            self.note(f"  {len(posting.failures)} posts failed, e.g. {posting.failures[0]}")
        return report

    def start_read_load(self, read_load: dict[str, Any]) -> threading.Thread:
        """wrk reading the feed in a thread while the accounts post; its result lands in
        `read_load`."""
        spec = self.spec
        feed = Endpoint(
            "feed", "GET /api/feed/", "GET", "/api/feed/", "get.lua", self.tokens["viewer"]["token"]
        )

        def read() -> None:
            read_load.update(
                run_wrk(
                    feed,
                    spec["port"],
                    math.ceil(spec["duration"]) + 2,
                    2,
                    spec["read_connections"],
                    random.randrange(1 << 30),
                )
            )

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        time.sleep(1)  # the read load first, then the posts
        return thread

    def post_steadily(self, authors: list[dict[str, Any]], total: int, posting: Posting) -> None:
        """`total` posts at the spec's rate, the authors in turn (in a thread)."""
        try:
            started = time.perf_counter()
            for index in range(total):
                delay = started + index / self.spec["rate"] - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                author = authors[index % len(authors)]
                try:
                    post_id, sent, answered = self.create_post(author["token"])
                except (OSError, SystemExit) as exc:
                    posting.failures.append(str(exc))
                    continue
                follower = author["followers"][-1]
                with posting.lock:
                    posting.pending[post_id] = (follower, answered)
                    posting.posted.append(
                        {
                            "post_id": post_id,
                            "author": author["username"],
                            "followers": len(author["followers"]),
                            "api_ms": (answered - sent) * 1000,
                            "sent": sent,
                            "answered": answered,
                        }
                    )
        finally:
            posting.done.set()

    def watch_posts(self, posting: Posting) -> dict[int, float]:
        """Poll every post in flight, one pipelined round trip for all, until posting is over
        and each post is seen or given up on: {post id: when it was seen}."""
        visible_at: dict[int, float] = {}
        while True:
            with posting.lock:
                waiting = list(posting.pending.items())
            if not waiting and posting.done.is_set():
                break
            if waiting:
                flags = self.present([(follower, post_id) for post_id, (follower, _) in waiting])
                now = time.perf_counter()
                with posting.lock:
                    for (post_id, (_follower, answered)), seen in zip(waiting, flags, strict=True):
                        if seen:
                            visible_at[post_id] = now
                            del posting.pending[post_id]
                        elif now - answered > FANOUT_TIMEOUT_S:
                            del posting.pending[post_id]
            time.sleep(0.002)
        return visible_at

    def ordinary_report(
        self,
        authors: list[dict[str, Any]],
        audience: list[int],
        posting: Posting,
        visible_at: dict[int, float],
        read_load: dict[str, Any],
    ) -> dict[str, Any]:
        posted = posting.posted
        # From the 201 (the post was committed and queued before it): a lower bound, as the
        # fan-out may finish before the response reaches us; from sending the request: an
        # upper bound. The commit-to-visible time lies between the two.
        latencies = [
            (visible_at[p["post_id"]] - p["answered"]) * 1000
            for p in posted
            if p["post_id"] in visible_at
        ]
        from_sent = [
            (visible_at[p["post_id"]] - p["sent"]) * 1000
            for p in posted
            if p["post_id"] in visible_at
        ]
        api = [p["api_ms"] for p in posted]
        span = (max(p["answered"] for p in posted) - min(p["answered"] for p in posted)) or 1.0
        audience_sizes = sorted(len(a["followers"]) for a in authors)
        return {
            "authors": len(authors),
            "followers_median": audience_sizes[len(audience_sizes) // 2],
            "followers_max": audience_sizes[-1],
            "timelines": len(audience),
            "posts": len(posted),
            "failed_posts": len(posting.failures),
            "rate_per_s": round((len(posted) - 1) / span, 2) if len(posted) > 1 else None,
            "visible": len(latencies),
            "visibility": latency_summary(latencies),
            "visibility_from_sent": latency_summary(from_sent),
            "api": latency_summary(api),
            "read_load": None
            if not read_load
            else {
                "connections": self.spec["read_connections"],
                "requests_per_s": round(read_load["requests"] / (read_load["duration_us"] / 1e6)),
                "p99_ms": round(read_load["latency_us"]["percentiles"]["99"] / 1000, 1),
                "statuses": read_load["statuses"],
            },
        }


def fanout_benchmark(args: argparse.Namespace, database_url: str, tokens_path: Path) -> None:
    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    run_dir = WORK_DIR / f"fanout-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(redis_server(run_dir / "redis.log", args.port))
        env = base_env(
            database_url,
            [
                f"REDIS_URL={redis.url}",
                # Above any account's audience: the celebrity's post IS fanned out.
                f"FEED_FANOUT_MAX_FOLLOWERS={args.max_followers}",
                *args.env,
            ],
        )
        worker = stack.enter_context(
            celery_worker(env, run_dir / "celery.log", redis, args.worker_pool, 1)
        )
        port = free_port(args.port)
        layout = layouts([args.server], args.workers, port)[0]
        stack.enter_context(server(layout, env, port, run_dir / f"{args.server}.log"))
        spec_path = run_dir / "fanout.json"
        spec_path.write_text(
            json.dumps(
                {
                    "tokens_file": str(tokens_path),
                    "port": port,
                    "worker_pid": worker.process.pid,
                    "celebrity_posts": args.celebrity_posts,
                    "celebrity": args.celebrity,
                    "authors": args.authors,
                    "rate": args.rate,
                    "duration": args.post_duration,
                    "read_connections": args.read_connections,
                }
            )
        )
        measured = run_child(
            [
                str(VENV_BIN / "python"),
                str(RUN_PY),
                "fanout-probe",
                str(spec_path),
            ],
            env,
            FANOUT_MARKER,
        )
        measured["worker_errors_logged"] = worker.errors()
        measured["redis_used_memory_mb_end"] = round(redis.used_memory_mb(), 1)
        description = f"{layout.description}; {worker.description}"
    command = (
        f"make bench-fanout SIZE={args.size} DB={args.db} BENCH_WORKERS={args.workers}"
        + (f" WORKER_POOL={args.worker_pool}" if args.worker_pool != "solo" else "")
        + (f" FANOUT_READ_LOAD={args.read_connections}" if args.read_connections else "")
    )
    report = {
        "meta": {
            "size": args.size,
            "db": args.db,
            **run_meta(started_at, command, ["django", "celery"]),
            "redis": redis_version(),
            "layout": description,
            "extra_env": args.env,
            "load_average_before": round(load_before, 2),
            "rate_per_s": args.rate,
            "post_duration_s": args.post_duration,
        },
        **measured,
    }
    save_results(f"{stamp}-{args.size}-{args.db}-fanout", report, fanout_markdown(report))
