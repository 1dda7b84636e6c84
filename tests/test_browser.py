"""A real browser renders the smoke book: headless Chromium loads pages over HTTP and takes screenshots.

`.ci/run` installs Chromium when it is absent and sets GAINGTEX_REQUIRE_BROWSER=1, so in CI this test cannot be
skipped; elsewhere it is skipped only when no Chromium is installed.
"""

import functools
import http.server
import os
import threading

import matplotlib.image
import pytest

from browser import Chromium, find_chromium

CHROMIUM = find_chromium()
if CHROMIUM is None:
    if os.environ.get("GAINGTEX_REQUIRE_BROWSER") == "1":
        raise RuntimeError("GAINGTEX_REQUIRE_BROWSER=1 but no Chromium is installed")
    pytest.skip("no Chromium installed (Debian: apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def site(smoke_book):
    html, _, _ = smoke_book
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with Chromium(CHROMIUM) as b:
        yield b


def rendered(b) -> dict:
    """What the page shows once MathJax has typeset it."""
    return b.evaluate("""(window.MathJax && MathJax.startup ? MathJax.startup.promise : Promise.resolve()).then(() => ({
        text: document.body.innerText,
        math: document.querySelectorAll('mjx-container').length,
        images: Array.from(document.images).map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0})),
    }))""")


def check_screenshot(path) -> None:
    pixels = matplotlib.image.imread(path)[..., :3]
    assert pixels.shape[0] > 500 and pixels.shape[1] > 800
    assert pixels.std() > 0.05, "the screenshot is blank"


def check_no_raw_math(text: str) -> None:
    for raw in ("$$", "\\(", "\\[", "\\begin{"):
        assert raw not in text, f"unrendered math {raw!r} on the page"


def test_index_renders(site, browser, tmp_path):
    browser.open(f"{site}/index.html", redirects=1)  # index.html forwards to the introduction
    assert browser.evaluate("location.pathname") == "/book/intro.html"
    page = rendered(browser)
    assert "synthetic" in page["text"] and len(page["text"]) > 1000
    check_no_raw_math(page["text"])
    assert all(i["ok"] for i in page["images"])
    browser.screenshot(tmp_path / "index.png")
    check_screenshot(tmp_path / "index.png")


def test_methods_math_is_typeset_offline(site, browser):
    browser.open(f"{site}/book/methods.html")
    page = rendered(browser)
    assert page["math"] > 20
    check_no_raw_math(page["text"])
    scripts = browser.evaluate("Array.from(document.scripts).map(s => s.src).filter(s => s)")
    assert all(s.startswith(site) for s in scripts), f"scripts from elsewhere: {scripts}"


def test_notebook_page_renders_its_figures(site, browser, tmp_path):
    browser.open(f"{site}/notebooks/04_inductive.html")
    page = rendered(browser)
    figures = [i for i in page["images"] if "_images/" in i["src"]]
    assert len(figures) >= 3 and all(i["ok"] for i in figures), page["images"]
    assert "Inductive imputation" in page["text"]
    check_no_raw_math(page["text"])
    browser.evaluate("window.scrollTo(0, document.querySelector('img[src*=\"_images/\"]').offsetTop - 50)")
    browser.screenshot(tmp_path / "notebook.png")
    check_screenshot(tmp_path / "notebook.png")
