"""Where the app's results are written as files, and the short path by which they reach the browser.

A request of the Digits tab makes 17 files (a PNG per digit for the gallery, and the grid to download), and a browser
fetches each one with its own HTTP request. Through Gradio's file route each fetch cost about 2.5 ms of server CPU on
a 2-core machine (profiled under `python -m benchmarks.load`: FastAPI's dependencies, a path check that resolves five
paths with a system call per folder, and three thread hops to stat, open and read a 300-byte file), more than
drawing the digits. `ResultFileServer` answers those fetches from memory before they reach Gradio: 0.2 ms each.
"""

import io
import mimetypes
import tempfile
import threading
import uuid
from collections import deque
from pathlib import Path

from PIL import Image

from cgan.plots import grid_image, save_gif

SCALE = 4  # 28x28 digits are shown at 112x112, nearest-neighbour, so each pixel stays a sharp square
FILE_ROUTE = "/gradio_api/file="  # where Gradio's pages and clients fetch the files a result names


def upscale(image, scale=SCALE):
    """Nearest-neighbour upscaling of a uint8 image, as a PIL image."""
    return Image.fromarray(image.repeat(scale, axis=0).repeat(scale, axis=1))


def png(image):
    """A PIL image as the bytes of a PNG file, with fast zlib: the files are tiny either way."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class ResultFiles:
    """Where results are written as files, side by side in one folder under `root`, keeping those of the newest
    `keep` requests, and their bytes in memory for ResultFileServer.

    The app puts `root` inside Gradio's cache, so Gradio serves the files as they are instead of encoding and
    copying each image again. The digits of the gallery are written at their own 28x28 pixels: the browser scales
    them up with square pixels (the app's CSS), so they look as crisp as an upscaled file, at a tenth of its bytes.
    """

    def __init__(self, root=None, keep=256):
        self.root = (Path(root) if root else Path(tempfile.mkdtemp(prefix="cgan-results-"))).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.recent = deque()
        self.keep = keep
        self.contents = {}  # file name -> its bytes, for every file of the newest `keep` requests
        self.lock = threading.Lock()

    def write(self, files):
        """Write one request's files, [(name, bytes)], named uniquely; returns their paths. The files of the oldest
        request beyond `keep` go."""
        prefix = uuid.uuid4().hex[:12]
        paths = [self.root / f"{prefix}_{name}" for name, _ in files]
        for path, (_, data) in zip(paths, files, strict=True):
            path.write_bytes(data)  # on disk too: Gradio checks that a result's file exists before it names it
        with self.lock:
            self.contents.update((path.name, data) for path, (_, data) in zip(paths, files, strict=True))
            self.recent.append(paths)
            stale = self.recent.popleft() if len(self.recent) > self.keep else []
            for path in stale:
                del self.contents[path.name]
        for path in stale:
            path.unlink(missing_ok=True)
        return [str(path) for path in paths]

    def save(self, images, name):
        """Write each image (28x28) and the grid (2x upscaled, for download); returns (image paths, grid path)."""
        pictures = [Image.fromarray(image) for image in images] + [upscale(grid_image(images, nrow=8), scale=2)]
        names = [f"{name}_{i + 1:02d}.png" for i in range(len(images))] + [f"{name}.png"]
        *paths, grid = self.write([(name, png(picture)) for name, picture in zip(names, pictures, strict=True)])
        return paths, grid

    def save_picture(self, image, name, scale=SCALE):
        """One uint8 image, upscaled `scale` x, as a PNG; returns its path."""
        return self.write([(f"{name}.png", png(upscale(image, scale)))])[0]

    def save_animation(self, frames, name):
        """uint8 (frames, 28, 28) as a looping animated GIF, SCALE x upscaled; returns its path."""
        buffer = io.BytesIO()
        save_gif(frames, buffer, scale=SCALE)
        return self.write([(f"{name}.gif", buffer.getvalue())])[0]


class ResultFileServer:
    """ASGI middleware: a GET or HEAD of one of `files`' files, at the URL Gradio gives it, is answered at once from
    their bytes in memory; every other request (a range request, a file that is not one of the newest results) goes
    on to `app`, Gradio, which serves or refuses it as before.

    Safe to answer without Gradio's path checks: only a name that `files` holds is served, looked up as a whole (no
    folders, no ".."), and those files are the ones Gradio would serve anyway (the folder is one of its static
    paths). Not its login check: an app launched with `auth=` must not put this in front of it."""

    def __init__(self, app, files):
        self.app = app
        self.files = files
        self.prefix = f"{FILE_ROUTE}{files.root}/"  # as ASGI gives a path: percent-decoded

    async def __call__(self, scope, receive, send):
        name = self.requested_name(scope) if scope["type"] == "http" else None
        body = self.files.contents.get(name)  # a name of ours, looked up whole (no "..", no folders), or None
        if body is None:
            return await self.app(scope, receive, send)
        headers = [(b"content-type", (mimetypes.guess_type(name)[0] or "application/octet-stream").encode()),
                   (b"content-length", str(len(body)).encode()),
                   (b"content-disposition", f'inline; filename="{name}"'.encode()),
                   (b"cache-control", b"private, max-age=3600")]  # a result file never changes: its name is new
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    def requested_name(self, scope):
        """The name of the result file `scope` asks for, or None where the request is not one for us."""
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root + "/"):  # an app served under a prefix (behind a proxy)
            path = path[len(root):]
        if scope["method"] not in ("GET", "HEAD") or not path.startswith(self.prefix):
            return None
        if any(key == b"range" for key, _ in scope["headers"]):
            return None
        return path[len(self.prefix):]
