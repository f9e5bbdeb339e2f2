#!/usr/bin/env python3
"""A loopback HTTPS server with a throwaway CA, for build-image.sh's TLS
test of the image: does the image's libcurl verify a server against the
system CA bundle (/etc/ssl/certs/ca-certificates.crt), and refuse one whose
CA is not in it?

    tls_probe.py DIR

Makes in DIR (with the openssl command): ca.pem, the CA that signed the
server's certificate (for 127.0.0.1), and wrong-ca.pem, another CA that did
not; then serves HTTPS on 127.0.0.1 at a free port, written to DIR/port once
it listens. Every request is answered 401 with a Xata-like JSON error (so
xbranch exits 3, "authentication failed", after a verified handshake) and
logged to DIR/requests (method and path, one a line). Runs until killed."""

import http.server
import os
import ssl
import subprocess
import sys


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_certs(d):
    for name in ("ca", "wrong-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=xbranch image test %s" % name,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout", name + ".key", "-out", name + ".pem", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem", cwd=d)
    for f in ("ca.pem", "wrong-ca.pem"):
        os.chmod(os.path.join(d, f), 0o644)


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        with open(os.path.join(self.server.dir, "requests"), "a") as f:
            f.write("%s %s\n" % (self.command, self.path))
        body = b'{"id":"tls-probe","message":"invalid API key (TLS probe)"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PATCH = answer

    def log_message(self, *args):
        pass


def main():
    d = sys.argv[1]
    make_certs(d)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.dir = d
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    tmp = os.path.join(d, "port.tmp")
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, os.path.join(d, "port"))
    server.serve_forever()


if __name__ == "__main__":
    main()
