"""cgan-digits in the browser: pick a digit, get as many handwritten versions as you like.

    python app.py        # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override)

On a Hugging Face Space, set CGAN_MODEL to a Hub repo id; without the Hub the bundled checkpoints/ model is served.
"""

import logging
from pathlib import Path

import gradio as gr

from cgan.serving import MAX_SAMPLES, ResultFiles, describe, load_for_app, serve

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

# Loaded once at start-up; requests share it read-only and each draws its noise from its own torch.Generator.
generator = load_for_app()

CSS = "#digits img, #digits button img { image-rendering: pixelated; }"  # keep upscaled pixels square


def generate(digit, n, seed):
    """The generate endpoint: (digit 0-9, n 1-64, seed or empty) -> (gallery, seed used, grid PNG)."""
    try:
        result = serve(generator, result_files, digit, n, seed)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    return result.image_paths, result.seed, result.grid_path


with gr.Blocks(title="cgan-digits", delete_cache=(3600, 3600)) as demo:
    gr.Markdown("# cgan-digits\nA conditional GAN that writes any handwritten digit on demand. "
                "Same seed, same digits.")
    with gr.Row():
        digit = gr.Dropdown(choices=list(range(10)), value=7, label="Digit", allow_custom_value=True)
        count = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label="Number of samples")
        seed = gr.Textbox(label="Seed", placeholder="empty: a random seed", max_lines=1)
    with gr.Row():
        button = gr.Button("Generate", variant="primary")
        seed_used = gr.Number(label="Seed used", precision=0, interactive=False)
        download = gr.DownloadButton("Download grid (PNG)")
    gallery = gr.Gallery(label="Generated digits", elem_id="digits", columns=8, format="png", object_fit="contain",
                         height="auto", preview=False)
    with gr.Accordion("About this model", open=False):
        gr.Markdown(describe(generator))

    # preprocess=False: the handler gets the raw values of any caller and validates them itself, with clear errors.
    gr.on(
        triggers=[demo.load, button.click, digit.change, count.change, seed.submit, seed.blur],
        fn=generate,
        inputs=[digit, count, seed],
        outputs=[gallery, seed_used, download],
        api_name="generate",
        preprocess=False,
        trigger_mode="always_last",
    )

# The PNGs are written inside Gradio's own cache, so that it serves them without copying.
result_files = ResultFiles(Path(demo.GRADIO_CACHE) / "cgan-digits")

# Several visitors at once; each request is a few milliseconds of CPU.
demo.queue(default_concurrency_limit=4, max_size=256)

if __name__ == "__main__":
    demo.launch(css=CSS)
