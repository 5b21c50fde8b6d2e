"""Headless Chromium driven through Debian's chromedriver, with the standard library only.

chromedriver speaks the W3C WebDriver protocol (JSON over HTTP); this is the handful of
commands the browser tests need: open a page, find elements, press keys on them (real key
events, which move a range input as a reader's keyboard does) and read what the page shows.
"""

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
#: WebDriver's codes of the keys the tests press.
ARROW_LEFT, ARROW_RIGHT, HOME = "\ue012", "\ue014", "\ue011"


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    """One headless Chromium session, offline, with a window ``width`` pixels wide."""

    def __init__(self, width=1280, height=900):
        port = _free_port()
        self._driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self._url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                self._driver.kill()
                raise RuntimeError("chromedriver did not start within 30 s")
            time.sleep(0.2)
        options = {"binary": CHROMIUM, "args": ["--headless", "--no-sandbox", "--disable-gpu",
                                                 "--disable-background-networking", "--disable-component-update",
                                                 "--no-first-run", "--hide-scrollbars",
                                                 f"--window-size={width},{height}"]}
        session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}})
        self._session = f"/session/{session['sessionId']}"
        # The window-size flag has a floor (about 500 px); the WebDriver call sets any width.
        self._call("POST", f"{self._session}/window/rect", {"width": width, "height": height})

    def _call(self, method, path, body=None):
        request = urllib.request.Request(self._url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"WebDriver {method} {path}: {error.read().decode()[:500]}") from None

    def open(self, url):
        self._call("POST", f"{self._session}/url", {"url": url})

    def find(self, css):
        """The first element matching the CSS selector (a WebDriver element reference)."""
        return self._call("POST", f"{self._session}/element", {"using": "css selector", "value": css})

    def press(self, element, keys):
        self._call("POST", f"{self._session}/element/{_id(element)}/value", {"text": keys})

    def attribute(self, element, name):
        return self._call("GET", f"{self._session}/element/{_id(element)}/attribute/{name}")

    def property(self, element, name):
        return self._call("GET", f"{self._session}/element/{_id(element)}/property/{name}")

    def text(self, element):
        return self._call("GET", f"{self._session}/element/{_id(element)}/text")

    def run(self, script, *args):
        """Run JavaScript in the page (a function body) and return its result."""
        return self._call("POST", f"{self._session}/execute/sync", {"script": script, "args": list(args)})

    def screenshot(self, path):
        """Save what the window shows as a PNG file at ``path``."""
        with open(path, "wb") as file:
            file.write(base64.b64decode(self._call("GET", f"{self._session}/screenshot")))

    def close(self):
        try:
            self._call("DELETE", self._session)
        finally:
            self._driver.terminate()
            self._driver.wait(timeout=30)


def _id(element):
    return next(iter(element.values()))
