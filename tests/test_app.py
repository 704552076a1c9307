"""The app as users meet it: served by `python app.py` on a free port, called through gradio_client and driven in
headless Chromium."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("CGAN_TEST_ARTIFACTS", ROOT / "artifacts" / "tests"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    env.pop("CGAN_MODEL", None)
    log = open(tmp_path_factory.mktemp("app") / "app.log", "w+")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                log.seek(0)
                process.kill()
                pytest.fail(f"the app did not start:\n{log.read()}")
            time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client
    return Client(app_url, verbose=False)


def pixels(gallery):
    return [np.asarray(Image.open(item["image"])) for item in gallery]


def test_generate_endpoint_returns_the_digits_the_seed_and_the_grid(client):
    gallery, seed, grid = client.predict(7, 5, 42, api_name="/generate")
    assert seed == 42 and len(gallery) == 5
    images = pixels(gallery)
    assert all(img.shape == (112, 112) for img in images)
    assert all(Path(item["image"]).suffix == ".png" for item in gallery)
    assert Path(grid).suffix == ".png" and "digit-7_n-5_seed-42" in Path(grid).name
    from cgan import load_generator
    expected = load_generator().generate(7, 5, seed=42)
    assert all(np.array_equal(img[::4, ::4], want) for img, want in zip(images, expected, strict=True))


def test_empty_seed_is_drawn_and_returned(client):
    gallery, seed, _ = client.predict("3", 2, "", api_name="/generate")
    assert isinstance(seed, int) and 0 <= seed < 2**32 and len(gallery) == 2
    again, _, _ = client.predict(3, 2, seed, api_name="/generate")
    assert all(np.array_equal(a, b) for a, b in zip(pixels(gallery), pixels(again), strict=True))


@pytest.mark.parametrize("digit, n, seed, message", [
    (12, 4, 1, "digit must be an integer 0-9"),
    ("seven", 4, 1, "digit must be an integer 0-9"),
    (3, 65, 1, "n must be an integer 1-64"),
    (3, 0, 1, "n must be an integer 1-64"),
    (3, 4, "abc", "seed must be an integer 0-4294967295"),
    (3, 4, -5, "seed must be an integer 0-4294967295"),
])
def test_bad_inputs_get_a_clear_error_and_the_app_keeps_serving(client, digit, n, seed, message):
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError, match=message):
        client.predict(digit, n, seed, api_name="/generate")
    assert len(client.predict(1, 1, 1, api_name="/generate")[0]) == 1


def test_concurrent_calls_each_get_exactly_their_own_images(client, app_url):
    from gradio_client import Client

    def as_another_user(seed):
        # A client of its own per caller, as 64 browsers would be. One gradio_client Client shared by many threads
        # reads all their results from one event stream, and cancels the jobs waiting on it when the server closes
        # that stream between two submissions: a CancelledError in the test, seen once, not an app failure.
        return Client(app_url, verbose=False).predict(seed % 10, 3, seed, api_name="/generate")

    seeds = list(range(100, 164))
    alone = {seed: pixels(client.predict(seed % 10, 3, seed, api_name="/generate")[0]) for seed in seeds}
    with ThreadPoolExecutor(max_workers=64) as pool:
        jobs = {seed: pool.submit(as_another_user, seed) for seed in seeds}
        together = {seed: pixels(job.result(timeout=120)[0]) for seed, job in jobs.items()}
    for seed in seeds:
        assert all(np.array_equal(a, b) for a, b in zip(alone[seed], together[seed], strict=True)), seed


def test_browser_user_picks_a_digit_count_and_seed_and_sees_that_many(app_url):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("the browser test needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1100})
            page.goto(app_url)
            gallery = page.locator("#digits .thumbnail-item img, #digits button img")
            # The first visit already shows the default 16 digits.
            page.wait_for_function("document.querySelectorAll('#digits img').length === 16", timeout=60000)

            page.get_by_label("Digit").click()
            page.get_by_role("option", name="3", exact=True).click()
            count = page.get_by_label("number input for Number of samples")
            count.fill("5")
            count.press("Enter")
            page.get_by_label("Seed", exact=True).fill("1234")
            page.get_by_role("button", name="Generate").click()

            page.wait_for_function("document.querySelectorAll('#digits img').length === 5", timeout=60000)
            page.wait_for_function(
                "document.querySelector('input[aria-label=\"Seed used\"]').value === '1234'", timeout=60000)
            assert page.locator("#digits img").count() == 5
            assert gallery.count() >= 1
            page.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)

            # Changing an input regenerates without a click.
            count.fill("3")
            count.press("Enter")
            page.wait_for_function("document.querySelectorAll('#digits img').length === 3", timeout=60000)
        finally:
            browser.close()
    assert (ARTIFACTS / "app.png").stat().st_size > 0
