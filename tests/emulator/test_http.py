"""The emulator's own HTTP/1.1 server, driven over raw sockets: chunked
bodies, the body limit, malformed requests, keep-alive, 100-continue and
connections dropped before any byte."""

import json
import socket
import time

from emu_common import EmulatorTestCase, harness

MAX_BODY = 8 * 1024 * 1024


class RawHttpTest(harness.SharedEmulatorCase, EmulatorTestCase):
    emulator_options = dict(pg=False, hibernated_ms=0, transient_ms=0, save_traffic=False)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = cls.emu.root_branch()["id"]

    def setUp(self):
        super().setUp()
        self.emu.set_faults([])
        self.pending = {}

    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.emu.port), timeout=timeout)
        self.addCleanup(s.close)
        return s

    def read_all(self, s):
        """Everything until the server closes (a timeout fails the test)."""
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk

    def read_answer(self, s):
        """One answer with a Content-Length body: (status, headers, body).
        Bytes past it stay in the socket's buffer for the next call."""
        data = self.pending.pop(s.fileno(), b"")
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "closed before the head: %r" % data)
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "closed inside the body")
            rest += chunk
        self.pending[s.fileno()] = rest[length:]
        return status, headers, rest[:length]

    def head(self, method, path, extra=""):
        return ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n%s\r\n"
                % (method, path, self.emu.api_key, extra)).encode()

    def status_of_raw(self, data, timeout=10):
        s = self.connect(timeout)
        s.sendall(data)
        reply = self.read_all(s)
        self.assertTrue(reply.startswith(b"HTTP/1.1 "), reply)
        return int(reply.split(b" ")[1])

    # -- chunked bodies
    def test_chunked_body_is_joined(self):
        body = json.dumps({"name": "sb-chunked", "mode": "inherit", "parentID": self.root}).encode()
        parts = [body[:7], body[7:20], body[20:]]
        chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
        s = self.connect()
        s.sendall(self.head("POST", self.emu.project_path + "/branches",
                            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n")
                  + chunked)
        status, _, answer = self.read_answer(s)
        self.assertEqual(status, 201, answer)
        self.assertEqual(json.loads(answer)["name"], "sb-chunked")
        self.assertEqual(self.emu.requests()[-1]["requestBody"], body.decode())

    def test_chunk_size_that_would_wrap_the_limit_is_413_at_once(self):
        # One byte, then a chunk of 2^64 - 1 bytes: 1 + size wraps to 0 in a
        # size_t, which once let the body through the limit and left the
        # server waiting for 16 EiB.
        data = (self.head("POST", self.emu.project_path + "/branches",
                          "Transfer-Encoding: chunked\r\n")
                + b"1\r\na\r\nffffffffffffffff\r\n")
        t0 = time.monotonic()
        self.assertEqual(self.status_of_raw(data, timeout=5), 413)
        self.assertLess(time.monotonic() - t0, 5)

    def test_chunked_body_over_the_limit_is_413(self):
        s = self.connect(timeout=30)
        s.sendall(self.head("POST", self.emu.project_path + "/branches",
                            "Transfer-Encoding: chunked\r\n"))
        half = MAX_BODY // 2
        block = b"x" * half
        s.sendall(b"%x\r\n%s\r\n%x\r\n%s\r\n" % (half, block, half, block))  # exactly the limit
        s.sendall(b"1\r\ny\r\n")  # one byte over
        reply = self.read_all(s)
        self.assertTrue(reply.startswith(b"HTTP/1.1 413 "), reply[:100])

    def test_bad_chunk_size_is_400(self):
        for size in (b"zz", b"", b"-1", b" ;x"):
            data = (self.head("POST", self.emu.project_path + "/branches",
                              "Transfer-Encoding: chunked\r\n") + size + b"\r\nab\r\n0\r\n\r\n")
            self.assertEqual(self.status_of_raw(data), 400, size)

    def test_chunk_without_its_crlf_is_400(self):
        data = (self.head("POST", self.emu.project_path + "/branches",
                          "Transfer-Encoding: chunked\r\n") + b"2\r\nabcd\r\n0\r\n\r\n")
        self.assertEqual(self.status_of_raw(data), 400)

    # -- Content-Length
    def test_content_length_over_the_limit_is_413_before_the_body(self):
        data = self.head("POST", self.emu.project_path + "/branches",
                         "Content-Length: %d\r\n" % (MAX_BODY + 1))
        self.assertEqual(self.status_of_raw(data, timeout=5), 413)

    def test_content_length_at_the_limit_is_read(self):
        s = self.connect(timeout=30)
        s.sendall(self.head("POST", self.emu.project_path + "/branches",
                            "Content-Length: %d\r\n" % MAX_BODY) + b" " * MAX_BODY)
        status, _, answer = self.read_answer(s)
        self.assertEqual(status, 400, answer)  # read in full, then refused as a body
        self.assertEqual(json.loads(answer)["message"], "invalid request body")

    def test_bad_content_length_is_400(self):
        for value in ("-1", "12abc", "", "0x10", "1 2"):
            data = self.head("POST", self.emu.project_path + "/branches",
                             "Content-Length: %s\r\n" % value)
            if value == "":
                continue  # an empty header is no length: nothing to test here
            self.assertEqual(self.status_of_raw(data), 400, value)

    # -- request line and headers
    def test_malformed_request_lines_are_400(self):
        for line in (b"GARBAGE", b"GET /", b"GET / HTTP/2.0", b"get / HTTP/1.1",
                     b"GET nopath HTTP/1.1", b"GET  HTTP/1.1", b"GET / / HTTP/1.1",
                     b"GET http://127.0.0.1/_emulator/health HTTP/1.1", b" / HTTP/1.1"):
            self.assertEqual(self.status_of_raw(line + b"\r\nHost: x\r\n\r\n"), 400, line)

    def test_header_without_colon_is_400(self):
        self.assertEqual(self.status_of_raw(b"GET /_emulator/health HTTP/1.1\r\nnocolon\r\n\r\n"),
                         400)

    def test_oversized_head_is_431(self):
        data = (b"GET /_emulator/health HTTP/1.1\r\n" +
                b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 1000) for i in range(70)) + b"\r\n")
        self.assertEqual(self.status_of_raw(data), 431)

    # -- connection handling
    def test_keep_alive_then_close(self):
        s = self.connect()
        s.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"\r\n"  # a stray empty line between requests is skipped
                  b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(2):
            status, headers, body = self.read_answer(s)
            self.assertEqual((status, headers["connection"]), (200, "keep-alive"))
            self.assertEqual(json.loads(body), {"ok": True})
        s.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, _ = self.read_answer(s)
        self.assertEqual((status, headers["connection"]), (200, "close"))
        self.assertEqual(s.recv(10), b"")

    def test_http10_closes_after_the_answer(self):
        s = self.connect()
        s.sendall(b"GET /_emulator/health HTTP/1.0\r\n\r\n")
        reply = self.read_all(s)
        self.assertIn(b"Connection: close\r\n", reply)

    def test_expect_100_continue(self):
        body = json.dumps({"name": "sb-expect", "mode": "inherit", "parentID": self.root}).encode()
        s = self.connect()
        s.sendall(self.head("POST", self.emu.project_path + "/branches",
                            "Expect: 100-continue\r\nContent-Length: %d\r\n" % len(body)))
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            interim += s.recv(1)
        self.assertEqual(interim, b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(body)
        status, _, _ = self.read_answer(s)
        self.assertEqual(status, 201)

    def test_drop_before_sends_no_byte_and_performs_nothing(self):
        self.emu.set_faults([{"method": "POST", "path": "/branches$", "kind": "drop_before"}])
        body = json.dumps({"name": "sb-drop", "mode": "inherit", "parentID": self.root}).encode()
        s = self.connect()
        s.sendall(self.head("POST", self.emu.project_path + "/branches",
                            "Content-Length: %d\r\n" % len(body)) + body)
        self.assertEqual(self.read_all(s), b"")
        self.assertNotIn("sb-drop", [b["name"] for b in self.emu.branches()])

    def test_drop_after_sends_no_byte_but_performs(self):
        self.emu.set_faults([{"method": "POST", "path": "/branches$", "kind": "drop_after"}])
        body = json.dumps({"name": "sb-drop2", "mode": "inherit", "parentID": self.root}).encode()
        s = self.connect()
        s.sendall(self.head("POST", self.emu.project_path + "/branches",
                            "Content-Length: %d\r\n" % len(body)) + body)
        self.assertEqual(self.read_all(s), b"")
        self.assertIn("sb-drop2", [b["name"] for b in self.emu.branches()])

    def test_truncated_sends_the_full_length_and_half_the_body(self):
        self.emu.set_faults([{"method": "GET", "path": "/branches$", "kind": "truncated"}])
        s = self.connect()
        s.sendall(self.head("GET", self.emu.project_path + "/branches"))
        reply = self.read_all(s)
        head, body = reply.split(b"\r\n\r\n", 1)
        length = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")][0]
                     .split(b":")[1])
        self.assertEqual(len(body), length // 2)


if __name__ == "__main__":
    harness.main()
