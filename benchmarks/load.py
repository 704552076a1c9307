"""The app under load, driven the way a browser drives it: each visitor is a session (a page left open) with one
kept-alive HTTP connection, joins Gradio's queue with a request of the Digits tab, reads its session's event stream
to the result, then fetches every file the result names (a file per digit for the gallery, and the grid to
download).

    python -m benchmarks.load                                  # starts the app, 500 requests from 32 visitors
    python -m benchmarks.load --url http://127.0.0.1:7860/     # an app already running
    python -m benchmarks.load --requests 50 --concurrency 8    # a quick look

Reports failures, p50 / p95 latency (submit to the last image fetched) and requests per second, with the machine.
Writes load-ENDPOINT.json and load-ENDPOINT.md to --out. The driver shares the machine with the server, so it is
kept cheap: aiohttp (its HTTP parsing in C) rather than httpx, which spent more CPU per request than the server did,
and not gradio_client, whose own per-client overhead would be measured.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import aiohttp

from benchmarks.common import machine_line, write_results

ROOT = Path(__file__).resolve().parent.parent


def file_urls(value):
    """The URLs of every file in a result, each once, as a browser fetches them."""
    if isinstance(value, dict):
        found = [value["url"]] if value.get("meta", {}).get("_type") == "gradio.FileData" else []
        return list(dict.fromkeys(found + [url for item in value.values() for url in file_urls(item)]))
    if isinstance(value, list):
        return list(dict.fromkeys(url for item in value for url in file_urls(item)))
    return []


async def endpoint_index(url, endpoint):
    """The index of the event with api_name `endpoint` in the app's config, as the page knows it."""
    async with aiohttp.ClientSession() as client, client.get(f"{url}config") as response:
        config = await response.json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == endpoint)


async def one_request(client, url, session, fn_index, digit, n, seed):
    """(seconds, None) for a request answered in full, or (seconds, what went wrong)."""
    start = time.perf_counter()
    try:
        async with client.post(f"{url}gradio_api/queue/join", json={
                "data": [digit, n, seed, None], "fn_index": fn_index, "session_hash": session, "event_data": None,
                "trigger_id": None}) as joined:
            joined.raise_for_status()
        message = None
        # Read to the stream's end (Gradio closes it after the result, with a close_stream message), as the page does:
        # a stream left half-read could not give its connection back for the next request.
        async with client.get(f"{url}gradio_api/queue/data", params={"session_hash": session}) as stream:
            async for line in stream.content:
                if line.startswith(b"data:") and (sent := json.loads(line[5:])).get("msg") == "process_completed":
                    message = sent
        if not (message and message.get("success")):
            return time.perf_counter() - start, f"no result: {message}"
        for file in file_urls(message["output"]["data"]):
            async with client.get(file) as fetched:
                fetched.raise_for_status()
                await fetched.read()
        return time.perf_counter() - start, None
    except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError) as error:
        return time.perf_counter() - start, f"{type(error).__name__}: {error}"


async def drive(url, requests, concurrency, n, endpoint):
    """Send `requests` requests from `concurrency` visitors at once, each visitor one request after another over its
    own kept-alive connection."""
    queue = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    results = []
    fn_index = await endpoint_index(url, endpoint)

    async def visitor():
        session = uuid.uuid4().hex[:11]  # one page, one session, as a browser tab has
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1),  # one kept-alive connection
                                         timeout=aiohttp.ClientTimeout(total=60),
                                         read_bufsize=2**20) as client:  # a result line of 64 files fits
            while not queue.empty():
                i = queue.get_nowait()
                results.append(await one_request(client, url, session, fn_index, i % 10, n, i))

    start = time.perf_counter()
    await asyncio.gather(*(visitor() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    latencies = sorted(t for t, _ in results)
    failures = [error for _, error in results if error]
    return {"endpoint": endpoint, "requests": requests, "concurrency": concurrency, "n": n, "failures": len(failures),
            "failure_examples": failures[:3], "p50_s": statistics.median(latencies),
            "p95_s": latencies[int(0.95 * (len(latencies) - 1))], "requests_per_s": requests / seconds,
            "seconds": seconds}


def run(url, requests=500, concurrency=32, n=16, endpoint="generate"):
    """`endpoint`: "generate", the Digits tab's (a file per digit, and the grid); or "digits", the API's one
    picture."""
    return asyncio.run(drive(url, requests, concurrency, n, endpoint))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app():
    """`python app.py` on a free port; returns (process, url) once it answers."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    sys.exit("the app did not start")


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running app (default: start one)")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--n", type=int, default=16, help="digits per request")
    parser.add_argument("--repeats", type=int, default=3, help="runs; the table gives each and the median")
    parser.add_argument("--endpoint", choices=["generate", "digits"], default="generate",
                        help="generate: what the page's Digits tab asks for (default), a file per digit and the grid; "
                             "digits: the API's one picture")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    process, url = (None, args.url) if args.url else start_app()
    try:
        run(url, 2 * args.concurrency, args.concurrency, args.n, args.endpoint)  # warm-up
        runs = [run(url, args.requests, args.concurrency, args.n, args.endpoint) for _ in range(args.repeats)]
    finally:
        if process:
            process.terminate()
    result = {"machine": machine_line(), "runs": runs,
              "median": {key: statistics.median(r[key] for r in runs)
                         for key in ("failures", "p50_s", "p95_s", "requests_per_s")}}
    lines = [f"`python -m benchmarks.load --endpoint {args.endpoint}` ({args.requests} requests from "
             f"{args.concurrency} visitors at once, {args.n} digits each, every file fetched; the driver on the same "
             f"machine). {result['machine']}", "", "| run | failures | p50 | p95 | requests/s |",
             "|---|---|---|---|---|"]
    for i, r in enumerate(runs, 1):
        lines.append(f"| {i} | {r['failures']} | {r['p50_s']:.2f} s | {r['p95_s']:.2f} s | {r['requests_per_s']:.1f} |")
    m = result["median"]
    lines.append(f"| median | {m['failures']:g} | {m['p50_s']:.2f} s | {m['p95_s']:.2f} s | {m['requests_per_s']:.1f} |")
    write_results(args.out, f"load-{args.endpoint}", result, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
