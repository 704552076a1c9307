"""The app under load, driven the way a browser drives it: submit a request through Gradio's HTTP API, read the
result stream, then fetch every image of the gallery and the grid.

    python benchmarks/load.py                                  # starts the app, 500 requests from 32 visitors
    python benchmarks/load.py --url http://127.0.0.1:7860/     # an app already running
    python benchmarks/load.py --requests 50 --concurrency 8    # a quick look

Reports failures, p50 / p95 latency (submit to the last image fetched) and requests per second, with the machine.
Writes load.json and load.md to --out. gradio_client is not used: its own per-client overhead, not the server, would
be measured.
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
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402


def image_urls(result):
    """The URLs of every file in a /generate result: the gallery's images, then the grid."""
    gallery, _seed, grid = result
    return [item["image"]["url"] for item in gallery] + [grid["url"]]


async def one_request(client, url, digit, n, seed):
    """(seconds, None) for a request answered in full, or (seconds, what went wrong)."""
    start = time.perf_counter()
    try:
        submitted = await client.post(f"{url}gradio_api/call/generate", json={"data": [digit, n, seed, None]})
        submitted.raise_for_status()
        event_id = submitted.json()["event_id"]
        event, data = None, None
        async with client.stream("GET", f"{url}gradio_api/call/generate/{event_id}") as stream:
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = json.loads(line.split(":", 1)[1])
                    break
        if event != "complete":
            return time.perf_counter() - start, f"{event}: {data}"
        for image in image_urls(data):
            fetched = await client.get(image)
            fetched.raise_for_status()
        return time.perf_counter() - start, None
    except (httpx.HTTPError, KeyError, ValueError) as error:
        return time.perf_counter() - start, f"{type(error).__name__}: {error}"


async def drive(url, requests, concurrency, n):
    """Send `requests` requests from `concurrency` visitors at once, each visitor one request after another."""
    queue = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    results = []
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        async def visitor():
            while not queue.empty():
                i = queue.get_nowait()
                results.append(await one_request(client, url, i % 10, n, i))

        start = time.perf_counter()
        await asyncio.gather(*(visitor() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    latencies = sorted(t for t, _ in results)
    failures = [error for _, error in results if error]
    return {"requests": requests, "concurrency": concurrency, "n": n, "failures": len(failures),
            "failure_examples": failures[:3], "p50_s": statistics.median(latencies),
            "p95_s": latencies[int(0.95 * (len(latencies) - 1))], "requests_per_s": requests / seconds,
            "seconds": seconds}


def run(url, requests=500, concurrency=32, n=16):
    return asyncio.run(drive(url, requests, concurrency, n))


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
            httpx.get(url, timeout=2)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    sys.exit("the app did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running app (default: start one)")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--n", type=int, default=16, help="digits per request")
    parser.add_argument("--repeats", type=int, default=3, help="runs; the table gives each and the median")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    process, url = (None, args.url) if args.url else start_app()
    try:
        run(url, 2 * args.concurrency, args.concurrency, args.n)  # warm-up
        runs = [run(url, args.requests, args.concurrency, args.n) for _ in range(args.repeats)]
    finally:
        if process:
            process.terminate()
    result = {"machine": describe(), "runs": runs,
              "median": {key: statistics.median(r[key] for r in runs)
                         for key in ("failures", "p50_s", "p95_s", "requests_per_s")}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(result, indent=2))
    lines = [f"`python benchmarks/load.py` ({args.requests} requests from {args.concurrency} visitors at once, "
             f"{args.n} digits each, every image fetched; the driver on the same machine). Machine: "
             f"{result['machine']}.", "", "| run | failures | p50 | p95 | requests/s |", "|---|---|---|---|---|"]
    for i, r in enumerate(runs, 1):
        lines.append(f"| {i} | {r['failures']} | {r['p50_s']:.2f} s | {r['p95_s']:.2f} s | {r['requests_per_s']:.1f} |")
    m = result["median"]
    lines.append(f"| median | {m['failures']:g} | {m['p50_s']:.2f} s | {m['p95_s']:.2f} s | {m['requests_per_s']:.1f} |")
    (out / "load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
