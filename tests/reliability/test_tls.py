"""TLS verification of the API connection, against a self-signed HTTPS proxy
in front of the emulator (certificate made at test time with the openssl CLI).

Without the CA xbranch must refuse (exit 8, a message that says the
certificate could not be verified and names --cacert); with --cacert,
CURL_CA_BUNDLE or SSL_CERT_FILE it must work; a certificate for another host
must be refused even with its CA; and nothing switches verification off.
"""

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402
from rel import harness  # noqa: E402


def make_cert(directory, name, san):
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                        "-days", "1", "-keyout", key, "-out", cert, "-subj", "/CN=" + san[0][1],
                        "-addext", "subjectAltName=" + ",".join("%s:%s" % kv for kv in san),
                        "-addext", "basicConstraints=critical,CA:TRUE"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("openssl failed: " + r.stderr)
    return cert, key


class TlsProxy:
    """Accepts TLS on 127.0.0.1:PORT and pipes plain bytes to the emulator."""

    def __init__(self, cert, key, upstream_port):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.upstream = upstream_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.handshake_failures = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(30)
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshake_failures += 1
            conn.close()
            return
        up = socket.create_connection(("127.0.0.1", self.upstream))

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        t = threading.Thread(target=pump, args=(up, tls), daemon=True)
        t.start()
        pump(tls, up)
        t.join(30)
        tls.close()
        up.close()

    def close(self):
        self.stopping = True
        self.sock.close()


class TlsTest(rel.Case):
    emulator_options = dict(pg=True, hibernated_ms=50, transient_ms=100, quiet=True)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = tempfile.mkdtemp(prefix="xbranch-tls-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.cert, key = make_cert(cls.dir, "good", [("IP", "127.0.0.1"), ("DNS", "localhost")])
        cls.other_cert, other_key = make_cert(cls.dir, "other", [("DNS", "api.example.invalid")])
        cls.proxy = TlsProxy(cls.cert, key, cls.emu.port)
        cls.other_proxy = TlsProxy(cls.other_cert, other_key, cls.emu.port)

    @classmethod
    def tearDownClass(cls):
        cls.proxy.close()
        cls.other_proxy.close()
        super().tearDownClass()

    def env(self, proxy=None, host="127.0.0.1", **extra):
        e = self.emu.env()
        e["XATA_API_BASE_URL"] = "https://%s:%d" % (host, (proxy or self.proxy).port)
        e.update(extra)
        return e

    def create(self, sandbox, env, *extra):
        return rel.run(["create", "--sandbox", sandbox, "--sslmode", "disable"] + list(extra), env)

    def active(self, name):
        return [b for b in rel.active(self.emu) if b["name"] == name]

    def assert_refused(self, code, err, name):
        self.assertEqual(code, 8, err)
        self.assertRegex(err, r"(?i)certificate")
        self.assertIn("could not be verified", err)
        self.assertIn("--cacert", err)
        self.assertEqual(self.active(name), [])
        self.assertEqual(rel.posts(self.emu, name), [])

    def test_untrusted_certificate_is_refused(self):
        name = rel.branch_name("tls-untrusted")
        before = self.proxy.handshake_failures  # the proxy serves every test
        code, _, err = self.create("tls-untrusted", self.env())
        self.assert_refused(code, err, name)
        # Refused at the first handshake: a bad certificate is not retried.
        harness.wait_until(lambda: self.proxy.handshake_failures != before, 2, "the failed handshake")
        time.sleep(0.3)  # room for a retry that must not come
        self.assertEqual(self.proxy.handshake_failures - before, 1)

    def test_cacert_flag(self):
        name = rel.branch_name("tls-flag")
        code, out, err = self.create("tls-flag", self.env(), "--output", "json")
        self.assertEqual(code, 8, err)
        code, out, err = rel.run(["--cacert", self.cert, "create", "--sandbox", "tls-flag",
                                  "--sslmode", "disable"], self.env())
        self.assertEqual(code, 0, err)
        self.assertEqual(len(self.active(name)), 1)
        code, _, err = rel.run(["--cacert", self.cert, "delete", "--sandbox", "tls-flag"], self.env())
        self.assertEqual(code, 0, err)
        self.assertEqual(self.active(name), [])

    def test_localhost_name_with_cacert(self):
        name = rel.branch_name("tls-localhost")
        code, _, err = self.create("tls-localhost", self.env(host="localhost"), )
        self.assertEqual(code, 8, err)
        code, _, err = rel.run(["--cacert", self.cert, "create", "--sandbox", "tls-localhost",
                                "--sslmode", "disable"], self.env(host="localhost"))
        self.assertEqual(code, 0, err)
        self.assertEqual(len(self.active(name)), 1)
        code, _, err = rel.run(["--cacert", self.cert, "delete", "--sandbox", "tls-localhost"],
                               self.env(host="localhost"))
        self.assertEqual(code, 0, err)

    def test_ca_bundle_environment(self):
        for var in ("CURL_CA_BUNDLE", "SSL_CERT_FILE"):
            sandbox = "tls-env-" + var.lower().replace("_", "-")
            name = rel.branch_name(sandbox)
            code, _, err = self.create(sandbox, self.env(**{var: self.cert}))
            self.assertEqual(code, 0, "%s: %s" % (var, err))
            self.assertEqual(len(self.active(name)), 1, var)
            code, _, err = rel.run(["delete", "--sandbox", sandbox], self.env(**{var: self.cert}))
            self.assertEqual(code, 0, err)
            self.assertEqual(self.active(name), [])

    def test_wrong_host_refused_even_with_its_ca(self):
        name = rel.branch_name("tls-wronghost")
        code, _, err = rel.run(["--cacert", self.other_cert, "create", "--sandbox", "tls-wronghost",
                                "--sslmode", "disable"], self.env(proxy=self.other_proxy))
        self.assert_refused(code, err, name)

    def test_wrong_ca_file(self):
        name = rel.branch_name("tls-wrongca")
        code, _, err = rel.run(["--cacert", self.other_cert, "create", "--sandbox", "tls-wrongca",
                                "--sslmode", "disable"], self.env())
        self.assert_refused(code, err, name)

    def test_no_way_to_switch_verification_off(self):
        for args in (["--help"], ["create", "--help"], ["delete", "--help"], ["status", "--help"],
                     ["url", "--help"], ["list", "--help"], ["gc", "--help"]):
            code, out, err = rel.run(args, {})
            self.assertEqual(code, 0, err)
            # --allow-insecure-http is about plain http:// to a remote host;
            # it switches no certificate check off.
            text = (out + err).replace("--allow-insecure-http", "")
            if args == ["--help"]:
                self.assertIn("--cacert", out)
            for word in ("insecure", "no-verify", "noverify", "skip-verify", "verify-peer",
                         "tls-verify", "ssl-verify", "skip-tls"):
                self.assertNotIn(word, text.lower(), "%s mentions %s" % (args, word))
            self.assertIsNone(re.search(r"(^|\s)-k[\s,]", text), "%s has a -k flag" % args)
        # Switches other tools honour do nothing here.
        name = rel.branch_name("tls-envoff")
        env = self.env(CURL_INSECURE="1", XBRANCH_INSECURE="1", XATA_INSECURE="1",
                       XBRANCH_TLS_VERIFY="0", NODE_TLS_REJECT_UNAUTHORIZED="0",
                       PYTHONHTTPSVERIFY="0", GIT_SSL_NO_VERIFY="1")
        code, _, err = self.create("tls-envoff", env)
        self.assert_refused(code, err, name)
        for flag in ("--insecure", "-k", "--no-verify"):
            code, _, err = rel.run([flag, "create", "--sandbox", "tls-envoff"], self.env())
            self.assertEqual(code, 2, "%s: %s" % (flag, err))
        self.assertEqual(self.active(name), [])


if __name__ == "__main__":
    harness.main()
