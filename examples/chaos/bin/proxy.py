#!/usr/bin/env python3
"""A delay proxy on 127.0.0.1 in front of the web service (SANDBOX/web.port): every GET is
forwarded after the delay set by /__chaos/delay?seconds=N (0 at start: a restart clears it)."""
import http.client, http.server, os, sys, time

sandbox = sys.argv[1]
delay = 0.0


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        global delay
        if self.path.startswith("/__chaos/delay?seconds="):
            delay = float(self.path.split("=", 1)[1])
            return self.answer(200, b"delay set")
        time.sleep(delay)
        try:
            with open(os.path.join(sandbox, "web.port")) as f:
                connection = http.client.HTTPConnection("127.0.0.1", int(f.read()), timeout=2)
            connection.request("GET", self.path)
            response = connection.getresponse()
            self.answer(response.status, response.read())
        except (OSError, ValueError, http.client.HTTPException):
            self.answer(502, b"upstream unavailable")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(os.path.join(sandbox, "proxy.port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(sandbox, "proxy.port.tmp"), os.path.join(sandbox, "proxy.port"))
server.serve_forever()
