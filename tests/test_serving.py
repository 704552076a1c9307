"""The app's handler logic, without a browser or a server."""

import asyncio
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from gradio_client.utils import encode_file_path
from starlette.testclient import TestClient
from PIL import Image

from cgan import ConditionalGenerator, load_generator
from cgan.generation import new_seed
from cgan.hub import BUNDLED_GENERATOR, arch_name
from cgan.plots import grid_image
from cgan.result_files import FILE_ROUTE, ResultFiles, ResultFileServer
from cgan.serving import (MAX_SAMPLES, Picture, as_int, describe, load_for_app, parse_noise_scale, parse_request,
                          parse_style, serve, serve_grid, serve_morph, serve_number, serve_style_rows)


@pytest.fixture(scope="module")
def generator():
    return ConditionalGenerator("dcgan", "coverage", 255)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return ResultFiles(tmp_path_factory.mktemp("results"), keep=4)


@pytest.mark.parametrize("sent, parsed", [
    ((7, 16, 42), (7, 16, 42)),
    (("7", "16", "42"), (7, 16, 42)),
    ((7.0, 16.0, 42.0), (7, 16, 42)),
    ((" 3 ", 1, ""), (3, 1, None)),
    ((0, MAX_SAMPLES, None), (0, 64, None)),
    ((9, 5, 2**32 - 1), (9, 5, 2**32 - 1)),
])
def test_requests_are_parsed_whatever_their_type(sent, parsed):
    assert parse_request(*sent) == (*parsed, None)


@pytest.mark.parametrize("sent, message", [
    ((10, 16, None), "digit must be an integer 0-9, got 10"),
    (("seven", 16, None), "digit must be an integer 0-9, got 'seven'"),
    ((None, 16, None), "digit must be an integer 0-9, got None"),
    ((2.5, 16, None), "digit must be an integer 0-9, got 2.5"),
    ((True, 16, None), "digit must be an integer 0-9, got True"),
    ((7, 0, None), "n must be an integer 1-64, got 0"),
    ((7, 65, None), "n must be an integer 1-64, got 65"),
    ((7, "many", None), "n must be an integer 1-64, got 'many'"),
    ((7, float("nan"), None), "n must be an integer 1-64, got nan"),
    ((7, 16, -1), "seed must be an integer 0-4294967295, got -1"),
    ((7, 16, 2**32), "seed must be an integer 0-4294967295, got 4294967296"),
    ((7, 16, "abc"), "seed must be an integer 0-4294967295, got 'abc'"),
    ((7, 16, [1]), "seed must be an integer 0-4294967295, got \\[1\\]"),
])
def test_bad_requests_get_a_message_naming_the_input(sent, message):
    with pytest.raises(ValueError, match=message):
        parse_request(*sent)


def test_serve_returns_the_n_digits_exactly_and_echoes_the_seed(generator, files):
    result = serve(generator, files, "4", 12, "99")
    assert result.digit == 4 and result.seed == 99 and len(result.image_paths) == 12
    assert [Path(path).name.split("_", 1)[1] for path in result.image_paths[:2]] == [
        "digit-4_n-12_seed-99_01.png", "digit-4_n-12_seed-99_02.png"]
    shown = pixels(result.image_paths)
    with Image.open(result.image_paths[0]) as image:
        assert image.format == "PNG"  # lossless: webp would smear 28x28 digits
    # The digits themselves, pixel for pixel: the browser scales them up (square pixels, the app's CSS).
    assert all(np.array_equal(a, b) for a, b in zip(shown, generator.generate(4, 12, seed=99), strict=True))


def pixels(paths):
    return [np.asarray(Image.open(path)) for path in paths]


def test_empty_seed_draws_one_and_reports_it(generator, files):
    result = serve(generator, files, 2, 3, "")
    again = serve(generator, files, 2, 3, result.seed)
    assert 0 <= result.seed <= 2**32 - 1
    assert all(np.array_equal(a, b) for a, b in zip(pixels(result.image_paths), pixels(again.image_paths), strict=True))


def test_grid_png_holds_the_whole_result(generator, files):
    result = serve(generator, files, 1, 10, 5)
    path = Path(result.grid_path)
    assert path.suffix == ".png" and "digit-1_n-10_seed-5" in path.name
    with Image.open(path) as grid:
        assert grid.format == "PNG" and grid.mode == "L"
        assert grid.size == (2 * (8 * 30 + 2), 2 * (2 * 30 + 2))  # 8 per row, 2 rows, 2 px gaps, 2x upscaled


def test_only_the_newest_results_are_kept_on_disk(generator, tmp_path):
    files = ResultFiles(tmp_path, keep=2)
    results = [serve(generator, files, 1, 2, seed) for seed in range(4)]
    assert [Path(r.grid_path).exists() for r in results] == [False, False, True, True]
    assert [Path(r.image_paths[0]).exists() for r in results] == [False, False, True, True]


def test_unloadable_model_falls_back_to_the_bundled_one(caplog, monkeypatch, tmp_path):
    monkeypatch.setenv("CGAN_MODEL", str(tmp_path / "missing"))  # the Space's setting, out of reach
    generator = load_for_app()
    assert Path(generator.source).resolve() == BUNDLED_GENERATOR.resolve()
    (record,) = caplog.records
    assert record.getMessage() == (f"could not load model {tmp_path / 'missing'} (FileNotFoundError: "
                                   f"{record.args[2]}); falling back to the bundled {BUNDLED_GENERATOR}")
    assert "missing" in str(record.args[2])


def test_about_text_names_the_source_and_architecture():
    generator = load_for_app()
    text = describe(generator)
    assert "checkpoints/generator" in text and "`dcgan` (small)" in text
    scale = generator.noise_scale  # the bundled model's own (its config.json's)
    assert (f"**Sampling:** noise scale {scale:g}" in text) == (scale != 1)
    assert "Sampling" not in describe(generator.with_noise_scale(1.0))


def model_copy(tmp_path, drop=()):
    """The bundled model's folder copied, with the named entries of its evaluation.json's numbers removed."""
    folder = Path(shutil.copytree(BUNDLED_GENERATOR, tmp_path / "model"))
    evaluation = json.loads((folder / "evaluation.json").read_text())
    for key in drop:
        evaluation["model"].pop(key), evaluation["real"].pop(key)
    (folder / "evaluation.json").write_text(json.dumps(evaluation))
    return folder, evaluation


def test_about_text_of_a_local_model_says_how_it_was_trained_and_measured(tmp_path):
    folder, evaluation = model_copy(tmp_path)
    generator = load_generator(folder).with_noise_scale(1.05)  # a scale other than 1, whatever the bundled one's
    paragraphs = describe(generator).split("\n\n")
    m, real = evaluation["model"], evaluation["real"]
    assert paragraphs[0] == f"**Weights:** `{folder}`."  # a local folder: no Hub link
    assert paragraphs[1].startswith(f"**Architecture:** {arch_name(generator.arch, generator.size)} conditional GAN (")
    assert paragraphs[2].startswith("**Training:** `python train.py")
    assert paragraphs[3].startswith("**Sampling:** noise scale 1.05")
    assert f"drawn {m['accuracy']:.2%} of the time (worst digit {m['accuracy_min']:.2%})" in paragraphs[4]
    assert paragraphs[4].endswith(f"right {m['c2st']:.0%} of the time (50% would be a coin toss; real digits: "
                                  f"{real['c2st']:.0%}).") and len(paragraphs) == 5


def test_about_text_without_a_c2st_training_or_evaluation_says_so(tmp_path):
    folder, evaluation = model_copy(tmp_path, drop=["c2st"])
    (folder / "training.json").unlink()
    text = describe(load_generator(folder))
    assert "Training" not in text and "critic" not in text
    m = evaluation["model"]
    assert text.endswith(f"precision {m['precision']:.2f}, recall {m['recall']:.2f}.")
    (folder / "evaluation.json").unlink()
    assert describe(load_generator(folder)).endswith(
        "\n\n**Measured quality:** not measured for these weights (`python -m cgan.evaluate --save`).")


def test_about_text_of_a_hub_model_links_to_it():
    generator = ConditionalGenerator("dcgan", "coverage", 255, size="large")
    generator.source = "someone/digits"
    assert describe(generator).startswith(
        "**Weights:** `someone/digits` ([Hub](https://huggingface.co/someone/digits)).\n\n"
        "**Architecture:** `dcgan` (large) conditional GAN")
    assert describe(load_for_app()).startswith("**Weights:** the bundled `checkpoints/generator` folder.")


def test_a_seed_is_drawn_from_all_of_the_seed_box_range():
    seeds = {new_seed() for _ in range(20)}
    assert len(seeds) == 20 and all(0 <= seed <= 2**32 - 1 for seed in seeds) and max(seeds) > 2**31


@pytest.mark.parametrize("sent, parsed", [("16.0", 16), (" 8 ", 8), (3.0, 3)])
def test_a_whole_number_is_read_from_a_float_or_its_text(sent, parsed):
    assert as_int("n", sent, 1, 64) == parsed


def test_result_files_keep_256_requests_by_default_on_disk_and_in_memory(tmp_path):
    files = ResultFiles(tmp_path / "a" / "b")
    first = files.write([("x.png", b"1"), ("y.png", b"2")])
    second = files.write([("x.png", b"3")])
    assert first[0] != second[0] and Path(first[0]).name.endswith("_x.png") and Path(first[0]).parent == tmp_path / "a" / "b"
    assert [Path(path).read_bytes() for path in first + second] == [b"1", b"2", b"3"]
    assert [files.contents[Path(path).name] for path in first + second] == [b"1", b"2", b"3"]
    for _ in range(254):
        files.write([("z.png", b"4")])
    assert all(Path(path).exists() for path in first)  # 256 requests: all kept
    Path(first[1]).unlink()  # gone already (a user cleaning up): its removal must not fail
    files.write([("z.png", b"4")])
    assert not Path(first[0]).exists() and Path(second[0]).exists()  # 257: only the first request's files have gone
    assert not any(Path(path).name in files.contents for path in first) and Path(second[0]).name in files.contents
    assert len(files.contents) == 256  # the second request's file and 255 more
    assert ResultFiles().root.name.startswith("cgan-results-")


def result_file_server(files):
    """A ResultFileServer in front of an app that answers 404 "gradio" to whatever reaches it."""
    async def gradio(scope, receive, send):
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"gradio"})
    return TestClient(ResultFileServer(gradio, files))


def test_a_result_file_is_answered_from_memory_at_the_url_gradio_gives_it(generator, tmp_path):
    files = ResultFiles(tmp_path)
    result = serve(generator, files, 3, 2, 7)
    client = result_file_server(files)
    for path in result.image_paths + [result.grid_path]:
        response = client.get(FILE_ROUTE + encode_file_path(path))
        assert response.status_code == 200 and response.content == Path(path).read_bytes()
        assert response.headers["content-type"] == "image/png"
        assert response.headers["content-disposition"] == f'inline; filename="{Path(path).name}"'
    head = client.head(FILE_ROUTE + result.grid_path)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == Path(result.grid_path).stat().st_size
    animation = serve_morph(generator, files, 1, 7, 2, 3, 8)
    assert client.get(FILE_ROUTE + animation.path).headers["content-type"] == "image/gif"


def test_anything_but_a_kept_result_file_goes_on_to_gradio(generator, tmp_path):
    files = ResultFiles(tmp_path / "results", keep=1)
    (tmp_path / "secret.txt").write_text("not a result")
    old, new = serve(generator, files, 3, 1, 7).grid_path, serve(generator, files, 3, 1, 8).grid_path
    client = result_file_server(files)
    for url in [FILE_ROUTE + old,  # beyond `keep`: gone from memory and disk
                f"{FILE_ROUTE}{files.root}/", f"{FILE_ROUTE}{files.root}",
                f"{FILE_ROUTE}{tmp_path}/secret.txt", "/" + Path(new).name, "/gradio_api/upload"]:
        response = client.get(url)
        assert (response.status_code, response.content) == (404, b"gradio"), url
    passed_on = []

    async def gradio(scope, receive, send):
        passed_on.append(scope["path"])
    # ".." as it reaches the server (the test client resolves it away before sending): not a name of ours either.
    for path in (f"{FILE_ROUTE}{files.root}/../secret.txt", f"{FILE_ROUTE}{files.root}/../results/{Path(new).name}"):
        asyncio.run(ResultFileServer(gradio, files)({"type": "http", "method": "GET", "path": path, "headers": []},
                                                    None, None))
    assert len(passed_on) == 2
    assert client.post(FILE_ROUTE + new).content == b"gradio"
    assert client.get(FILE_ROUTE + new, headers={"Range": "bytes=0-3"}).content == b"gradio"  # Gradio does ranges
    assert client.get(FILE_ROUTE + new).content == Path(new).read_bytes()


def test_an_app_served_under_a_prefix_gets_its_result_files_too(generator, tmp_path):
    files = ResultFiles(tmp_path)
    path = serve(generator, files, 3, 1, 7).grid_path
    sent = []

    async def send(message):
        sent.append(message)
    # As uvicorn calls an app behind a proxy: the prefix in root_path and at the front of path (the ASGI spec).
    scope = {"type": "http", "method": "GET", "root_path": "/space", "path": "/space" + FILE_ROUTE + path, "headers": []}
    asyncio.run(ResultFileServer(None, files)(scope, None, send))
    assert sent[0]["status"] == 200 and sent[1]["body"] == Path(path).read_bytes()


def shown_picture(picture, scale, frame=None):
    with Image.open(picture.path) as image:
        if frame is not None:
            image.seek(frame)
        return np.asarray(image.convert("L"))[::scale, ::scale]


@pytest.mark.parametrize("tab", ["digits", "number", "rows", "morph"])
def test_each_tab_draws_with_its_seed_and_noise_scale_and_names_its_file(generator, files, tab):
    """What each picture endpoint shows: exactly the generator's drawing for the seed and noise scale asked for
    (and for a drawn seed, the one reported), in a file named by the request."""
    def request(seed, scale):  # (picture, its upscaling, the frame to look at, what it should show, its file name)
        return {
            "digits": lambda: (serve_grid(generator, files, 5, 3, seed, scale), 2, None,
                               lambda s, sc: grid_image(generator.generate(5, 3, s, sc), nrow=8),
                               lambda s, tag: f"digit-5_n-3_seed-{s}{tag}.png"),
            "number": lambda: (serve_number(generator, files, "12 34", 2, seed, scale), 4, None,
                               lambda s, sc: grid_image(generator.write_number("12 34", 2, s, sc), nrow=1),
                               lambda s, tag: f"number-12-34_n-2_seed-{s}{tag}.png"),
            "rows": lambda: (serve_style_rows(generator, files, 2, seed, scale), 4, None,
                             lambda s, sc: grid_image(generator.style_rows(2, s, sc).reshape(-1, 28, 28), nrow=10),
                             lambda s, tag: f"hands-0-9_n-2_seed-{s}{tag}.png"),
            "morph": lambda: (serve_morph(generator, files, 3, 8, seed, 9, 8, scale), 4, 0,
                              lambda s, sc: generator.morph(3, 8, s, 9, 8, sc)[0],
                              lambda s, tag: f"morph-3-to-8_seed-{s}-to-9_frames-8{tag}.gif"),
        }[tab]()
    picture, scale, frame, expected, name = request(7, "0.5")
    assert np.array_equal(shown_picture(picture, scale, frame), expected(7, 0.5))
    assert Path(picture.path).name.split("_", 1)[1] == name(7, "_scale-0.5")
    picture, scale, frame, expected, name = request("", None)  # a drawn seed, the model's own noise scale
    seed = picture.seeds[0]
    assert isinstance(seed, int) and np.array_equal(shown_picture(picture, scale, frame), expected(seed, None))
    assert Path(picture.path).name.split("_", 1)[1] == name(seed, "")


def test_a_morph_to_another_seed_reports_both_and_accepts_the_digit_range_ends(generator, files):
    picture = serve_morph(generator, files, 0, 9, 1, 2, 8)
    assert picture.seeds == (1, 2) and "morph-0-to-9_seed-1-to-2_frames-8" in picture.path
    with pytest.raises(ValueError, match="^digit must be an integer 0-9, got 10$"):
        serve_morph(generator, files, 10, 9, 1, 2, 8)
    with pytest.raises(ValueError, match="^a morph needs two different digits"):
        serve_morph(generator, files, 4, 4, 1, 1, 8)


# --- the other tabs -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sent, parsed", [(None, None), ("", None), (" ", None), (0.5, 0.5), ("1.2", 1.2), (1, 1.0),
                                          ("0.3", 0.3), (1.5, 1.5)])  # the range's ends are in it
def test_a_noise_scale_is_parsed_whatever_its_type(sent, parsed):
    assert parse_noise_scale(sent) == parsed


@pytest.mark.parametrize("sent", [0.2, 1.6, "x", float("nan"), [1], True, "inf"])
def test_a_bad_noise_scale_gets_a_message_naming_it(sent):
    with pytest.raises(ValueError, match="noise_scale must be a number 0.3-1.5"):
        parse_noise_scale(sent)


def test_serve_passes_the_noise_scale_on(generator, files):
    result = serve(generator, files, 4, 3, 8, "0.5")
    assert np.array_equal(pixels(result.image_paths)[1], generator.generate(4, 3, 8, 0.5)[1])


def test_a_written_number_is_one_crisp_picture_of_every_hand(generator, files):
    picture = serve_number(generator, files, " 2026 ", "3", "", 0.8)
    assert 0 <= picture.seeds[0] <= 2**32 - 1 and "_number-2026_n-3_seed-" in Path(picture.path).name
    with Image.open(picture.path) as image:
        shown = np.asarray(image)
    numbers = generator.write_number("2026", 3, picture.seeds[0], 0.8)
    expected = grid_image(numbers, nrow=1)  # one hand per line
    assert np.array_equal(shown[::4, ::4], expected) and shown.shape == (4 * expected.shape[0], 4 * expected.shape[1])


def test_style_rows_are_one_picture_with_a_row_per_hand(generator, files):
    picture = serve_style_rows(generator, files, 3, 12, None)
    with Image.open(picture.path) as image:
        shown = np.asarray(image)
    assert picture.seeds == (12,)
    assert np.array_equal(shown[::4, ::4], grid_image(generator.style_rows(3, 12).reshape(-1, 28, 28), nrow=10))


def test_a_morph_is_a_gif_of_the_asked_frames_and_reports_both_seeds(generator, files):
    picture = serve_morph(generator, files, 3, "8", 5, "", 12, None)
    assert picture.seeds == (5, 5) and picture.path.endswith(".gif")
    with Image.open(picture.path) as animation:
        assert animation.n_frames == 12 and animation.size == (112, 112)
        animation.seek(11)
        last = np.asarray(animation.convert("L"))
    assert np.array_equal(last[::4, ::4], generator.morph(3, 8, 5, 5, 12)[-1])


@pytest.mark.parametrize("call, message", [
    (lambda g, f: serve_number(g, f, "12 a", 1, 1), "text must be 1-12 digits"),
    (lambda g, f: serve_number(g, f, "2026", 9, 1), "n must be an integer 1-8"),
    (lambda g, f: serve_style_rows(g, f, 17, 1), "n must be an integer 1-16"),
    (lambda g, f: serve_style_rows(g, f, 2, "x"), "seed must be an integer"),
    (lambda g, f: serve_morph(g, f, 3, 8, 1, 2, 49), "frames must be an integer 8-48"),
    (lambda g, f: serve_morph(g, f, 3, 10, 1, 2, 24), "to_digit must be an integer 0-9"),
    (lambda g, f: serve_morph(g, f, 3, 8, 1, -1, 24), "to_seed must be an integer 0-4294967295"),
    (lambda g, f: serve_morph(g, f, 3, 3, 1, "", 24), "a morph needs two different digits or two different seeds"),
    (lambda g, f: serve_morph(g, f, 3, 8, 1, 2, 24, 9), "noise_scale must be a number 0.3-1.5"),
])
def test_bad_requests_on_the_other_tabs_get_a_message_naming_the_input(generator, files, call, message):
    with pytest.raises(ValueError, match=message):
        call(generator, files)


def test_the_digits_tab_shows_the_digits_as_one_picture_which_is_the_grid_download(generator, files):
    picture = serve_grid(generator, files, "5", 10, 3, None)
    assert picture.seeds == (3,) and "_digit-5_n-10_seed-3" in Path(picture.path).name
    with Image.open(picture.path) as image:
        shown = np.asarray(image)
    assert np.array_equal(shown[::2, ::2], grid_image(generator.generate(5, 10, 3), nrow=8))
    grid = serve(generator, files, 5, 10, 3).grid_path  # the API's grid: the same picture
    assert np.array_equal(np.asarray(Image.open(grid)), shown)


def test_my_hand_writes_the_number_in_the_drawings_hand_beside_what_it_read(files, test_set):
    from cgan import load_generator
    from cgan.serving import EXAMPLE_DRAWING, serve_my_hand
    generator = load_generator()  # a trained model: an untrained one draws nothing near a digit, and is refused
    images, labels = test_set
    drawing = 255 - np.asarray(Image.fromarray(images[0].numpy()).resize((280, 280), Image.Resampling.NEAREST))
    written = serve_my_hand(generator, files, drawing, "20 26", None)
    hand = generator.find_hand(drawing)
    assert written.digit == hand.digit == labels[0] and "my-hand-7_number-20-26" in Path(written.path).name
    assert np.array_equal(np.asarray(Image.open(written.path))[::4, ::4],
                          grid_image(generator.write_number("20 26", hand=hand), nrow=1))
    read = np.asarray(Image.open(written.understood_path))[::4, ::4]
    assert np.array_equal(read, grid_image(np.stack([hand.drawing, generator.generate(hand.digit, hand=hand)[0]]), 2))
    assert serve_my_hand(generator, files, EXAMPLE_DRAWING, "1", 0.8).digit == 7  # the tab's example: a 7
    for image, text, message in ((None, "2026", "the drawing is empty: draw a digit"),
                                 (np.full((280, 280), 255, np.uint8), "2026", "the drawing is empty: draw a digit"),
                                 (drawing, "20x6", "text must be 1-12 digits"),
                                 (drawing, "2026", "noise_scale must be a number 0.3-1.5")):
        with pytest.raises(ValueError, match=message):
            serve_my_hand(generator, files, image, text, 2.0 if "noise" in message else None)


def test_an_empty_canvas_shows_the_example_drawings_hand_found_once_per_noise_scale(files):
    from cgan import load_generator
    from cgan.serving import EXAMPLE_DRAWING, example_hand, serve_example_hand, serve_my_hand
    generator = load_generator()
    first = serve_example_hand(generator, files, "2026", None)
    searched = example_hand.cache_info()
    again = serve_example_hand(generator, files, "31", None)  # the canvas cleared, another number: no search
    assert example_hand.cache_info().misses == searched.misses and again.digit == first.digit == 7
    drawn = serve_my_hand(generator, files, EXAMPLE_DRAWING, "31", None)
    assert np.array_equal(np.asarray(Image.open(again.path)), np.asarray(Image.open(drawn.path)))
    serve_example_hand(generator, files, "31", 0.8)  # another noise scale: another hand, found once
    assert example_hand.cache_info().misses == searched.misses + 1


# --- slant and weight -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sent, parsed", [((None, None), (0.0, 0.0)), (("", " "), (0.0, 0.0)),
                                          (("1.5", -2), (1.5, -2.0)), ((2, "-0.25"), (2.0, -0.25)),
                                          ((0.75, None), (0.75, 0.0))])
def test_slant_and_weight_are_parsed_whatever_their_type_and_empty_is_0(sent, parsed):
    assert parse_style(*sent) == parsed


@pytest.mark.parametrize("sent", [2.5, -3, "x", float("nan"), "inf", True, [1]])
def test_a_bad_slant_or_weight_gets_a_message_naming_it(sent):
    with pytest.raises(ValueError, match=r"^slant must be a number -2 to 2 \(0: unchanged\), got "):
        parse_style(sent, 0)
    with pytest.raises(ValueError, match=r"^weight must be a number -2 to 2 \(0: unchanged\), got "):
        parse_style(None, sent)


@pytest.fixture(scope="module")
def steerable():
    return load_generator()  # the bundled model has style directions; the untrained one here has none


@pytest.mark.parametrize("tab", ["digits", "gallery", "number", "rows", "morph", "my hand"])
def test_each_tab_draws_the_hands_with_the_slant_and_weight_asked_and_names_its_file(steerable, files, tab):
    from cgan.serving import EXAMPLE_DRAWING, serve_my_hand
    g = steerable
    style = {"slant": 1.5, "weight": -0.5}
    picture, scale, frame, expected = {
        "digits": lambda: (serve_grid(g, files, 5, 3, 7, None, "1.5", -0.5), 2, None,
                           grid_image(g.generate(5, 3, 7, **style), nrow=8)),
        "gallery": lambda: (serve(g, files, 5, 3, 7, None, 1.5, "-0.5"), 1, None, g.generate(5, 3, 7, **style)[1]),
        "number": lambda: (serve_number(g, files, "12", 2, 7, None, 1.5, -0.5), 4, None,
                           grid_image(g.write_number("12", 2, 7, **style), nrow=1)),
        "rows": lambda: (serve_style_rows(g, files, 2, 7, None, 1.5, -0.5), 4, None,
                         grid_image(g.style_rows(2, 7, **style).reshape(-1, 28, 28), nrow=10)),
        "morph": lambda: (serve_morph(g, files, 3, 8, 7, 9, 8, None, 1.5, -0.5), 4, 3,
                          g.morph(3, 8, 7, 9, 8, **style)[3]),
        "my hand": lambda: (serve_my_hand(g, files, EXAMPLE_DRAWING, "12", None, 1.5, -0.5), 4, None,
                            grid_image(g.write_number("12", hand=g.find_hand(EXAMPLE_DRAWING), **style), nrow=1)),
    }[tab]()
    if tab == "gallery":  # a PNG per digit
        picture = Picture(picture.image_paths[1], (picture.seed,))
    assert "_slant-1.5_weight--0.5" in Path(picture.path).name
    assert np.array_equal(shown_picture(picture, scale, frame), expected)


def test_a_model_without_style_directions_says_so_when_a_slant_or_weight_is_asked(generator, files):
    assert serve_style_rows(generator, files, 1, 7, None, 0, "").path  # 0 or empty: the hands as they are
    with pytest.raises(ValueError, match="this model has no style directions .* python -m cgan.style"):
        serve_style_rows(generator, files, 1, 7, None, 0, 1)


def test_a_visitor_leaving_mid_upload_is_a_log_line_and_any_other_fault_still_raises(caplog):
    from starlette.requests import ClientDisconnect
    from cgan.serving import VisitorsLeaving

    def app_raising(error):
        async def app(scope, receive, send):
            raise error
        return VisitorsLeaving(app)

    scope = {"type": "http", "path": "/gradio_api/component_server"}
    with caplog.at_level("INFO", logger="cgan.app"):
        asyncio.run(app_raising(ClientDisconnect())(scope, None, None))
    assert "a visitor left during a request to /gradio_api/component_server" in caplog.text
    with pytest.raises(RuntimeError, match="a real fault"):
        asyncio.run(app_raising(RuntimeError("a real fault"))(scope, None, None))
