"""A loopback HTTP server over a folder: a mirror of the offline data's sources for the tests.

It listens on 127.0.0.1 only, on a free port, answers ``GET`` with the folder's files (``Range``
requests included, as GitHub's raw server does), times idle connections out, and stops with the
test. Faults are injected per file: a body cut after some bytes (once), a flipped byte, a body sent
one byte at a time with a pause after each (a server that drips), a ``Content-Length`` that lies, a
body without end (chunked, never finished). Every request is logged with its ``Range`` header.

    python tests/helpers/mirror_server.py FOLDER     # serve FOLDER until interrupted (prints the address)
"""

import argparse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class MirrorServer(ThreadingHTTPServer):
    """Serves ``folder`` at ``self.address``; ``cut`` and ``corrupt`` inject faults per URL path."""

    daemon_threads = True

    def __init__(self, folder):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.folder = Path(folder).resolve()
        self.address = f"http://127.0.0.1:{self.server_address[1]}"
        self.cut = {}        # URL path -> bytes sent before the connection is closed (once)
        self.corrupt = set()  # URL paths whose byte 0 is flipped
        self.drip = {}       # URL path -> seconds to wait after each byte of the body
        self.announce = {}   # URL path -> the Content-Length sent, whatever the body's length
        self.endless = set()  # URL paths answered with a chunked body that never ends
        self.requests = []   # (URL path, Range header or None)
        self._thread = None

    def handle_error(self, request, client_address):
        """A client that hangs up mid-body (as a download cut off by its deadline or size cap does) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def __enter__(self):
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=10)


class _Handler(BaseHTTPRequestHandler):
    timeout = 10  # seconds an idle connection is kept
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        server = self.server
        path = self.path.split("?")[0]
        server.requests.append((path, self.headers.get("Range")))
        file = (server.folder / path.lstrip("/")).resolve()
        if server.folder not in file.parents or not file.is_file():
            self.send_error(404)
            return
        body = bytearray(file.read_bytes())
        if path in server.corrupt:
            body[0] ^= 0xFF
        start = 0
        requested = self.headers.get("Range")
        if requested and requested.startswith("bytes=") and requested.endswith("-"):
            start = int(requested[len("bytes="):-1])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if path in server.endless:
            self._endless()
            return
        self.send_header("Content-Length", str(server.announce.get(path, len(body) - start)))
        self.end_headers()
        if path in server.drip:
            self._drip(body[start:], server.drip[path])
            return
        cut = server.cut.pop(path, None)
        if cut is not None:
            self.wfile.write(bytes(body[start:start + cut]))
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(bytes(body[start:]))


    def _drip(self, body, pause):
        for index in range(len(body)):
            self.wfile.write(body[index:index + 1])
            self.wfile.flush()
            time.sleep(pause)

    def _endless(self):
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        block = b"x" * 65536
        while True:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))


def main():
    parser = argparse.ArgumentParser(description="Serve a folder on 127.0.0.1 as a mirror of the data sources.")
    parser.add_argument("folder")
    parser.add_argument("--port-file", help="write the address to this file once listening")
    arguments = parser.parse_args()
    server = MirrorServer(arguments.folder)
    print(server.address, flush=True)
    if arguments.port_file:
        Path(arguments.port_file).write_text(server.address)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
