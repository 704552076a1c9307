"""cgan-digits in the browser: pick a digit, get as many handwritten versions as you like; write a number in one
hand, see one hand write every digit, morph one digit or hand into another.

    python app.py        # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override)

On a Hugging Face Space, set CGAN_MODEL to a Hub repo id; without the Hub the bundled checkpoints/ model is served.
"""

import logging
import os
from pathlib import Path

import gradio as gr
import torch

from cgan.generation import NOISE_SCALES
from cgan.serving import (FRAMES, MAX_HANDS, MAX_ROWS, MAX_SAMPLES, ResultFiles, describe, load_for_app, serve,
                          serve_grid, serve_morph, serve_number, serve_style_rows)

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

# Loaded once at start-up; requests share it read-only and each draws its noise from its own torch.Generator.
generator = load_for_app()
# One thread per request: four requests at once with torch's default (a thread per core each) would fight over the
# cores, and one request's few milliseconds of network gain nothing from more.
torch.set_num_threads(1)

# Keep upscaled pixels square wherever a digit is shown.
CSS = ".pixelated img { image-rendering: pixelated; }"


def handle(serve_fn, *args):
    """Run a serving function; a bad input becomes an error message for the visitor or API caller."""
    try:
        return serve_fn(generator, result_files, *args)
    except ValueError as error:
        raise gr.Error(str(error), print_exception=False) from None  # a visitor's mistake, not a fault of ours


def generate(digit, n, seed, noise_scale=None):
    """The generate endpoint, for API callers: (digit 0-9, n 1-64, seed or empty, noise scale or empty) -> (the
    digits, one PNG each; seed used; the grid PNG)."""
    result = handle(serve, digit, n, seed, noise_scale)
    return result.image_paths, result.seed, result.grid_path


def digits(digit, n, seed, noise_scale=None):
    """What the Digits tab shows: (digit, n, seed, noise scale) -> (the grid picture, seed used, the same to
    download)."""
    picture = handle(serve_grid, digit, n, seed, noise_scale)
    return picture.path, picture.seeds[0], picture.path


def write_number(text, n, seed, noise_scale=None):
    """(number text, hands 1-8, seed or empty, noise scale) -> (picture, seed used, the picture to download)."""
    picture = handle(serve_number, text, n, seed, noise_scale)
    return picture.path, picture.seeds[0], picture.path


def style_rows(n, seed, noise_scale=None):
    """(rows 1-16, seed or empty, noise scale) -> (picture, seed used, the picture to download)."""
    picture = handle(serve_style_rows, n, seed, noise_scale)
    return picture.path, picture.seeds[0], picture.path


def morph(digit, to_digit, seed, to_seed, frames, noise_scale=None):
    """(digit, to digit, seed or empty, to seed or empty, frames 8-48, noise scale) -> (GIF, seed used, to seed used,
    the GIF to download)."""
    picture = handle(serve_morph, digit, to_digit, seed, to_seed, frames, noise_scale)
    return picture.path, *picture.seeds, picture.path


def neatness():
    return gr.Slider(*NOISE_SCALES, value=generator.noise_scale, step=0.01,
                     label="Noise scale (lower: neater, more typical; higher: rarer styles)")


def seed_box(elem_id, label="Seed"):
    return gr.Textbox(label=label, placeholder="empty: a random seed", max_lines=1, elem_id=elem_id)


def digit_menu(label, value):
    return gr.Dropdown(choices=list(range(10)), value=value, label=label, allow_custom_value=True)


def wire(fn, inputs, outputs, name, triggers):
    # preprocess=False: the handler gets the raw values of any caller and validates them itself, with clear errors.
    # show_progress="hidden": a rejected input shows its message in a toast and leaves the last good result on
    # screen, where the progress overlay would cover every output with an "Error" badge (results take milliseconds,
    # so there is no progress to show).
    gr.on(triggers=triggers, fn=fn, inputs=inputs, outputs=outputs, api_name=name, preprocess=False,
          trigger_mode="always_last", show_progress="hidden")


def actions(button_label, download_label, seed_labels=("Seed used",)):
    """The row under a tab's inputs: its button, the seeds used (shown back, so any result can be made again), and
    the download."""
    with gr.Row():
        button = gr.Button(button_label, variant="primary")
        seeds_used = [gr.Number(label=label, precision=0, interactive=False) for label in seed_labels]
        download = gr.DownloadButton(download_label)
    return button, seeds_used, download


def picture(label, elem_id, format="png"):
    """A result shown as one picture, its pixels kept square."""
    return gr.Image(label=label, elem_id=elem_id, type="filepath", format=format, elem_classes="pixelated",
                    interactive=False)


def changes(inputs):
    """An input's change (a textbox's Enter or leaving it) regenerates, as on the first tab."""
    return [trigger for box in inputs for trigger in ((box.submit, box.blur) if isinstance(box, gr.Textbox)
                                                     else (box.change,))]


with gr.Blocks(title="cgan-digits", delete_cache=(3600, 3600)) as demo:
    gr.Markdown("# cgan-digits\nA conditional GAN that writes any handwritten digit on demand. Same seed, same digits. "
                "The noise decides *how* a digit is written, the label *which*: keep the noise and change the label, "
                "and the same hand writes another digit.")
    with gr.Tabs():
        with gr.Tab("Digits"):
            with gr.Row():
                digit = digit_menu("Digit", 7)
                count = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label="Number of samples")
                seed = seed_box("seed")
                scale = neatness()
            button, seed_used, download = actions("Generate", "Download grid (PNG)")
            digits_picture = picture("Generated digits", "digits")
            inputs = [digit, count, seed, scale]
            wire(digits, inputs, [digits_picture, *seed_used, download], "digits",
                 [demo.load, button.click, *changes(inputs)])
            # The same request with each digit as its own PNG, for API callers (gradio_client): a hidden gallery,
            # since the page shows the digits as one picture, a single file for the browser to fetch.
            with gr.Row(visible=False):
                api_trigger = gr.Button()
                api_gallery = gr.Gallery(format="png")
                api_seed, api_grid = gr.Number(precision=0), gr.File()
            wire(generate, inputs, [api_gallery, api_seed, api_grid], "generate", [api_trigger.click])

        with gr.Tab("Write a number"):
            with gr.Row():
                text = gr.Textbox(label="Number (up to 12 digits, spaces allowed)", value="2026", max_lines=1)
                hands = gr.Slider(1, MAX_HANDS, value=4, step=1, label="Hands")
                number_seed = seed_box("number-seed")
                number_scale = neatness()
            number_button, number_seed_used, number_download = actions("Write", "Download (PNG)")
            number_picture = picture("The number, one hand per line", "number")
            inputs = [text, hands, number_seed, number_scale]
            wire(write_number, inputs, [number_picture, *number_seed_used, number_download], "write_number",
                 [number_button.click, *changes(inputs)])

        with gr.Tab("One hand, 0-9"):
            with gr.Row():
                rows = gr.Slider(1, MAX_ROWS, value=6, step=1, label="Hands (rows)")
                rows_seed = seed_box("rows-seed")
                rows_scale = neatness()
            rows_button, rows_seed_used, rows_download = actions("Write 0-9", "Download (PNG)")
            rows_picture = picture("Each row: one noise vector, the digits 0-9", "style-rows")
            inputs = [rows, rows_seed, rows_scale]
            wire(style_rows, inputs, [rows_picture, *rows_seed_used, rows_download], "style_rows",
                 [rows_button.click, *changes(inputs)])

        with gr.Tab("Morph"):
            with gr.Row():
                from_digit = digit_menu("From digit", 3)
                to_digit = digit_menu("To digit", 8)
                from_seed = seed_box("morph-seed")
                to_seed = seed_box("morph-to-seed", "To seed (empty: the same hand)")
            with gr.Row():
                frames = gr.Slider(*FRAMES, value=24, step=1, label="Frames")
                morph_scale = neatness()
            morph_button, morph_seeds_used, morph_download = actions("Morph", "Download (GIF)",
                                                                     ("Seed used", "To seed used"))
            animation = picture("Morph", "morph", format="gif")
            inputs = [from_digit, to_digit, from_seed, to_seed, frames, morph_scale]
            wire(morph, inputs, [animation, *morph_seeds_used, morph_download], "morph",
                 [morph_button.click, *changes(inputs)])

    with gr.Accordion("About this model", open=False):
        gr.Markdown(describe(generator))

# The result files are written inside Gradio's own cache, and marked static, so that Gradio serves them as they are:
# no copy, and none of the checks it makes of a file it has not seen.
result_files = ResultFiles(Path(demo.GRADIO_CACHE) / "cgan-digits")
gr.set_static_paths([result_files.root])

# Several visitors at once (each request is a few milliseconds of CPU); past max_size waiting requests, a new one is
# turned away at once with "the queue is full" rather than left to hang. Both can be set for a larger or smaller host.
demo.queue(default_concurrency_limit=int(os.environ.get("CGAN_CONCURRENCY", 4)),
           max_size=int(os.environ.get("CGAN_MAX_QUEUE", 256)))

if __name__ == "__main__":
    demo.launch(css=CSS)
