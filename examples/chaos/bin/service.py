#!/usr/bin/env python3
"""A throwaway HTTP service on 127.0.0.1 (a port of its own, written to SANDBOX/ROLE.port).
ROLE web: / answers ok; /api asks the dependency (SANDBOX/dep.port) unless SANDBOX/web.degraded
exists, then it answers from its cache. ROLE dep: / and /api answer ok, or 500 after
/__chaos/fail?on=1 (until /__chaos/fail?on=0)."""
import http.client, http.server, os, sys

role, sandbox = sys.argv[1], sys.argv[2]
failing = False


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        global failing
        if self.path.startswith("/__chaos/fail?on="):
            failing = self.path.endswith("=1")
            return self.answer(200, "failing" if failing else "healthy")
        if role == "dep":
            return self.answer(500 if failing else 200, "dependency")
        if self.path == "/api":
            if os.path.exists(os.path.join(sandbox, "web.degraded")):
                return self.answer(200, "cached")
            try:
                with open(os.path.join(sandbox, "dep.port")) as f:
                    connection = http.client.HTTPConnection("127.0.0.1", int(f.read()), timeout=1)
                connection.request("GET", "/")
                status = connection.getresponse().status
            except (OSError, ValueError, http.client.HTTPException):
                status = None
            return self.answer(200 if status == 200 else 502, "api")
        self.answer(200, "ok")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(os.path.join(sandbox, role + ".port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(sandbox, role + ".port.tmp"), os.path.join(sandbox, role + ".port"))
server.serve_forever()
