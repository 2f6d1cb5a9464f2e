"""Headless Chromium (Debian's ``chromium``): the report's PDF, and for tests a screenshot and
the DOM after rendering.

Each call starts its own browser with a fresh, empty profile directory (deleted afterwards), no
network-side services, and a time limit; a browser that fails or prints nothing raises
``ReportError`` naming the command and its output.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from outcome_pulse.streams.errors import ReportError

CHROMIUM_NAMES = ("chromium", "chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ReportError(
        "headless Chromium is needed for the PDF but no `chromium` is on PATH; install the "
        "Debian package (bash deploy/local/install.sh does), or pass --no-pdf"
    )


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    with tempfile.TemporaryDirectory(prefix="pulse-chromium-") as profile:
        command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
        try:
            return subprocess.run(
                command, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            raise ReportError(
                f"chromium did not finish in {timeout:.0f} s: {' '.join(command)}"
            ) from None


def _check(done: subprocess.CompletedProcess[bytes], out: Path | None, what: str) -> None:
    if done.returncode != 0 or (out is not None and (not out.exists() or out.stat().st_size == 0)):
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise ReportError(
            f"chromium failed to write the {what} (exit {done.returncode}): " + " | ".join(tail)
        )


def print_pdf(html: Path, pdf: Path, timeout: float = 120.0) -> Path:
    """Print ``html`` to ``pdf`` (A4, as the page's print stylesheet says)."""
    pdf.unlink(missing_ok=True)
    done = _run(
        ["--no-pdf-header-footer", f"--print-to-pdf={pdf.resolve()}", html.resolve().as_uri()],
        timeout,
    )
    _check(done, pdf, "PDF")
    return pdf


def screenshot(
    html: Path, png: Path, width: int = 1280, height: int = 2400, timeout: float = 120.0
) -> Path:
    png.unlink(missing_ok=True)
    done = _run(
        [
            f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}",
            html.resolve().as_uri(),
        ],
        timeout,
    )
    _check(done, png, "screenshot")
    return png


def dump_dom(html: Path, timeout: float = 120.0) -> str:
    """The DOM as Chromium serialises it after loading and rendering the page."""
    done = _run(["--dump-dom", html.resolve().as_uri()], timeout)
    _check(done, None, "DOM")
    text = done.stdout.decode("utf-8", "replace")
    if not text.strip():
        raise ReportError("chromium --dump-dom printed nothing")
    return text
