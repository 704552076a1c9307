"""The app as users meet it: served by `python app.py` on a free port, called through gradio_client and driven in
headless Chromium."""

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow  # every test here serves the app (and some drive a browser): minutes in all

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("CGAN_TEST_ARTIFACTS", ROOT / "artifacts" / "tests"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_app(tmp_path_factory, **settings):
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **settings}
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
    return process, url, log


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    process, url, log = serve_app(tmp_path_factory)
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.seek(0)
    served = log.read()
    log.close()
    # No request, good or bad, made the server fail; if one did, its traceback is the message.
    assert "Traceback" not in served, served[served.index("Traceback") - 1500:]


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
    assert all(Path(item["image"]).suffix == ".png" for item in gallery)
    assert Path(grid).suffix == ".png" and "digit-7_n-5_seed-42" in Path(grid).name
    from cgan import load_generator
    expected = load_generator().generate(7, 5, seed=42)  # the digits themselves, 28x28, pixel for pixel
    assert all(np.array_equal(img, want) for img, want in zip(images, expected, strict=True))


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


def test_my_hand_writes_a_number_in_the_hand_of_a_drawn_digit(client, test_set, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    from cgan import load_generator
    from cgan.plots import grid_image
    images, labels = test_set
    drawing = tmp_path / "seven.png"
    canvas = 255 - np.asarray(Image.fromarray(images[0].numpy()).resize((280, 280), Image.Resampling.NEAREST))
    Image.fromarray(canvas).save(drawing)  # black on white, 10x, as a canvas gives it
    picture, understood, digit, download = client.predict(handle_file(str(drawing)), "2026", None,
                                                          api_name="/my_hand")
    assert digit == labels[0] and Path(download).name == Path(picture).name
    generator = load_generator()
    hand = generator.find_hand(canvas)
    assert np.array_equal(np.asarray(Image.open(picture))[::4, ::4],
                          grid_image(generator.write_number("2026", hand=hand), nrow=1))
    assert np.asarray(Image.open(understood)).shape == (4 * 32, 4 * 62)  # the drawing and its digit in the hand, padded
    blank = tmp_path / "blank.png"
    Image.new("L", (280, 280), 255).save(blank)
    with pytest.raises(AppError, match="the drawing is empty: draw a digit"):
        client.predict(handle_file(str(blank)), "2026", None, api_name="/my_hand")
    with pytest.raises(AppError, match="text must be 1-12 digits"):
        client.predict(handle_file(str(drawing)), "20x6", None, api_name="/my_hand")


def test_a_drawing_caught_mid_stroke_is_named_under_the_canvas_and_only_the_button_shows_an_error():
    # The sketchpad sends a copy of the canvas taken a moment after a change, which can fall in the next stroke: a
    # stroke just begun (a dab of the pen, as wide as long) is refused, and while drawing that is a line under the
    # canvas, the hand shown staying; the button answers it with an error. A drawing read clears the line.
    checked = subprocess.run([sys.executable, "-c", """
import gradio as gr, numpy as np, app
from PIL import Image, ImageDraw
from cgan.serving import EXAMPLE_DRAWING
canvas = Image.new("L", (280, 280), 255)
ImageDraw.Draw(canvas).line([(132, 84), (148, 84)], fill=0, width=16)
*kept, status = app.my_hand_while_drawing(np.asarray(canvas), "2026")
assert all(value == {"__type__": "update"} for value in kept) and len(kept) == 4, kept
try:
    app.my_hand_sketch(np.asarray(canvas), "2026")
    raise AssertionError("the button wrote a number in the hand of a dash")
except app.RefusedDrawing as error:
    assert status == f"Not read as a digit yet: {error.message}", status
    assert "draw larger" in error.message
*shown, status = app.my_hand_while_drawing(EXAMPLE_DRAWING, "2026")
assert shown[2] == 7 and "my-hand-7_number-2026" in shown[0] and status == "", (shown, status)
try:
    app.my_hand_while_drawing(EXAMPLE_DRAWING, "20x6")  # not the drawing's fault: an error as ever
    raise AssertionError("a bad number was not refused")
except gr.Error as error:
    assert not isinstance(error, app.RefusedDrawing) and "text must be 1-12 digits" in error.message
"""], cwd=ROOT, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert checked.returncode == 0, checked.stderr


def test_a_raw_api_call_without_the_noise_scale_gets_the_models_own(app_url):
    event, data = submit(app_url, "generate", [7, 3, 5])  # three values of four, as curl would send them
    assert event == "complete", data
    from cgan import load_generator
    for item, want in zip(data[0], load_generator().generate(7, 3, 5), strict=True):
        with urllib.request.urlopen(item["image"]["url"]) as response:  # a gallery item: its image and caption
            assert np.array_equal(np.asarray(Image.open(io.BytesIO(response.read()))), want)
    event, data = submit(app_url, "generate", [7])
    assert event == "error" and "n must be an integer 1-64, got None" in data["error"]


def test_result_files_are_served_ahead_of_gradio_and_other_files_stay_guarded(app_url):
    event, data = submit(app_url, "generate", [3, 4, 5, None])
    assert event == "complete", data
    for url in [item["image"]["url"] for item in data[0]] + [data[2]["url"]]:
        with urllib.request.urlopen(url) as response:
            assert response.headers["Cache-Control"] == "private, max-age=3600"  # ResultFileServer's answer
            assert response.headers["Content-Type"] == "image/png" and Image.open(io.BytesIO(response.read()))
    with pytest.raises(urllib.error.HTTPError) as refused:  # Gradio's file route, with its checks, for the rest
        urllib.request.urlopen(f"{app_url}gradio_api/file=/etc/passwd")
    assert refused.value.code == 403
    checked = subprocess.run([sys.executable, "-c", """
import gradio as gr, app
from gradio.data_classes import _StaticFiles
assert _StaticFiles.all_paths[0] == app.result_files.root  # asked first
paths = [str(path) for path in sorted(app.result_files.root.glob("*.png"))[:3]]
assert paths
for value in (paths, None, []):  # the gallery's own postprocess gives what Gradio's would
    assert app.gallery_of_files(gr.Gallery()).postprocess(value) == gr.Gallery().postprocess(value), value
"""], cwd=ROOT, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert checked.returncode == 0, checked.stderr


def test_the_other_tabs_endpoints_answer_with_their_picture_and_seeds(client):
    from cgan import load_generator
    from cgan.plots import grid_image
    generator = load_generator()
    picture, seed, download = client.predict("0151 234", 2, 9, 0.8, api_name="/write_number")
    assert seed == 9 and Path(picture).suffix == ".png" and Path(download).name == Path(picture).name
    expected = grid_image(generator.write_number("0151 234", 2, 9, 0.8), nrow=1)
    assert np.array_equal(np.asarray(Image.open(picture))[::4, ::4], expected)
    picture, seed, _ = client.predict(3, "", None, api_name="/style_rows")
    assert np.asarray(Image.open(picture)).shape == (4 * (3 * 30 + 2), 4 * (10 * 30 + 2))
    animation, seed, to_seed, download = client.predict(3, 8, 5, "6", 16, 1.0, api_name="/morph")
    assert (seed, to_seed) == (5, 6) and Path(download).suffix == ".gif"
    with Image.open(animation) as gif:
        assert gif.n_frames == 16


def test_every_endpoint_takes_a_slant_and_weight_after_its_inputs_and_draws_the_hands_so(client, tmp_path):
    from gradio_client import handle_file
    from cgan import load_generator
    from cgan.plots import grid_image
    from cgan.serving import EXAMPLE_DRAWING
    generator = load_generator()
    style = {"slant": 1.5, "weight": -1}
    picture, seed, _ = client.predict(2, 7, None, 1.5, -1, api_name="/style_rows")
    assert seed == 7 and "_slant-1.5_weight--1" in Path(picture).name
    expected = grid_image(generator.style_rows(2, 7, **style).reshape(-1, 28, 28), nrow=10)
    assert np.array_equal(np.asarray(Image.open(picture))[::4, ::4], expected)
    gallery, _, _ = client.predict(5, 3, 7, None, "1.5", "-1", api_name="/generate")
    assert all(np.array_equal(a, b) for a, b in zip(pixels(gallery), generator.generate(5, 3, 7, **style), strict=True))
    picture, _, _ = client.predict(5, 3, 7, None, 0, 2, api_name="/digits")
    assert "_slant-0_weight-2" in Path(picture).name
    picture, _, _ = client.predict("42", 1, 7, None, -2, 2, api_name="/write_number")
    assert np.array_equal(np.asarray(Image.open(picture))[::4, ::4],
                          grid_image(generator.write_number("42", 1, 7, slant=-2, weight=2), nrow=1))
    animation, *_ = client.predict(3, 8, 5, "", 8, None, 2, 0, api_name="/morph")
    assert "_slant-2_weight-0" in Path(animation).name
    Image.fromarray(EXAMPLE_DRAWING).save(tmp_path / "seven.png")
    picture, *_ = client.predict(handle_file(str(tmp_path / "seven.png")), "12", None, 0, 2, api_name="/my_hand")
    assert "_slant-0_weight-2" in Path(picture).name
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError, match=r"weight must be a number -2 to 2 \(0: unchanged\), got 3"):
        client.predict(2, 7, None, 0, 3, api_name="/style_rows")


@pytest.mark.parametrize("args, api_name, message", [
    (("12a", 1, 1, 1.0), "/write_number", "text must be 1-12 digits"),
    (("1234567890123", 1, 1, 1.0), "/write_number", "text must be 1-12 digits"),
    (("2026", 9, 1, 1.0), "/write_number", "n must be an integer 1-8"),
    (("2026", 1, 1, 2.0), "/write_number", "noise_scale must be a number 0.3-1.5"),
    ((0, "", 1.0), "/style_rows", "n must be an integer 1-16"),
    ((3, 3, 5, "", 12, 1.0), "/morph", "a morph needs two different digits or two different seeds"),
    ((3, 8, 5, "", 100, 1.0), "/morph", "frames must be an integer 8-48"),
    ((7, 4, 1, "lots"), "/generate", "noise_scale must be a number 0.3-1.5"),
])
def test_bad_inputs_on_every_endpoint_get_a_clear_error_and_the_app_keeps_serving(client, args, api_name, message):
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name=api_name)
    assert client.predict("42", 1, 1, 1.0, api_name="/write_number")[1] == 1


def test_concurrent_calls_each_get_exactly_their_own_images(app_url):
    from gradio_client import Client

    def as_another_user(seed):
        # A client of its own per caller, as 64 browsers would be. One gradio_client Client shared by many threads
        # reads all their results from one event stream, and cancels the jobs waiting on it when the server closes
        # that stream between two submissions: a CancelledError in the test, seen once, not an app failure.
        return Client(app_url, verbose=False).predict(seed % 10, 3, seed, api_name="/generate")

    from cgan import load_generator
    seeds = list(range(100, 164))
    generator = load_generator()  # what each caller's request draws, alone (the app draws as the library does)
    alone = {seed: generator.generate(seed % 10, 3, seed) for seed in seeds}
    with ThreadPoolExecutor(max_workers=64) as pool:
        jobs = {seed: pool.submit(as_another_user, seed) for seed in seeds}
        together = {seed: pixels(job.result(timeout=120)[0]) for seed, job in jobs.items()}
    for seed in seeds:
        assert all(np.array_equal(a, b) for a, b in zip(alone[seed], together[seed], strict=True)), seed


def shown_picture(page, app_url, selector):
    """The pixels of the picture a page shows in `selector`, fetched as the browser fetched them."""
    source = page.locator(f"{selector} img").first.get_attribute("src")
    with urllib.request.urlopen(source if source.startswith("http") else app_url + source.lstrip("/")) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())))


def wait_for_picture(page, selector, name):
    """Wait until the picture in `selector` is a file whose name holds `name`, whole: "seed-9" is not "seed-93", as
    the picture of the request before, made with the page's random seed, may be."""
    page.wait_for_function(f"""(() => {{
        const src = (document.querySelector('{selector} img') || {{}}).src || '';
        const at = src.indexOf('{name}');
        return at >= 0 && !({str(name[-1:].isdigit()).lower()} && /[0-9]/.test(src.charAt(at + {len(name)})));
    }})()""", timeout=60000)


def tiles(page):
    return page.locator("#digits .grid-container img")


def wait_for_tiles(page, name, count):
    """Wait until the gallery shows `count` tiles of the request `name` (its files' names)."""
    page.wait_for_function(
        f"[...document.querySelectorAll('#digits .grid-container img')].filter(i => i.src.includes('{name}')).length"
        f" === {count}", timeout=60000)


def open_tab(page, name):
    """Click a tab: in the tab bar, or on a narrow screen in the "..." menu the bar keeps the tabs it has no room for."""
    tab = page.get_by_role("tab", name=name)
    if not (tab.count() and tab.first.is_visible()):
        page.locator(".overflow-menu button").first.click()
        tab = page.locator(".overflow-dropdown button", has_text=name)
    tab.first.click()


def visible(locator):
    """The first of the elements `locator` finds that is on screen: each tab has its own of the same inputs."""
    return next(element for element in locator.all() if element.is_visible())


def seeds_shown(page):
    return [box.input_value() for box in page.locator("input[aria-label='Seed used']").all()]


def launch(playwright):
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("the browser test needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"])


def test_browser_user_picks_a_digit_count_and_seed_and_sees_those_digits(app_url):
    playwright = pytest.importorskip("playwright.sync_api")
    from cgan import load_generator
    generator = load_generator()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page.goto(app_url)
            # The first visit already shows the default 16 sevens, each a tile, all on the screen without scrolling.
            wait_for_tiles(page, "_digit-7_n-16_seed-", 16)
            assert all(tile.bounding_box()["y"] + tile.bounding_box()["height"] <= 900 for tile in tiles(page).all())
            assert min(tile.bounding_box()["width"] for tile in tiles(page).all()) >= 100  # readable at a glance
            page.get_by_label("Digit", exact=True).click()
            page.get_by_role("option", name="3", exact=True).click()
            count = page.get_by_label("number input for Number of samples")
            count.fill("5")
            count.press("Enter")
            page.locator("#seed").get_by_label("Seed", exact=True).fill("1234")
            page.get_by_role("button", name="Generate").click()
            wait_for_tiles(page, "_digit-3_n-5_seed-1234", 5)
            page.wait_for_function(
                "document.querySelector('input[aria-label=\"Seed used\"]').value === '1234'", timeout=60000)
            # The digits asked for, pixel for pixel, in order.
            shown = [tile.get_attribute("src") for tile in tiles(page).all()]
            for source, want in zip(shown, generator.generate(3, 5, 1234), strict=True):
                with urllib.request.urlopen(source if source.startswith("http") else app_url + source) as response:
                    assert np.array_equal(np.asarray(Image.open(io.BytesIO(response.read()))), want)
            page.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)

            # A click opens a digit large, and that digit downloads on its own; the grid downloads whole.
            tile_height = tiles(page).first.bounding_box()["height"]
            tiles(page).nth(2).click()
            large = page.locator("#digits [data-testid='detailed-image']")
            large.wait_for(timeout=30000)
            assert large.bounding_box()["height"] >= 1.5 * tile_height
            assert "_digit-3_n-5_seed-1234_03.png" in large.get_attribute("src")
            with page.expect_download() as one:
                page.locator("#digits").get_by_label("Download").first.click()
            assert one.value.suggested_filename.endswith("_digit-3_n-5_seed-1234_03.png")
            page.screenshot(path=str(ARTIFACTS / "app-digit-opened.png"), full_page=True)
            page.keyboard.press("Escape")
            with page.expect_download() as whole:
                page.get_by_role("button", name="Download all (PNG)").click()
            grid = np.asarray(Image.open(whole.value.path()))
            assert whole.value.suggested_filename.endswith("digit-3_n-5_seed-1234.png") and grid.shape[1] > 5 * 28

            # Changing an input regenerates without a click.
            count.fill("3")
            count.press("Enter")
            wait_for_tiles(page, "_digit-3_n-3_seed-1234", 3)
            shown = [tile.get_attribute("src") for tile in tiles(page).all()]

            # A bad seed: the message says what to fix, and the last good result stays on screen.
            seed_box = page.locator("#seed").get_by_label("Seed", exact=True)
            seed_box.fill("abc")
            seed_box.press("Enter")
            page.get_by_text("seed must be an integer 0-4294967295, got 'abc'").wait_for(timeout=60000)
            assert [tile.get_attribute("src") for tile in tiles(page).all()] == shown
            assert seeds_shown(page)[0] == "1234"
            page.screenshot(path=str(ARTIFACTS / "app-bad-seed.png"), full_page=True)

            # Every other tab shows its defaults drawn, with the seed it used, before any button is pressed.
            for tab, selector in (("Write a number", "#number"), ("One hand, 0-9", "#style-rows"),
                                  ("Morph", "#morph"), ("My hand", "#my-hand")):
                page.get_by_role("tab", name=tab).click()
                page.wait_for_function(f"document.querySelector('{selector} img')?.src", timeout=60000)
            names = {selector: page.locator(f"{selector} img").first.get_attribute("src")
                     for selector in ("#number", "#style-rows")}
            used = [seed for seed in seeds_shown(page) if seed]
            assert len(used) == 4 and f"_seed-{used[1]}" in names["#number"] and f"_seed-{used[2]}" in names["#style-rows"]

            # Write a number and see it.
            page.get_by_role("tab", name="Write a number").click()
            page.get_by_label("Number (up to 12 digits, spaces allowed)").fill("0151 234")
            hands = page.get_by_label("number input for Hands", exact=True)
            hands.fill("2")
            hands.press("Enter")
            page.locator("#number-seed").get_by_label("Seed", exact=True).fill("9")
            page.get_by_role("button", name="Write", exact=True).click()
            wait_for_picture(page, "#number", "number-0151-234_n-2_seed-9")
            from cgan.plots import grid_image
            expected = grid_image(generator.write_number("0151 234", 2, 9, generator.noise_scale), nrow=1)
            assert np.array_equal(shown_picture(page, app_url, "#number")[::4, ::4], expected)
        finally:
            browser.close()
    assert (ARTIFACTS / "app.png").stat().st_size > 0


def test_browser_user_moves_the_style_sliders_and_sees_the_same_hands_restyled(app_url):
    playwright = pytest.importorskip("playwright.sync_api")
    from cgan import load_generator
    from cgan.plots import grid_image
    generator = load_generator()
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(app_url)
            page.get_by_role("tab", name="One hand, 0-9").click()
            wait_for_picture(page, "#style-rows", "hands-0-9_n-6_seed-")
            seed = int(visible(page.locator("input[aria-label='Seed used']")).input_value())
            for label, value, tag in (("Stroke weight (-2: finer, 2: bolder)", "2", "_slant-0_weight-2"),
                                      ("Slant (-2: leaning left, 2: leaning right)", "-1.5", "_slant--1.5_weight-2")):
                box = visible(page.get_by_label(f"number input for {label}"))
                box.fill(value)
                box.press("Enter")
                wait_for_picture(page, "#style-rows", f"_seed-{seed}_scale-{generator.noise_scale:g}{tag}")
            # The hands on screen, not new ones: the seed shown before, restyled, pixel for pixel.
            rows = generator.style_rows(6, seed, generator.noise_scale, slant=-1.5, weight=2)
            assert np.array_equal(shown_picture(page, app_url, "#style-rows")[::4, ::4],
                                  grid_image(rows.reshape(-1, 28, 28), nrow=10))
            assert visible(page.locator("input[aria-label='Seed used']")).input_value() == str(seed)
            page.screenshot(path=str(ARTIFACTS / "app-style-sliders.png"), full_page=True)
        finally:
            browser.close()


SEVEN = [(-0.25, -0.3), (0.25, -0.3), (-0.05, 0.32)]  # one stroke: the bar, then down to the left
SCREENS = {"laptop": {"viewport": {"width": 1280, "height": 900}},
           "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
                     "has_touch": True}}


def draw(page, stroke):
    """Draw one stroke on the My hand canvas with the mouse, its points in fractions of the page's side from its
    centre, as a person would: nothing clicked first."""
    canvas = page.locator("#sketch .pixi-target canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y, side = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, min(box["width"], box["height"])
    page.mouse.move(x + stroke[0][0] * side, y + stroke[0][1] * side)
    page.mouse.down()
    for dx, dy in stroke[1:]:
        page.mouse.move(x + dx * side, y + dy * side, steps=20)
    page.mouse.up()


def wait_for_hand(page, shown_before, digit):
    """Wait until the My hand tab shows a number other than `shown_before`, written in the hand of `digit`, and its
    digit read; the picture's source."""
    page.wait_for_function(f"(document.querySelector('#my-hand img') || {{}}).src?.includes('my-hand-{digit}_number-') "
                           f"&& document.querySelector('#my-hand img').src !== '{shown_before}'", timeout=60000)
    page.wait_for_function(f"document.querySelector('input[aria-label=\"Digit read\"]').value === '{digit}'",
                           timeout=60000)
    return page.locator("#my-hand img").get_attribute("src")


def status_line(page):
    """The line under the My hand canvas: what the drawing lacks, if it is not read as a digit."""
    return page.locator("#sketch-status [data-testid='markdown-wrapper']").inner_text().strip()  # not its timer


def errors_shown(page):
    """The texts of the error messages the page shows."""
    return page.locator(".toast-body.error").all_inner_texts()


@pytest.mark.parametrize("screen", SCREENS)
def test_browser_user_draws_a_digit_at_once_and_gets_a_number_in_that_hand(app_url, screen):
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(**SCREENS[screen])
            page.goto(app_url)
            wait_for_tiles(page, "_digit-7_n-16_seed-", 16)  # the page is up
            open_tab(page, "My hand")
            wait_for_picture(page, "#my-hand", "my-hand-7_number-2026")  # the example drawing's hand, until one draws
            example = page.locator("#my-hand img").get_attribute("src")
            page.locator("#sketch .pixi-target canvas").first.wait_for(state="visible", timeout=30000)
            # The brush is chosen as the canvas opens: a 7 drawn at once is drawn, read, and 2026 written in its hand.
            draw(page, SEVEN)
            page.get_by_role("button", name="Write in my hand").click()
            mine = wait_for_hand(page, example, 7)
            assert "_number-2026" in mine
            written = shown_picture(page, app_url, "#my-hand")
            assert written.shape[0] == 4 * 32 and written.shape[1] > 2 * written.shape[0]  # one line of digits, at 4x
            assert written.max() > 0
            assert errors_shown(page) == [] and status_line(page) == ""
            page.screenshot(path=str(ARTIFACTS / f"app-my-hand-{screen}.png"), full_page=True)
            # Undoing the stroke, or clearing the canvas, shows the example's hand again, with no error; after either,
            # the brush still draws.
            page.locator("#sketch").get_by_label("Undo", exact=True).click()
            wait_for_picture(page, "#my-hand", "my-hand-7_number-2026")
            page.wait_for_function(f"document.querySelector('#my-hand img').src !== '{mine}'", timeout=60000)
            draw(page, SEVEN)
            mine = wait_for_hand(page, page.locator("#my-hand img").get_attribute("src"), 7)  # the stroke alone
            page.locator("#sketch").get_by_label("Clear canvas", exact=True).click()
            page.wait_for_function(f"document.querySelector('#my-hand img').src !== '{mine}'", timeout=60000)
            page.screenshot(path=str(ARTIFACTS / f"app-my-hand-cleared-{screen}.png"), full_page=True)
            draw(page, SEVEN)
            wait_for_hand(page, page.locator("#my-hand img").get_attribute("src"), 7)
            assert errors_shown(page) == []
        finally:
            browser.close()


def test_on_a_phone_every_tab_stacks_its_inputs_and_nothing_covers_the_digits(app_url):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                    has_touch=True)
            page.goto(app_url)
            wait_for_tiles(page, "_digit-7_n-16_seed-", 16)
            inputs = [page.locator(f"#{name}").first for name in ("seed",)] + [
                page.get_by_label("Digit", exact=True), page.get_by_label("number input for Number of samples")]
            tops = sorted(box.bounding_box()["y"] for box in inputs)
            assert tops[1] - tops[0] > 20 and tops[2] - tops[1] > 20  # one under another, not side by side
            # Each tile is what a finger lands on at its centre: no button or overlay lies on the digits.
            for tile in tiles(page).all()[:8]:
                tile.scroll_into_view_if_needed()
                box = tile.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= 390
                hit = page.evaluate(f"document.elementFromPoint({box['x'] + box['width'] / 2}, "
                                    f"{box['y'] + box['height'] / 2})?.tagName")
                assert hit == "IMG", hit
            page.screenshot(path=str(ARTIFACTS / "app-phone.png"), full_page=True)
            for tab, selector in (("Write a number", "#number"), ("One hand, 0-9", "#style-rows"),
                                  ("Morph", "#morph"), ("My hand", "#my-hand")):
                open_tab(page, tab)
                page.wait_for_function(f"document.querySelector('{selector} img')?.src", timeout=60000)
                page.locator(f"{selector} img").first.scroll_into_view_if_needed()
                picture = page.locator(f"{selector} img").first.bounding_box()
                assert picture["x"] >= 0 and picture["x"] + picture["width"] <= 390
                # The picture's label and buttons sit above it, not on it: its top row is the picture itself.
                hit = page.evaluate(f"document.elementFromPoint({picture['x'] + picture['width'] - 8}, "
                                    f"{picture['y'] + 4})?.tagName")
                assert hit == "IMG", (tab, hit)
                page.screenshot(path=str(ARTIFACTS / f"app-phone-{selector[1:]}.png"), full_page=True)
        finally:
            browser.close()


# --- under load ---------------------------------------------------------------------------------------------------

def test_the_load_benchmarks_quick_mode_gets_every_request_and_file(app_url, tmp_path):
    for endpoint in ("generate", "digits"):
        done = subprocess.run([sys.executable, "-m", "benchmarks.load", "--url", app_url, "--requests", "50",
                               "--concurrency", "8", "--repeats", "1", "--endpoint", endpoint, "--out", str(tmp_path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads((tmp_path / f"load-{endpoint}.json").read_text())
        assert result["median"]["failures"] == 0 and result["runs"][0]["requests"] == 50, result


def submit(url, endpoint, data):
    """A request through the HTTP API, as a browser sends it: (the event, its data) or ("http", status)."""
    import httpx
    with httpx.Client(timeout=60) as http:
        response = http.post(f"{url}gradio_api/call/{endpoint}", json={"data": data})
        if response.status_code != 200:
            return "http", (response.status_code, response.text)
        event = None
        with http.stream("GET", f"{url}gradio_api/call/{endpoint}/{response.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    return event, json.loads(line.split(":", 1)[1])
    return "no answer", None


def test_a_full_queue_turns_a_request_away_at_once_and_the_app_recovers(tmp_path_factory):
    process, url, log = serve_app(tmp_path_factory, CGAN_MAX_QUEUE="2", CGAN_CONCURRENCY="1")
    try:
        with ThreadPoolExecutor(max_workers=30) as pool:
            start = time.time()
            answers = list(pool.map(lambda i: (submit(url, "generate", [7, 64, i, None]), time.time() - start),
                                    range(30)))
        busy = [(data, seconds) for (event, data), seconds in answers if event == "http"]
        assert busy and all(data[0] == 503 and "Queue is full" in data[1] for data, _ in busy)
        assert all(seconds < 20 for _, seconds in answers)  # turned away or answered: never left hanging
        assert all(event in ("complete", "http") for (event, _), _ in answers)
        assert submit(url, "generate", [1, 1, 1, None])[0] == "complete"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_one_visitor_asking_for_the_most_over_and_over_does_not_starve_another(app_url):
    stop, floods = [], []

    def flood():
        while not stop:
            floods.append(submit(app_url, "generate", [8, 64, None, None])[0])

    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(6):
            pool.submit(flood)
        time.sleep(1)
        small = []
        for i in range(10):  # another visitor's one-digit requests, while the floods go on
            start = time.time()
            small.append((submit(app_url, "generate", [2, 1, i, None])[0], time.time() - start))
        stop.append(True)
    assert all(event == "complete" for event, _ in small) and len(floods) > 10
    assert max(seconds for _, seconds in small) < 5


def test_random_inputs_to_every_endpoint_get_a_result_or_a_clean_error(app_url):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    # JSON carries no NaN or infinity: a browser or client cannot send them.
    anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=30), st.lists(st.integers(), max_size=3),
                         st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
                         st.sampled_from(["", " ", "7", "64", "-1", "1e9", "nan", "2026", "0151 234", "１２"]),
                         st.integers(-3, 70))
    arity = {"digits": 6, "generate": 6, "write_number": 6, "style_rows": 5, "morph": 8}  # the style's two last

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(endpoint=st.sampled_from(sorted(arity)), values=st.lists(anything, min_size=8, max_size=8))
    def call(endpoint, values):
        event, data = submit(app_url, endpoint, values[:arity[endpoint]])
        assert event in ("complete", "error"), (event, data)
        if event == "error":
            message = data["error"]
            assert message and "Traceback" not in message and "File \"" not in message, message
            assert " must be " in message or "a morph needs" in message, message

    call()
    assert submit(app_url, "generate", [3, 2, 1, None])[0] == "complete"  # and the server still serves
