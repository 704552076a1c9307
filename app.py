"""cgan-digits in the browser: pick a digit, get as many handwritten versions as you like; write a number in one
hand, see one hand write every digit, morph one digit or hand into another, or draw a digit and have any number
written in your own hand.

    python app.py        # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override)

On a Hugging Face Space, set CGAN_MODEL to a Hub repo id; without the Hub the bundled checkpoints/ model is served.
"""

import logging
import mimetypes
import os
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from gradio.components.gallery import GalleryData, GalleryImage
from gradio.components.image_editor import EditorData
from gradio.data_classes import ImageData, _StaticFiles
from starlette.middleware import Middleware

from cgan.generation import NOISE_SCALES, STYLE_RANGE
from cgan.hands import Refusal, read_drawing
from cgan.result_files import ResultFiles, ResultFileServer
from cgan.serving import (CANVAS, FRAMES, MAX_HANDS, MAX_ROWS, MAX_SAMPLES, PEN, VisitorsLeaving, describe, is_empty,
                          load_for_app, serve, serve_example_hand, serve_grid, serve_morph, serve_my_hand,
                          serve_number, serve_style_rows)

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

# Loaded once at start-up; requests share it read-only and each draws its noise from its own torch.Generator.
generator = load_for_app()
# One thread per request: four requests at once with torch's default (a thread per core each) would fight over the
# cores, and one request's few milliseconds of network gain nothing from more.
torch.set_num_threads(1)

# Keep upscaled pixels square wherever a digit is shown; a result picture below its label and buttons, which Gradio
# lays over the picture's top edge (on a phone the picture fills the frame, so they covered the digits); on a phone,
# the gallery four digits to a row.
CSS = """
.pixelated img { image-rendering: pixelated; }
.result-picture .image-frame { padding-top: 40px; box-sizing: border-box; }
@media (max-width: 640px) { #digits .grid-container { grid-template-columns: repeat(4, minmax(0, 1fr)) !important; } }
"""
INPUT_WIDTH = 200  # px: four inputs side by side on a laptop, one under another on a phone


class Blocks(gr.Blocks):
    """The app's Blocks: an API call that leaves out trailing values (the slant and weight, the noise scale, a seed)
    gets them empty, so the handler draws the hand as it is, at the model's own noise scale or with a fresh seed, or
    names a value that may not be left out. Plain gr.Blocks refuses such a call with an error that it does not show
    the caller."""

    def validate_inputs(self, block_fn, inputs):
        inputs.extend([None] * (len(block_fn.inputs) - len(inputs)))


def picture_kind(path):
    """The MIME type of a local raster picture's path (what `generate` returns); None for anything else: an SVG, a
    video, a URL, not a path."""
    kind = mimetypes.guess_type(path)[0] if isinstance(path, str) and "://" not in path else None
    return kind if kind and kind.startswith("image/") and kind != "image/svg+xml" else None


def gallery_of_files(gallery):
    """`gallery`'s postprocess, less the thread pool Gradio's starts for every result only to read each file name's
    suffix (profiled under `python -m benchmarks.load`: a tenth of the server's CPU). Set on the one component rather
    than by subclassing, for which Gradio writes a stub file beside this one."""
    def postprocess(value):
        kinds = [picture_kind(path) for path in value] if isinstance(value, list) else [None]
        if None in kinds:
            return gr.Gallery.postprocess(gallery, value)  # SVGs, videos, URLs: as Gradio does them
        return GalleryData(root=[GalleryImage(image=ImageData(path=path, orig_name=Path(path).name, mime_type=kind))
                                 for path, kind in zip(value, kinds, strict=True)])
    gallery.postprocess = postprocess
    return gallery


class RefusedDrawing(gr.Error):
    """The error message for a drawing not taken for a digit (a cgan.hands.Refusal)."""


def handle(serve_fn, *args):
    """Run a serving function; a bad input becomes an error message for the visitor or API caller."""
    try:
        return serve_fn(generator, result_files, *args)
    except Refusal as refusal:
        raise RefusedDrawing(str(refusal), print_exception=False) from None
    except ValueError as error:
        raise gr.Error(str(error), print_exception=False) from None  # a visitor's mistake, not a fault of ours


# Every endpoint ends with the hand's slant and stroke weight, -2 to 2 (empty or left out: 0, the hand as it is).
def generate(digit, n, seed, noise_scale=None, slant=None, weight=None):
    """What the Digits tab shows, and its endpoint: (digit 0-9, n 1-64, seed or empty, noise scale or empty, slant,
    weight) -> (the digits, one PNG each, for the gallery; seed used; the grid PNG to download)."""
    result = handle(serve, digit, n, seed, noise_scale, slant, weight)
    return result.image_paths, result.seed, result.grid_path


def digits(digit, n, seed, noise_scale=None, slant=None, weight=None):
    """The digits endpoint, for API callers: (digit, n, seed, noise scale, slant, weight) -> (the digits as one grid
    picture, seed used, the same to download)."""
    picture = handle(serve_grid, digit, n, seed, noise_scale, slant, weight)
    return picture.path, picture.seeds[0], picture.path


def write_number(text, n, seed, noise_scale=None, slant=None, weight=None):
    """(number text, hands 1-8, seed or empty, noise scale, slant, weight) -> (picture, seed used, the picture to
    download)."""
    picture = handle(serve_number, text, n, seed, noise_scale, slant, weight)
    return picture.path, picture.seeds[0], picture.path


def style_rows(n, seed, noise_scale=None, slant=None, weight=None):
    """(rows 1-16, seed or empty, noise scale, slant, weight) -> (picture, seed used, the picture to download)."""
    picture = handle(serve_style_rows, n, seed, noise_scale, slant, weight)
    return picture.path, picture.seeds[0], picture.path


def morph(digit, to_digit, seed, to_seed, frames, noise_scale=None, slant=None, weight=None):
    """(digit, to digit, seed or empty, to seed or empty, frames 8-48, noise scale, slant, weight) -> (GIF, seed used,
    to seed used, the GIF to download)."""
    picture = handle(serve_morph, digit, to_digit, seed, to_seed, frames, noise_scale, slant, weight)
    return picture.path, *picture.seeds, picture.path


def keeping_the_hands(fn, seed_inputs):
    """`fn` as a style slider calls it, with the seeds shown as used after its own inputs: a seed box left empty (at
    the positions `seed_inputs` of its inputs) takes the seed shown, so that a slider restyles the hands on screen
    rather than drawing new ones."""
    def restyled(*values):
        inputs, shown = list(values[:-len(seed_inputs)]), values[-len(seed_inputs):]
        for position, used in zip(seed_inputs, shown, strict=True):
            if is_empty(inputs[position]):
                inputs[position] = used
        return fn(*inputs)
    return restyled


def drawing_of(payload):
    """The drawing a request carries, as an array: the sketchpad's (its layers flattened on white), an API caller's
    picture file, or an array as it is; None for no drawing, or a canvas of one colour (not drawn on yet, cleared,
    undone to nothing). ValueError for anything else."""
    if payload is None or isinstance(payload, np.ndarray):
        return payload
    if isinstance(payload, dict) and {"background", "layers", "composite"} & payload.keys():
        try:
            value = sketch.preprocess(EditorData.model_validate(payload))
        except Exception:  # not the sketchpad's payload after all
            raise ValueError("the drawing could not be read: draw a digit on the canvas") from None
        canvas = None if value is None else value["composite"]
        return None if canvas is None or canvas.min() == canvas.max() else canvas
    return read_drawing(payload.get("path") if isinstance(payload, dict) else payload)


def shown(written):
    """A Written as the My hand tab shows it: (the number, what the model read the drawing as: the drawing and its
    digit in that hand, the digit read, the number to download)."""
    return written.path, written.understood_path, written.digit, written.path


def my_hand(image, text, noise_scale=None, slant=None, weight=None):
    """(a picture of one digit, a number, noise scale, slant, weight) -> the number in the drawing's hand (see
    `shown`)."""
    return shown(handle(lambda generator, files: serve_my_hand(generator, files, drawing_of(image), text,
                                                               noise_scale, slant, weight)))


def my_hand_sketch(canvas, text, noise_scale=None, slant=None, weight=None):
    """As my_hand for the sketchpad's drawing, and an empty line under the canvas (see my_hand_while_drawing); an empty
    canvas shows the example drawing's hand again, at no search and with no error: clearing or undoing is no
    mistake."""
    drawing = handle(lambda generator, files: drawing_of(canvas))
    if drawing is None:
        return *my_hand_example(text, noise_scale, slant, weight), ""
    return *my_hand(drawing, text, noise_scale, slant, weight), ""


def my_hand_while_drawing(canvas, text, noise_scale=None, slant=None, weight=None):
    """my_hand_sketch as each stroke ends. A drawing not taken for a digit here is most often one still being drawn:
    the first stroke of a 4, or the canvas as the sketchpad catches it in the middle of a stroke (it sends a copy
    taken a moment after an earlier change). So the hand shown stays, and the line under the canvas says what the
    drawing lacks, with no error; the button still answers a refused drawing with one."""
    try:
        return my_hand_sketch(canvas, text, noise_scale, slant, weight)
    except RefusedDrawing as refusal:
        return *(gr.update(),) * 4, f"Not read as a digit yet: {refusal.message}"


def my_hand_example(text, noise_scale=None, slant=None, weight=None):
    """What the My hand tab shows before anything is drawn: the number in the hand of an example drawing."""
    return shown(handle(serve_example_hand, text, noise_scale, slant, weight))


# What the sketchpad holds when it opens and once it is cleared: a white page and an empty layer. Gradio's editor opens
# with no tool chosen on an empty value ("select the draw tool to start", and a mouse drawing at once draws nothing);
# on a page it chooses the brush. Loading the layer fires the one change event the editor always drops (its first),
# so the first stroke is heard; clearing empties the value, so the page is given back.
BLANK_CANVAS = {"background": np.full((CANVAS, CANVAS, 3), 255, np.uint8),
                "layers": [np.zeros((CANVAS, CANVAS, 4), np.uint8)], "composite": None}


def neatness():
    return gr.Slider(*NOISE_SCALES, value=generator.noise_scale, step=0.01, min_width=INPUT_WIDTH,
                     label="Noise scale (lower: neater, more typical; higher: rarer styles)")


def style_sliders():
    """The hand's slant and stroke weight, the same two sliders in every tab (0: the hand as it is). A model without
    style directions shows them at 0, fixed, saying why."""
    steerable = generator.style is not None
    info = None if steerable else "this model has no style directions: python -m cgan.style FOLDER makes them"
    with gr.Row():
        return [gr.Slider(*STYLE_RANGE, value=0, step=0.25, label=label, info=info, interactive=steerable,
                          min_width=INPUT_WIDTH)
                for label in ("Slant (-2: leaning left, 2: leaning right)", "Stroke weight (-2: finer, 2: bolder)")]


def seed_box(elem_id, label="Seed"):
    return gr.Textbox(label=label, placeholder="empty: a random seed", max_lines=1, elem_id=elem_id,
                      min_width=INPUT_WIDTH)


def digit_menu(label, value):
    return gr.Dropdown(choices=list(range(10)), value=value, label=label, allow_custom_value=True,
                       min_width=INPUT_WIDTH)


def slider(low, high, value, label):
    return gr.Slider(low, high, value=value, step=1, label=label, min_width=INPUT_WIDTH)


def wire(fn, inputs, outputs, name, triggers, api_visibility="public", concurrency_id=None):
    # preprocess=False: the handler gets the raw values of any caller and validates them itself, with clear errors.
    # show_progress="hidden": a rejected input shows its message in a toast and leaves the last good result on
    # screen, where the progress overlay would cover every output with an "Error" badge (results take milliseconds,
    # so there is no progress to show).
    gr.on(triggers=triggers, fn=fn, inputs=inputs, outputs=outputs, api_name=name, preprocess=False,
          trigger_mode="always_last", show_progress="hidden", api_visibility=api_visibility,
          concurrency_id=concurrency_id)


def restyle(fn, inputs, sliders, seeds_used, seed_inputs, outputs, name):
    """As a tab's style `sliders` move, its hands on screen are drawn again, restyled (keeping_the_hands)."""
    wire(keeping_the_hands(fn, seed_inputs), inputs + sliders + seeds_used, outputs, f"{name}_restyled",
         [slider.change for slider in sliders], api_visibility="private")


def actions(button_label, download_label, seed_labels=("Seed used",)):
    """The row under a tab's inputs: its button, the seeds used (shown back, so any result can be made again; none for
    a hand), and the download."""
    with gr.Row():
        button = gr.Button(button_label, variant="primary", min_width=INPUT_WIDTH)
        seeds_used = [gr.Number(label=label, precision=0, interactive=False, min_width=INPUT_WIDTH)
                      for label in seed_labels]
        download = gr.DownloadButton(download_label, min_width=INPUT_WIDTH)
    return button, seeds_used, download


def picture(label, elem_id, format="png"):
    """A result shown as one picture, its pixels kept square."""
    return gr.Image(label=label, elem_id=elem_id, type="filepath", format=format,
                    elem_classes=["pixelated", "result-picture"],
                    interactive=False)


def changes(inputs):
    """An input's change (a textbox's Enter or leaving it) regenerates, as on the first tab."""
    return [trigger for box in inputs for trigger in ((box.submit, box.blur) if isinstance(box, gr.Textbox)
                                                     else (box.change,))]


with Blocks(title="cgan-digits", delete_cache=(3600, 3600)) as demo:
    gr.Markdown("# cgan-digits\nA conditional GAN that writes any handwritten digit on demand. Same seed, same digits. "
                "The noise decides *how* a digit is written, the label *which*: keep the noise and change the label, "
                "and the same hand writes another digit.")
    # Every tab draws its defaults as the page opens: each tab shows a result, and a seed it used, from the start.
    with gr.Tabs():
        with gr.Tab("Digits"):
            with gr.Row():
                digit = digit_menu("Digit", 7)
                count = slider(1, MAX_SAMPLES, 16, "Number of samples")
                seed = seed_box("seed")
                scale = neatness()
            styles = style_sliders()
            button, seed_used, download = actions("Generate", "Download all (PNG)")
            # A tile per digit, its pixels kept square; a click opens it large, with its own download.
            gallery = gallery_of_files(gr.Gallery(
                label="Generated digits", elem_id="digits", elem_classes="pixelated", columns=8, height="auto",
                object_fit="contain", allow_preview=True, buttons=["download", "fullscreen"], interactive=False))
            inputs = [digit, count, seed, scale]
            wire(generate, inputs + styles, [gallery, *seed_used, download], "generate",
                 [demo.load, button.click, *changes(inputs)])
            restyle(generate, inputs, styles, seed_used, [2], [gallery, *seed_used, download], "generate")
            # The same request as one grid picture, for API callers (gradio_client) that want a single file.
            with gr.Row(visible=False):
                api_trigger = gr.Button()
                api_picture = gr.Image(type="filepath", format="png")
                api_seed, api_grid = gr.Number(precision=0), gr.File()
            wire(digits, inputs + styles, [api_picture, api_seed, api_grid], "digits", [api_trigger.click])

        with gr.Tab("Write a number"):
            with gr.Row():
                text = gr.Textbox(label="Number (up to 12 digits, spaces allowed)", value="2026", max_lines=1,
                                  min_width=INPUT_WIDTH)
                hands = slider(1, MAX_HANDS, 4, "Hands")
                number_seed = seed_box("number-seed")
                number_scale = neatness()
            number_styles = style_sliders()
            number_button, number_seed_used, number_download = actions("Write", "Download (PNG)")
            number_picture = picture("The number, one hand per line", "number")
            inputs, outputs = [text, hands, number_seed, number_scale], [number_picture, *number_seed_used,
                                                                         number_download]
            wire(write_number, inputs + number_styles, outputs, "write_number",
                 [demo.load, number_button.click, *changes(inputs)])
            restyle(write_number, inputs, number_styles, number_seed_used, [2], outputs, "write_number")

        with gr.Tab("One hand, 0-9"):
            with gr.Row():
                rows = slider(1, MAX_ROWS, 6, "Hands (rows)")
                rows_seed = seed_box("rows-seed")
                rows_scale = neatness()
            rows_styles = style_sliders()
            rows_button, rows_seed_used, rows_download = actions("Write 0-9", "Download (PNG)")
            rows_picture = picture("Each row: one noise vector, the digits 0-9", "style-rows")
            inputs, outputs = [rows, rows_seed, rows_scale], [rows_picture, *rows_seed_used, rows_download]
            wire(style_rows, inputs + rows_styles, outputs, "style_rows",
                 [demo.load, rows_button.click, *changes(inputs)])
            restyle(style_rows, inputs, rows_styles, rows_seed_used, [1], outputs, "style_rows")

        with gr.Tab("Morph"):
            with gr.Row():
                from_digit = digit_menu("From digit", 3)
                to_digit = digit_menu("To digit", 8)
                from_seed = seed_box("morph-seed")
                to_seed = seed_box("morph-to-seed", "To seed (empty: the same hand)")
            with gr.Row():
                frames = slider(*FRAMES, 24, "Frames")
                morph_scale = neatness()
            morph_styles = style_sliders()
            morph_button, morph_seeds_used, morph_download = actions("Morph", "Download (GIF)",
                                                                     ("Seed used", "To seed used"))
            animation = picture("Morph", "morph", format="gif")
            inputs, outputs = ([from_digit, to_digit, from_seed, to_seed, frames, morph_scale],
                               [animation, *morph_seeds_used, morph_download])
            wire(morph, inputs + morph_styles, outputs, "morph", [demo.load, morph_button.click, *changes(inputs)])
            restyle(morph, inputs, morph_styles, morph_seeds_used, [2, 3], outputs, "morph")

        with gr.Tab("My hand"):
            gr.Markdown("Draw one digit, large, and the model writes any number the way you wrote it: it finds the "
                        "noise vector whose drawing of your digit comes closest to yours. Until you draw, an example "
                        "drawing's hand is shown.")
            with gr.Row():
                with gr.Column(min_width=CANVAS):
                    sketch = gr.Sketchpad(value=BLANK_CANVAS, label="Draw one digit", elem_id="sketch",
                                          canvas_size=(CANVAS, CANVAS), layers=False, transforms=(), min_width=CANVAS,
                                          brush=gr.Brush(colors=["#000000"], default_size=PEN, color_mode="fixed"))
                    sketch_status = gr.Markdown(elem_id="sketch-status")  # what a drawing lacks, as it is drawn
                with gr.Column(min_width=INPUT_WIDTH):
                    hand_text = gr.Textbox(label="Number to write (up to 12 digits, spaces allowed)", value="2026",
                                           max_lines=1)
                    hand_scale = neatness()
                    hand_styles = style_sliders()
                    understood = picture("What it read: your drawing, and that digit in your hand", "understood")
                    digit_read = gr.Number(label="Digit read", precision=0, interactive=False)
            hand_button, _, hand_download = actions("Write in my hand", "Download (PNG)", seed_labels=())
            hand_picture = picture("The number in your hand", "my-hand")
            outputs = [hand_picture, understood, digit_read, hand_download]
            sketch.clear(lambda: BLANK_CANVAS, None, sketch, queue=False, show_progress="hidden",
                         api_visibility="private")
            # One queue for the drawing's two listeners, so that their answers come in the order the strokes did.
            sketch_inputs, sketch_outputs = [sketch, hand_text, hand_scale, *hand_styles], [*outputs, sketch_status]
            wire(my_hand_while_drawing, sketch_inputs, sketch_outputs, "my_hand_while_drawing", [sketch.change],
                 api_visibility="private", concurrency_id="my_hand_sketch")
            wire(my_hand_sketch, sketch_inputs, sketch_outputs, "my_hand_sketch",
                 [hand_button.click, hand_text.submit, hand_scale.change, *(slider.change for slider in hand_styles)],
                 api_visibility="undocumented", concurrency_id="my_hand_sketch")
            wire(my_hand_example, [hand_text, hand_scale, *hand_styles], outputs, "my_hand_example", [demo.load],
                 api_visibility="undocumented")
            # For API callers: a picture file of the drawing (gradio_client.handle_file), the number, the noise scale,
            # the slant and weight.
            with gr.Row(visible=False):
                api_hand_trigger = gr.Button()
                api_drawing = gr.Image(type="filepath")
            wire(my_hand, [api_drawing, hand_text, hand_scale, *hand_styles], outputs, "my_hand",
                 [api_hand_trigger.click])

    with gr.Accordion("About this model", open=False):
        gr.Markdown(describe(generator))

# The result files are written inside Gradio's own cache, and marked static, so that Gradio takes them as they are
# (no copy, none of the checks it makes of a file it has not seen); the browser's fetches of them are answered by
# ResultFileServer, ahead of Gradio's file route (cgan/result_files.py says why).
# Gradio asks, twice for each file a result names, whether it lies in each static path in turn, resolving both paths
# with a system call per folder: first in the list, the results folder answers at the first question (profiled under
# `python -m benchmarks.load`: a third of the server's CPU while it stood behind the two icons Gradio lists itself).
result_files = ResultFiles(Path(demo.GRADIO_CACHE) / "cgan-digits")
_StaticFiles.all_paths.insert(0, result_files.root)  # what gr.set_static_paths does, at the front

# Gradio rebuilds its queue's monitoring summary (a pandas table of up to 10,000 past events) after every event unless
# told otherwise: profiled under `python -m benchmarks.load`, a quarter of the server's CPU and growing with the events
# served, for a dashboard this app does not open. Read when the queue is made; the environment can still set it.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
# Several visitors at once (each request is a few milliseconds of CPU); past max_size waiting requests, a new one is
# turned away at once with "the queue is full" rather than left to hang. Both can be set for a larger or smaller host.
demo.queue(default_concurrency_limit=int(os.environ.get("CGAN_CONCURRENCY", 4)),
           max_size=int(os.environ.get("CGAN_MAX_QUEUE", 256)))

if __name__ == "__main__":
    demo.launch(css=CSS, app_kwargs={"middleware": [Middleware(VisitorsLeaving),
                                                   Middleware(ResultFileServer, files=result_files)]})
