"""A small headless-Chromium driver over the DevTools protocol, for checking pages the way a phone shows them.

Uses the system `chromium` (Debian package) and aiohttp's WebSocket client, so nothing is downloaded at run
time. The browser gets its own profile in a temporary folder, listens on an ephemeral loopback port (read
from the `DevToolsActivePort` file it writes) and is killed on exit.

    python -m bot.testing.browser shot page.html page.png --width 390    # a full-page screenshot
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """Path of a Chromium binary on PATH, or None."""
    for name in CANDIDATES:
        if path := shutil.which(name):
            return path
    return None


def missing_reason() -> str | None:
    """Why browser tests must be skipped here, or None. In CI (CI set) they never skip: CI installs chromium."""
    if find_chromium() is None and not os.environ.get("CI"):
        return "chromium is not installed (Debian: apt-get install chromium; CI installs it in .ci/run)"
    return None


def _file_uri(path: Path) -> str:
    return Path(path).resolve().as_uri()


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page. `async with Browser() as page: await page.open(path)`."""

    def __init__(self, executable: str | None = None, *, start_timeout: float = 60) -> None:
        self.executable = executable or find_chromium()
        if not self.executable:
            raise BrowserError("chromium is not installed (Debian: apt-get install chromium)")
        self.start_timeout = start_timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: list[dict[str, Any]] = []

    async def __aenter__(self) -> Browser:
        self._profile = tempfile.TemporaryDirectory(prefix="concord-chromium-", ignore_cleanup_errors=True)
        self._process = await asyncio.create_subprocess_exec(
            self.executable,
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={self._profile.name}",
            "about:blank",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so its helpers go with it
        )
        try:
            url = await self._browser_url()
            self._session = aiohttp.ClientSession()
            self._ws = await self._session.ws_connect(url, max_msg_size=0)
            self._reader = asyncio.create_task(self._read())
            target = await self.send("Target.createTarget", url="about:blank")
            attached = await self.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)
            self._page = attached["sessionId"]
            await self.send("Page.enable", session=True)
            await self.send("Network.enable", session=True)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if getattr(self, "_ws", None) and not self._ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send("Browser.close"), 5)
        if getattr(self, "_reader", None):
            self._reader.cancel()
        if getattr(self, "_ws", None):
            await self._ws.close()
        if getattr(self, "_session", None):
            await self._session.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._process.wait(), 5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        await self._process.wait()
        self._profile.cleanup()

    async def _browser_url(self) -> str:
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while loop.time() < deadline:
            if self._process.returncode is not None:
                raise BrowserError(f"chromium exited with status {self._process.returncode}")
            lines = port_file.read_text().split("\n") if port_file.exists() else []
            if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                return f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"
            await asyncio.sleep(0.05)
        raise BrowserError("chromium did not open its DevTools port in time")

    async def _read(self) -> None:
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._pending:
                self._pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self._events.append(data)

    async def send(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        """One DevTools command; `session=True` sends it to the page rather than the browser."""
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params}
        if session:
            message["sessionId"] = self._page
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message["id"]] = future
        await self._ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, self.start_timeout)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    async def open(self, path: Path, *, width: int = 390, height: int = 844) -> None:
        """Load a local file in a phone-sized viewport and wait for it to finish loading."""
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=True,
        )
        self._events.clear()
        uri = _file_uri(path)
        await self.send("Page.navigate", session=True, url=uri)
        # Wait on the page itself: a load event may still be in flight from the page before.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while True:
            try:
                if await self.evaluate("[location.href, document.readyState].join(' ')") == f"{uri} complete":
                    return
            except BrowserError:
                pass  # the old page's context went away mid-call
            if loop.time() > deadline:
                raise BrowserError(f"{uri} did not finish loading")
            await asyncio.sleep(0.02)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (the page itself needs no script)."""
        reply = await self.send("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression}: {reply['exceptionDetails'].get('text')}")
        return reply["result"].get("value")

    def requested_urls(self) -> list[str]:
        """Every URL the page asked for since it was opened (the page itself included)."""
        return [e["params"]["request"]["url"] for e in self._events if e["method"] == "Network.requestWillBeSent"]

    async def screenshot(self, out: Path) -> None:
        """A PNG of the whole page, as tall as its content."""
        metrics = await self.send("Page.getLayoutMetrics", session=True)
        size = metrics["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = await self.send(
            "Page.captureScreenshot", session=True, format="png", clip=clip, captureBeyondViewport=True
        )
        await asyncio.to_thread(Path(out).write_bytes, base64.b64decode(shot["data"]))


async def _shoot(page: Path, out: Path, width: int) -> None:
    async with Browser() as browser:
        await browser.open(page, width=width)
        await browser.screenshot(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.testing.browser")
    sub = parser.add_subparsers(dest="command", required=True)
    shot = sub.add_parser("shot", help="full-page screenshot of a local HTML file")
    shot.add_argument("page", type=Path)
    shot.add_argument("out", type=Path)
    shot.add_argument("--width", type=int, default=390)
    args = parser.parse_args(argv)
    asyncio.run(_shoot(args.page, args.out, args.width))


if __name__ == "__main__":
    main()
