"""A real browser renders the smoke book: headless Chromium loads pages over HTTP and takes screenshots.

`.ci/run` installs Chromium when it is absent and sets GAINGTEX_REQUIRE_BROWSER=1, so in CI this test cannot be
skipped; elsewhere it is skipped only when no Chromium is installed.
"""

import contextlib
import functools
import http.server
import os
import re
import threading

import matplotlib.image
import pytest

from browser import Chromium, find_chromium
from test_book import toc_files

CHROMIUM = find_chromium()
if CHROMIUM is None:
    if os.environ.get("GAINGTEX_REQUIRE_BROWSER") == "1":
        raise RuntimeError("GAINGTEX_REQUIRE_BROWSER=1 but no Chromium is installed")
    pytest.skip("no Chromium installed (Debian: apt-get install chromium)", allow_module_level=True)


@contextlib.contextmanager
def serve(html):
    """The built book over HTTP on a free local port."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def site(smoke_book):
    with serve(smoke_book[0]) as url:
        yield url


@pytest.fixture(scope="module")
def real_site(real_smoke_book):
    with serve(real_smoke_book[0]) as url:
        yield url


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
    # the smoke cohort pools R² over tissues, so Fig. 2 is a sentence there; the two figures of every method remain
    assert len(figures) >= 2 and all(i["ok"] for i in figures), page["images"]
    assert "Inductive imputation" in page["text"]
    check_no_raw_math(page["text"])
    browser.evaluate("window.scrollTo(0, document.querySelector('img[src*=\"_images/\"]').offsetTop - 50)")
    browser.screenshot(tmp_path / "notebook.png")
    check_screenshot(tmp_path / "notebook.png")


# ------------------------------------------------------------------------------ what no reader should see
# Plumbing a page must never show, on any cohort: reprs and stray return values of notebook cells.
PLUMBING = ("PosixPath", "AnnData object with", "<Figure size", "<pandas.io.formats.style", "dtype: ",
            "object at 0x", "{glue")
# Words true of the embedded cohort only.
EMBEDDED_ONLY = ("known optimum", "by construction")


def page_text(b, url) -> str:
    """A page's visible text with every dropdown (exercise solutions) opened."""
    b.open(url)
    return b.evaluate("""(window.MathJax && MathJax.startup ? MathJax.startup.promise : Promise.resolve()).then(() => {
        document.querySelectorAll('details').forEach(d => d.open = true);
        return document.body.innerText; })""")


def check_pages(b, url, machine_paths, forbidden=()) -> dict:
    """Every page of the table of contents: no plumbing, no path of the build machine, no ``nan``, none of the
    ``forbidden`` phrases. Returns each page's text."""
    texts = {}
    for page in toc_files():
        text = texts[page] = page_text(b, f"{url}/{page}.html")
        assert len(text) > 300, f"{page} is nearly empty"
        for marker in (*PLUMBING, *forbidden):
            assert marker not in text, f"{page} shows {marker!r}: …{text[max(0, text.find(marker) - 150):text.find(marker) + 80]}…"
        for path in machine_paths:
            assert str(path) not in text, f"{page} shows the build machine's path {path}"
        found = re.search(r"\bnan\b", text)
        assert not found, f"{page} shows nan: …{text[max(0, found.start() - 150):found.end() + 50]}…"
    return texts


def test_embedded_book_shows_no_plumbing(site, browser, smoke_book):
    html, build, run = smoke_book
    texts = check_pages(browser, site, ["/tmp/", "/work/", run, build])
    assert "known optimum" in texts["notebooks/01_data"]  # the title, and the footer of every page
    assert "Data: a synthetic GTEx-shaped cohort" in texts["book/intro"]


def test_real_cohort_book_reads_as_real(real_site, browser, real_smoke_book, tmp_path):
    html, build, run, source = real_smoke_book
    texts = check_pages(browser, real_site, ["/tmp/", "/work/", run, build, source.parent], EMBEDDED_ONLY)
    assert f"your cohort ({source.name})" in texts["book/intro"]  # the footer names the user's file, not a path
    assert "no known generating model" in texts["book/intro"]
    assert "synthetic" not in texts["notebooks/01_data"] and "40 genes" in texts["notebooks/01_data"]
    comparison = texts["notebooks/08_comparison"]
    assert "no smaller panel to compare" in comparison and "0.611" not in comparison
    assert comparison.count("no more than a 59-gene panel") == 1  # said once, in the panel section
    assert "not available" in texts["notebooks/05_tcga"].lower() or "did not run" in texts["notebooks/05_tcga"]
    browser.open(f"{real_site}/notebooks/08_comparison.html")
    browser.screenshot(tmp_path / "comparison.png")
    check_screenshot(tmp_path / "comparison.png")
