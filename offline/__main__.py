"""`python -m offline run|reset`: the whole platform on this machine (see README, "Run it offline")."""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from offline.gateway import ListenError
from offline.runtime import OfflineRuntime, RuntimeConfig


def _parameters(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--parameter wants Name=Value, got {item!r}")
        out[key] = value
    return out


_EXTRACT_ACCESS = "'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"


def _banner(runtime: OfflineRuntime, started: float) -> str:
    assert runtime.api_server
    url = runtime.api_server.url
    lines = [
        "",
        f"GenAI platform (offline) is up in {time.monotonic() - started:.1f}s",
        f"  API             {url}/v1   (OpenAI base_url)",
        f"  Token endpoint  {url}/oauth2/token",
        f"  Local models    {url}/local-models/v1   (offline-echo, minilm; any API key)",
        f"  Admin portal    {runtime.portal_url}   (sign in as the admin user below)",
        f"  Model aliases   {', '.join(runtime.model_aliases) or '(none)'}   (GET /v1/models)",
        f"  AWS (moto)      {runtime.moto_url}",
        f"  State           {runtime.config.state_dir}  (logs in {runtime.config.state_dir / 'logs'})",
    ]
    creds = runtime.credentials
    if creds:
        lines += [
            "",
            "Demo app (client credentials, every scope):",
            f"  client_id       {creds.client_id}",
            f"  client_secret   {creds.client_secret}",
        ]
        if creds.admin_username:
            lines += [
                "Admin user (group admins):",
                f"  username        {creds.admin_username}",
                f"  password        {creds.admin_password}",
            ]
        lines += [
            f"Saved in {runtime.config.state_dir / 'credentials.json'}",
            "",
            "Try it:",
            f"  TOKEN=$(curl -s -u {creds.client_id}:{creds.client_secret} -d grant_type=client_credentials \\",
            f"          {url}/oauth2/token | python3 -c {_EXTRACT_ACCESS})",
            f'  curl -s {url}/v1/whoami -H "Authorization: Bearer $TOKEN"',
            f'  curl -s {url}/v1/chat/completions -H "Authorization: Bearer $TOKEN" \\',
            """          -H 'Content-Type: application/json' \\""",
            """          -d '{"model": "offline-echo", "messages": [{"role": "user", "content": "Hello"}]}'""",
        ]
    lines += ["", "Ctrl-C stops everything."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the platform")
    run.add_argument("--template", type=Path, default=Path("template.yaml"))
    run.add_argument("--state-dir", type=Path, default=Path(".local"))
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=3000)
    run.add_argument("--moto-port", type=int, default=0, help="port of the moto server (default: a free one)")
    run.add_argument("--parameter", action="append", default=[], help="template parameter override Name=Value")
    run.add_argument("--verbose", action="store_true")
    reset = sub.add_parser("reset", help="delete the state folder (tables, files, credentials, logs)")
    reset.add_argument("--state-dir", type=Path, default=Path(".local"))
    args = parser.parse_args(argv)

    if args.command == "reset":
        shutil.rmtree(args.state_dir, ignore_errors=True)
        print(f"removed {args.state_dir}")
        return 0

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("werkzeug", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # moto logs every failed Step Functions task with a dump of the whole state; the execution history has it.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    started = time.monotonic()
    config = RuntimeConfig(
        template=args.template.resolve(),
        state_dir=args.state_dir.resolve(),
        host=args.host,
        port=args.port,
        moto_port=args.moto_port,
        parameters=_parameters(args.parameter),
    )
    runtime = OfflineRuntime(config)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runtime.start()
    except ListenError as exc:
        # One line, no traceback: this is the user's to fix, and nothing else has started yet.
        hint = f"; pick another port: make run PORT={exc.port + 1} (or --port {exc.port + 1})" if exc.in_use else ""
        print(f"cannot start: {exc}{hint}", file=sys.stderr)
        runtime.stop()
        return 1
    except Exception as exc:
        logging.getLogger("offline").exception("cannot start the offline runtime")
        print(f"cannot start: {exc}", file=sys.stderr)
        runtime.stop()
        return 1
    for warning in runtime.stack.warnings if runtime.stack else []:
        logging.getLogger("offline").warning(warning)
    print(_banner(runtime, started), flush=True)
    stop.wait()
    print("\nstopping...", flush=True)
    runtime.stop()
    print("stopped; state kept in", config.state_dir, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
