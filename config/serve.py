"""Serve Plaza (REST, admin, API docs and /ws/) with uvicorn: `python -m config.serve`.

`make run`, `make run-distributed` and the end-to-end tests start Plaza this way, so that the
server's own defaults never decide what Plaza relies on:

- **Client addresses come from Plaza alone.** uvicorn rewrites a request's client address
  from `X-Forwarded-For` when the connection comes from 127.0.0.1 (its `--proxy-headers`
  default), so anyone on the machine, or a proxy passing the header through, could pick the
  address Plaza's per-address rate limits count. Plaza reads that header itself, trusting
  exactly NUM_PROXIES hops (plaza.core.throttling.client_address), so the server's rewriting
  is off.
- **No lifespan protocol** (Django has no use for it) and **no permessage-deflate** on
  WebSockets (39 KB of memory per connection for events of a few hundred bytes: bench/).
- **PUBLIC_URL follows the address served**, when it is not set: links in emails and live
  events point at this server (PLAZA_SERVED_AT, read by config/settings.py).
- **One process on the embedded default.** Several worker processes need what they share to
  live outside them (rate-limit counters, the channel layer, SQLite's one writer): with
  --workers above 1 and no REDIS_URL this refuses to start and says what to set.
"""

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import environ
import uvicorn

# Not imported from config.settings: the settings must first be loaded by the server, after
# PLAZA_SERVED_AT is set.
BASE_DIR = Path(__file__).resolve().parent.parent


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m config.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--log-level", default="info", help="uvicorn's log level")
    return parser.parse_args(argv)


def served_at(host: str, port: int) -> str:
    """The URL a person on this machine opens to reach a server listening on host:port."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def refusal(workers: int, environment: Mapping[str, str]) -> str | None:
    """Why this configuration cannot work, or None."""
    if workers < 1:
        return "--workers must be 1 or more."
    if workers > 1 and not environment.get("REDIS_URL"):
        return (
            f"--workers {workers} needs REDIS_URL: without Redis each process keeps its own "
            "rate-limit counters and delivers live events only to its own WebSockets. Set "
            "REDIS_URL (and DATABASE_URL to PostgreSQL: SQLite takes one writer at a time), "
            "or serve with one worker. See docs/deployment.md."
        )
    return None


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    # What the settings will see: the environment, and .env for what it leaves unset (as
    # config/settings.py reads it).
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
    problem = refusal(arguments.workers, os.environ)
    if problem:
        sys.exit(f"Plaza cannot start: {problem}")
    os.environ["PLAZA_SERVED_AT"] = served_at(arguments.host, arguments.port)
    uvicorn.run(
        "config.asgi:application",
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        log_level=arguments.log_level,
        lifespan="off",
        proxy_headers=False,
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    main()
