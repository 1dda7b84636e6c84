"""Install MathJax 3 from the npm registry into a folder, so that the book renders math without a CDN.

Run by ``make install``; needs no Node.js. The tarball's SHA-512 is checked against the registry's pinned value.
Usage: ``python tools/fetch_mathjax.py DEST``.
"""

import base64
import hashlib
import io
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

VERSION = "3.2.2"
URL = f"https://registry.npmjs.org/mathjax/-/mathjax-{VERSION}.tgz"
INTEGRITY = "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
# The combined TeX + MathML → HTML component, the fonts it loads, and the TeX extensions it may autoload.
KEEP = ("es5/tex-mml-chtml.js", "es5/output/chtml/fonts/", "es5/input/tex/extensions/", "LICENSE")


def main(dest: str) -> None:
    dest_path = Path(dest)
    if (dest_path / "VERSION").is_file() and (dest_path / "VERSION").read_text().strip() == VERSION:
        return
    with urllib.request.urlopen(URL, timeout=120) as response:
        blob = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()
    if digest != INTEGRITY:
        raise SystemExit(f"MathJax tarball from {URL} failed its integrity check: got {digest}")
    tmp = Path(tempfile.mkdtemp(prefix=".mathjax-", dir=dest_path.parent if dest_path.parent.exists() else None))
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
            for member in archive.getmembers():
                name = member.name.removeprefix("package/")
                if member.isfile() and name.startswith(KEEP):
                    target = tmp / name.removeprefix("es5/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.extractfile(member).read())
        (tmp / "VERSION").write_text(VERSION + "\n")
        shutil.rmtree(dest_path, ignore_errors=True)
        tmp.replace(dest_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
