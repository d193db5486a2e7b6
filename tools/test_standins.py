#!/usr/bin/env python3
"""Tests for tools/gemini-standin and tools/stripe-standin (stdlib unittest).

Run:  python3 tools/test_standins.py -v     (about 15 s)
Each stand-in is started on a free port (--port 0 --port-file) and stopped
with SIGTERM, which must end it with exit status 0.
"""

import hashlib
import hmac
import http.client
import http.server
import importlib.machinery
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
GEMINI = os.path.join(HERE, "gemini-standin")
STRIPE = os.path.join(HERE, "stripe-standin")
GKEY = "test-gemini-key"
SKEY = "sk_test_standin"
MODEL = "gemini-2.5-flash"


def load_module(path, name):
    loader = importlib.machinery.SourceFileLoader(name, path)
    spec = importlib.util.spec_from_loader(name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


class StandIn:
    def __init__(self, exe, *extra):
        self.dir = tempfile.mkdtemp(prefix="standin-test-")
        self.port_file = os.path.join(self.dir, "port")
        self.log = os.path.join(self.dir, "log")
        self.proc = subprocess.Popen([sys.executable, exe, "--port", "0", "--port-file", self.port_file,
                                      "--log", self.log, *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while not os.path.exists(self.port_file):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("stand-in did not start: %s" % self.proc.stderr.read())
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())
        printed = self.proc.stdout.readline().decode().strip()
        assert printed == str(self.port), (printed, self.port)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()
            if os.environ.get("STANDIN_KEEP_LOGS"):
                sys.stderr.write("stand-in log kept in %s\n" % self.log)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            c.close()

    def json(self, method, path, body=None, headers=None, timeout=30):
        st, h, data = self.request(method, path, body, headers, timeout)
        try:
            return st, h, json.loads(data)
        except ValueError:
            return st, h, data


# ==========================================================================
class GeminiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = StandIn(GEMINI, "--stream-chunks", "3", "--chunk-delay-ms", "5")

    @classmethod
    def tearDownClass(cls):
        rc = cls.s.stop()
        assert rc == 0, "gemini-standin exit status %r after SIGTERM" % rc

    def setUp(self):
        self.s.request("DELETE", "/__control")

    def gen(self, contents, model=MODEL, key=GKEY, stream=False, extra=None, timeout=30, query=""):
        body = {"contents": contents}
        body.update(extra or {})
        h = {"Content-Type": "application/json"}
        if key is not None:
            h["x-goog-api-key"] = key
        method = "streamGenerateContent" if stream else "generateContent"
        path = "/v1beta/models/%s:%s%s" % (model, method, query or ("?alt=sse" if stream else ""))
        return self.s.request("POST", path, json.dumps(body), h, timeout)

    def gen_json(self, text, **kw):
        st, h, data = self.gen([{"role": "user", "parts": [{"text": text}]}], **kw)
        try:
            return st, h, json.loads(data)
        except ValueError:
            return st, h, data

    def sse_events(self, data):
        text = data.decode("utf-8")
        self.assertTrue(text.endswith("\r\n\r\n"), repr(text[-20:]))
        events = [e for e in text.split("\r\n\r\n") if e]
        out = []
        for e in events:
            self.assertTrue(e.startswith("data: "), e)
            self.assertNotIn("\n", e)
            self.assertNotIn("[DONE]", e)
            out.append(json.loads(e[len("data: "):]))
        return out

    def assertGoogleError(self, st, data, code, status):
        self.assertEqual(st, code, data)
        obj = json.loads(data) if isinstance(data, bytes) else data
        self.assertEqual(obj["error"]["code"], code)
        self.assertEqual(obj["error"]["status"], status)
        self.assertTrue(obj["error"]["message"])
        return obj["error"]

    # ---- format
    def test_echo_and_format(self):
        st, h, r = self.gen_json("hello there")
        self.assertEqual(st, 200, r)
        self.assertTrue(h["content-type"].startswith("application/json"))
        c = r["candidates"][0]
        self.assertEqual(c["content"]["role"], "model")
        self.assertEqual(c["content"]["parts"], [{"text": "Echo: hello there"}])
        self.assertEqual(c["finishReason"], "STOP")
        self.assertEqual(c["index"], 0)
        u = r["usageMetadata"]
        self.assertEqual(u["totalTokenCount"], u["promptTokenCount"] + u["candidatesTokenCount"])
        self.assertEqual(r["modelVersion"], MODEL)
        self.assertTrue(r["responseId"])

    def test_key_in_query_and_models(self):
        st, _, r = self.gen_json("q", key=None, query="?key=" + GKEY)
        self.assertEqual(st, 200, r)
        st, _, m = self.s.json("GET", "/v1beta/models/gemini-3-flash", headers={"x-goog-api-key": GKEY})
        self.assertEqual(st, 200)
        self.assertEqual(m["name"], "models/gemini-3-flash")
        self.assertIsInstance(m["inputTokenLimit"], int)
        self.assertIsInstance(m["outputTokenLimit"], int)
        st, _, data = self.s.request("GET", "/v1beta/models/gemini-2.0-flash", headers={"x-goog-api-key": GKEY})
        self.assertGoogleError(st, data, 404, "NOT_FOUND")

    # ---- strictness
    def test_auth(self):
        st, _, data = self.gen([{"role": "user", "parts": [{"text": "x"}]}], key=None)
        self.assertGoogleError(st, data, 403, "PERMISSION_DENIED")
        st, _, data = self.gen([{"role": "user", "parts": [{"text": "x"}]}], key="wrong")
        err = self.assertGoogleError(st, data, 400, "INVALID_ARGUMENT")
        infos = [d for d in err["details"] if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"]
        self.assertEqual(infos[0]["reason"], "API_KEY_INVALID")

    def test_paths(self):
        h = {"x-goog-api-key": GKEY, "Content-Type": "application/json"}
        for method, path in [("POST", "/v1beta/models/%s:generate" % MODEL),
                             ("POST", "/v1/models/%s:generateContent" % MODEL),
                             ("POST", "/v1beta/%s:generateContent" % MODEL),
                             ("GET", "/v1beta/models/%s:generateContent" % MODEL),
                             ("GET", "/nothing")]:
            st, hh, data = self.s.request(method, path, "{}", h)
            self.assertGoogleError(st, data, 404, "NOT_FOUND")
        st, _, data = self.gen([{"role": "user", "parts": [{"text": "x"}]}], model="gemini-9")
        self.assertGoogleError(st, data, 404, "NOT_FOUND")

    def test_invalid_requests(self):
        u = lambda t: {"role": "user", "parts": [{"text": t}]}
        m = lambda t: {"role": "model", "parts": [{"text": t}]}
        cases = {
            "unknown field": {"contents": [u("a")], "foo": 1},
            "unknown nested": {"contents": [{"role": "user", "parts": [{"txt": "a"}]}]},
            "unknown genconfig": {"contents": [u("a")], "generationConfig": {"max_tokens": 5}},
            "contents missing": {},
            "contents empty": {"contents": []},
            "bad role": {"contents": [{"role": "assistant", "parts": [{"text": "a"}]}, u("b")]},
            "system role": {"contents": [{"role": "system", "parts": [{"text": "a"}]}]},
            "empty parts": {"contents": [u("a"), {"role": "model", "parts": []}, u("b")]},
            "no parts": {"contents": [u("a"), {"role": "model"}, u("b")]},
            "empty text": {"contents": [u("a"), m(""), u("b")]},
            "same role": {"contents": [u("a"), u("b")]},
            "same role model": {"contents": [u("a"), m("b"), m("c"), u("d")]},
            "ends with model": {"contents": [u("a"), m("b")]},
            "no role multi": {"contents": [{"parts": [{"text": "a"}]}, m("b"), u("c")]},
            "contents not list": {"contents": "hi"},
        }
        h = {"x-goog-api-key": GKEY, "Content-Type": "application/json"}
        path = "/v1beta/models/%s:generateContent" % MODEL
        for name, body in cases.items():
            with self.subTest(name):
                st, _, data = self.s.request("POST", path, json.dumps(body), h)
                self.assertGoogleError(st, data, 400, "INVALID_ARGUMENT")
        for name, raw in {"not json": "{contents:", "nan": '{"contents": NaN}', "empty": "",
                          "array": "[]"}.items():
            with self.subTest(name):
                st, _, data = self.s.request("POST", path, raw, h)
                self.assertGoogleError(st, data, 400, "INVALID_ARGUMENT")
        # also refused while streaming
        st, _, data = self.gen([u("a"), u("b")], stream=True)
        self.assertGoogleError(st, data, 400, "INVALID_ARGUMENT")

    def test_valid_variants(self):
        u = lambda t: {"role": "user", "parts": [{"text": t}]}
        m = lambda t: {"role": "model", "parts": [{"text": t}]}
        st, _, data = self.gen([u("a"), m("b"), u("c")], extra={
            "system_instruction": {"parts": [{"text": "be brief"}]},
            "generation_config": {"temperature": 0.5, "maxOutputTokens": 1000}})
        self.assertEqual(st, 200, data)
        st, _, data = self.gen([{"parts": [{"text": "single turn without role"}]}])
        self.assertEqual(st, 200, data)

    def test_max_output_tokens_truncates(self):
        st, _, data = self.gen([{"role": "user", "parts": [{"text": "x" * 100}]}],
                               extra={"generationConfig": {"maxOutputTokens": 2}})
        r = json.loads(data)
        self.assertEqual(r["candidates"][0]["finishReason"], "MAX_TOKENS")
        self.assertEqual(r["candidates"][0]["content"]["parts"][0]["text"], "Echo: x\u0078"[:8])

    # ---- context recording
    def test_requests_recorded(self):
        self.s.request("DELETE", "/__requests")
        contents = [{"role": "user", "parts": [{"text": "first"}]},
                    {"role": "model", "parts": [{"text": "Echo: first"}]},
                    {"role": "user", "parts": [{"text": "second"}]}]
        self.gen(contents)
        st, _, reqs = self.s.json("GET", "/__requests")
        self.assertEqual(len(reqs), 1)
        self.assertEqual(reqs[-1]["body"]["contents"], contents)
        self.assertEqual(reqs[-1]["last_user_text"], "second")
        self.assertEqual(reqs[-1]["headers"]["x-goog-api-key"], GKEY)
        self.assertEqual(reqs[-1]["api_key_via"], "header")
        self.assertEqual(reqs[-1]["status"], 200)
        self.s.request("DELETE", "/__requests")
        self.assertEqual(self.s.json("GET", "/__requests")[2], [])

    def test_context_marker(self):
        st, _, r = self.gen([{"role": "user", "parts": [{"text": "a"}]},
                             {"role": "model", "parts": [{"text": "b"}]},
                             {"role": "user", "parts": [{"text": "c [[gc:context]]"}]}])
        text = json.loads(r)["candidates"][0]["content"]["parts"][0]["text"]
        self.assertIn("3 turns", text)
        self.assertIn("model: b", text)

    # ---- streaming
    def test_stream(self):
        st, h, data = self.gen([{"role": "user", "parts": [{"text": "stream this please"}]}], stream=True)
        self.assertEqual(st, 200, data)
        self.assertTrue(h["content-type"].startswith("text/event-stream"))
        evs = self.sse_events(data)
        self.assertEqual(len(evs), 3)
        self.assertEqual("".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in evs),
                         "Echo: stream this please")
        self.assertEqual(len({e["responseId"] for e in evs}), 1)
        self.assertEqual([("finishReason" in e["candidates"][0]) for e in evs], [False, False, True])
        self.assertEqual(evs[-1]["candidates"][0]["finishReason"], "STOP")
        counts = [e["usageMetadata"]["candidatesTokenCount"] for e in evs]
        self.assertEqual(counts, sorted(counts))
        st, _, data = self.gen([{"role": "user", "parts": [{"text": "x [[gc:chunks=6]] abcdefgh"}]}],
                               stream=True)
        self.assertEqual(len(self.sse_events(data)), 6)

    def test_stream_is_progressive(self):
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "p [[gc:slow=400]]"}]}]})
        t0 = time.time()
        c.request("POST", "/v1beta/models/%s:streamGenerateContent?alt=sse" % MODEL, body,
                  {"x-goog-api-key": GKEY, "Content-Type": "application/json"})
        r = c.getresponse()
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        first = r.readline()
        t_first = time.time() - t0
        self.assertTrue(first.startswith(b"data: "))
        rest = r.read()
        t_all = time.time() - t0
        c.close()
        self.assertLess(t_first, 0.75)          # 400 ms before answering, then the first chunk
        self.assertGreaterEqual(t_all, 1.15)    # + 2 x 400 ms between chunks
        self.assertEqual(rest.count(b"data: "), 2)

    def test_keep_alive_connection_reuse(self):
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        h = {"x-goog-api-key": GKEY, "Content-Type": "application/json"}
        ok = json.dumps({"contents": [{"role": "user", "parts": [{"text": "ka"}]}]})
        for path, body, want in [("/v1beta/models/%s:generateContent" % MODEL, ok, 200),
                                 ("/v1beta/models/%s:generateContent" % MODEL, "{bad", 400),
                                 ("/v1beta/models/%s:streamGenerateContent?alt=sse" % MODEL, ok, 200),
                                 ("/v1beta/models/%s:generateContent" % MODEL, ok, 200)]:
            c.request("POST", path, body, h)
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, want)
        c.close()

    def test_stream_without_sse_is_json_array(self):
        st, _, data = self.gen([{"role": "user", "parts": [{"text": "arr"}]}], stream=True, query="?")
        arr = json.loads(data)
        self.assertIsInstance(arr, list)
        self.assertEqual(arr[-1]["candidates"][0]["finishReason"], "STOP")

    def test_stream_error_chunk(self):
        st, _, data = self.gen([{"role": "user", "parts": [{"text": "boom [[gc:stream-error=503]]"}]}],
                               stream=True)
        self.assertEqual(st, 200)
        evs = self.sse_events(data)
        self.assertGreaterEqual(len(evs), 2)
        self.assertIn("candidates", evs[0])
        self.assertEqual(evs[-1]["error"]["code"], 503)
        self.assertEqual(evs[-1]["error"]["status"], "UNAVAILABLE")
        self.assertFalse(any("finishReason" in e.get("candidates", [{}])[0] for e in evs))

    def test_stream_markers(self):
        st, _, data = self.gen([{"role": "user", "parts": [{"text": "[[gc:block=SAFETY]]"}]}], stream=True)
        evs = self.sse_events(data)
        self.assertEqual(evs[0]["promptFeedback"]["blockReason"], "SAFETY")
        self.assertNotIn("candidates", evs[0])
        st, _, data = self.gen([{"role": "user", "parts": [{"text": "t [[gc:finish=MAX_TOKENS-empty]]"}]}],
                               stream=True)
        evs = self.sse_events(data)
        self.assertEqual(evs[-1]["candidates"][0]["finishReason"], "MAX_TOKENS")
        self.assertNotIn("parts", evs[-1]["candidates"][0]["content"])
        st, _, data = self.gen([{"role": "user", "parts": [{"text": "fe [[gc:final-empty]]"}]}], stream=True)
        evs = self.sse_events(data)
        self.assertEqual(evs[-1]["candidates"][0]["content"]["parts"], [{"text": ""}])
        self.assertEqual(evs[-1]["candidates"][0]["finishReason"], "STOP")

    # ---- markers
    def test_status_and_retry_delay(self):
        st, h, r = self.gen_json("q [[gc:status=429]] [[gc:retry-delay=2s]] [[gc:retry-after=3]]")
        err = self.assertGoogleError(st, r, 429, "RESOURCE_EXHAUSTED")
        ri = [d for d in err["details"] if d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"]
        self.assertEqual(ri[0]["retryDelay"], "2s")
        self.assertEqual(h["retry-after"], "3")
        st, _, r = self.gen_json("q [[gc:status=503]]")
        err = self.assertGoogleError(st, r, 503, "UNAVAILABLE")
        self.assertNotIn("details", err)
        st, _, r = self.gen_json("q [[gc:status=500]]")
        self.assertGoogleError(st, r, 500, "INTERNAL")

    def test_fail_then_succeed_per_prompt(self):
        p = "flaky %f [[gc:fail=503x2]]" % time.time()
        self.assertEqual(self.gen_json(p)[0], 503)
        self.assertEqual(self.gen_json("another prompt")[0], 200)
        self.assertEqual(self.gen_json(p)[0], 503)
        st, _, r = self.gen_json(p)
        self.assertEqual(st, 200)
        self.assertEqual(r["candidates"][0]["content"]["parts"][0]["text"], "Echo: " + p)
        self.assertEqual(self.gen_json(p)[0], 200)

    def test_block_and_finish(self):
        st, _, r = self.gen_json("bad [[gc:block=SAFETY]]")
        self.assertEqual(st, 200)
        self.assertNotIn("candidates", r)
        self.assertEqual(r["promptFeedback"]["blockReason"], "SAFETY")
        st, _, r = self.gen_json("bad [[gc:finish=SAFETY]]")
        self.assertEqual(r["candidates"][0]["finishReason"], "SAFETY")
        self.assertNotIn("content", r["candidates"][0])
        st, _, r = self.gen_json("long answer [[gc:finish=MAX_TOKENS]]")
        c = r["candidates"][0]
        self.assertEqual(c["finishReason"], "MAX_TOKENS")
        self.assertTrue(c["content"]["parts"][0]["text"])
        self.assertTrue(("Echo: long answer [[gc:finish=MAX_TOKENS]]").startswith(c["content"]["parts"][0]["text"]))
        st, _, r = self.gen_json("think [[gc:finish=MAX_TOKENS-empty]]")
        c = r["candidates"][0]
        self.assertEqual(c["finishReason"], "MAX_TOKENS")
        self.assertEqual(c["content"], {"role": "model"})
        self.assertGreater(r["usageMetadata"]["thoughtsTokenCount"], 0)

    def test_thought_part(self):
        st, _, r = self.gen_json("hm [[gc:thought]]")
        parts = r["candidates"][0]["content"]["parts"]
        self.assertTrue(parts[0]["thought"])
        self.assertEqual(parts[1], {"text": "Echo: hm [[gc:thought]]"})

    def test_nonjson_and_array_error(self):
        st, h, data = self.gen([{"role": "user", "parts": [{"text": "[[gc:nonjson=502]]"}]}])
        self.assertEqual(st, 502)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertRaises(ValueError, json.loads, data)
        st, _, data = self.gen([{"role": "user", "parts": [{"text": "[[gc:array-error=500]]"}]}])
        self.assertEqual(st, 500)
        arr = json.loads(data)
        self.assertEqual(len(arr), 1)
        self.assertEqual(arr[0]["error"]["status"], "INTERNAL")

    def test_slow_and_hang(self):
        t0 = time.time()
        st, _, _ = self.gen_json("[[gc:slow=400]]")
        self.assertEqual(st, 200)
        self.assertGreaterEqual(time.time() - t0, 0.4)
        t0 = time.time()
        with self.assertRaises(socket.timeout):
            self.gen_json("[[gc:hang]]", timeout=0.7)
        self.assertLess(time.time() - t0, 3)
        # the stand-in is still fine afterwards
        self.assertEqual(self.gen_json("after hang")[0], 200)

    def test_len_marker(self):
        st, _, r = self.gen_json("[[gc:len=5000]]")
        self.assertEqual(len(r["candidates"][0]["content"]["parts"][0]["text"]), 5000)

    # ---- control endpoint
    def test_control(self):
        st, _, r = self.s.json("POST", "/__control", {"mode": "outage", "count": 2})
        self.assertEqual(st, 200, r)
        self.assertEqual(self.gen_json("c1")[0], 503)
        self.assertEqual(self.gen_json("c2")[0], 503)
        self.assertEqual(self.gen_json("c3")[0], 200)
        self.s.json("POST", "/__control", {"status": 429, "retry_delay": "7s"})
        st, _, r = self.gen_json("c4")
        self.assertEqual(st, 429)
        self.assertIn({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"},
                      r["error"]["details"])
        self.s.request("DELETE", "/__control")
        self.assertEqual(self.gen_json("c5")[0], 200)
        self.s.json("POST", "/__control", {"fail": "500x1"})
        self.assertEqual(self.gen_json("c6")[0], 500)
        self.assertEqual(self.gen_json("c6")[0], 200)
        self.assertEqual(self.gen_json("c7")[0], 500)
        self.s.json("POST", "/__control", {"markers": "[[gc:block=OTHER]]"})
        self.assertEqual(self.gen_json("c8")[2]["promptFeedback"]["blockReason"], "OTHER")
        st, _, r = self.s.json("POST", "/__control", {"nonsense": 1})
        self.assertEqual(st, 400)

    # ---- load
    def test_200_concurrent_slow_requests(self):
        n = 200

        def one(i):
            st, _, data = self.gen([{"role": "user", "parts": [{"text": "load %d [[gc:slow=1500]]" % i}]}],
                                   timeout=30)
            return st, json.loads(data)["candidates"][0]["content"]["parts"][0]["text"]

        t0 = time.time()
        with ThreadPoolExecutor(max_workers=n) as ex:
            res = list(ex.map(one, range(n)))
        elapsed = time.time() - t0
        self.assertEqual([r[0] for r in res], [200] * n)
        self.assertEqual(res[17][1], "Echo: load 17 [[gc:slow=1500]]")
        self.assertLess(elapsed, 6.0, "200 slow requests were serialised (%.1fs)" % elapsed)
        if os.environ.get("STANDIN_VERBOSE"):
            sys.stderr.write(" [200 x 1.5 s requests in %.2f s] " % elapsed)

    def test_200_concurrent_slow_streams(self):
        n = 200

        def one(i):
            st, _, data = self.gen([{"role": "user", "parts": [{"text": "s%d [[gc:slow=300]]" % i}]}],
                                   stream=True, timeout=30)
            return st, len(self.sse_events(data))

        t0 = time.time()
        with ThreadPoolExecutor(max_workers=n) as ex:
            res = list(ex.map(one, range(n)))
        self.assertEqual(res, [(200, 3)] * n)
        self.assertLess(time.time() - t0, 6.0)


# ==========================================================================
class Receiver:
    """A webhook endpoint that verifies signatures independently of the stand-in."""

    def __init__(self, secret):
        self.secret = secret
        self.events = []
        self.lock = threading.Lock()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sig = self.headers.get("Stripe-Signature", "")
                ok = rec.verify(sig, body)
                with rec.lock:
                    rec.events.append({"ok": ok, "sig": sig, "body": body,
                                       "event": json.loads(body), "ctype": self.headers["Content-Type"]})
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/webhook/stripe" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def verify(self, header, body, tolerance=300):
        items = [p.split("=", 1) for p in header.split(",") if "=" in p]
        ts = [v for k, v in items if k == "t"]
        if not ts:
            return False
        expected = hmac.new(self.secret.encode(), ts[0].encode() + b"." + body, hashlib.sha256).hexdigest()
        good = any(hmac.compare_digest(expected, v) for k, v in items if k == "v1")
        return good and abs(time.time() - int(ts[0])) <= tolerance

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class StripeTest(unittest.TestCase):
    SECRET = "whsec_test_standin"

    @classmethod
    def setUpClass(cls):
        cls.rx = Receiver(cls.SECRET)
        cls.s = StandIn(STRIPE, "--webhook-url", cls.rx.url)

    @classmethod
    def tearDownClass(cls):
        rc = cls.s.stop()
        cls.rx.stop()
        assert rc == 0, "stripe-standin exit status %r after SIGTERM" % rc

    def setUp(self):
        self.s.request("DELETE", "/__control")
        with self.rx.lock:
            self.rx.events.clear()

    def form(self, params):
        return urlencode(params)

    def create(self, params=None, key=SKEY, idem=None, extra_headers=None, timeout=30, **over):
        p = {"mode": "subscription", "line_items[0][price]": "price_test_pro",
             "line_items[0][quantity]": "1", "success_url": "http://localhost/ok?s={CHECKOUT_SESSION_ID}",
             "cancel_url": "http://localhost/cancel", "client_reference_id": "42",
             "metadata[user_id]": "42", "subscription_data[metadata][user_id]": "42"}
        if params is not None:
            p = params
        p.update(over)
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if key is not None:
            h["Authorization"] = "Bearer " + key
        if idem:
            h["Idempotency-Key"] = idem
        h.update(extra_headers or {})
        return self.s.json("POST", "/v1/checkout/sessions", self.form(p), h, timeout)

    def assertStripeError(self, st, r, status, type_="invalid_request_error", param=None, code=None):
        self.assertEqual(st, status, r)
        self.assertEqual(r["error"]["type"], type_)
        self.assertTrue(r["error"]["message"])
        if param:
            self.assertEqual(r["error"].get("param"), param)
        if code:
            self.assertEqual(r["error"].get("code"), code)

    # ---- signature
    def test_signature_vector(self):
        mod = load_module(STRIPE, "stripe_standin")
        v1 = mod.sign("whsec_test_secret", 1700000000, b'{"id":"evt_test","object":"event"}')
        self.assertEqual(v1, "8042376f6ca064adbe037642a718227dfd59047137eb49497a54c49eb0cfb724")

    # ---- create
    def test_create_session(self):
        st, h, r = self.create()
        self.assertEqual(st, 200, r)
        self.assertTrue(h["request-id"].startswith("req_"))
        self.assertTrue(r["id"].startswith("cs_test_"))
        self.assertEqual(r["object"], "checkout.session")
        self.assertEqual(r["mode"], "subscription")
        self.assertEqual(r["status"], "open")
        self.assertEqual(r["payment_status"], "unpaid")
        self.assertIsNone(r["customer"])
        self.assertIsNone(r["subscription"])
        self.assertEqual(r["client_reference_id"], "42")
        self.assertEqual(r["metadata"], {"user_id": "42"})
        self.assertEqual(r["url"], "http://127.0.0.1:%d/pay/%s" % (self.s.port, r["id"]))
        st, _, r2 = self.s.json("GET", "/v1/checkout/sessions/" + r["id"], headers={"Authorization": "Bearer " + SKEY})
        self.assertEqual(r2["id"], r["id"])

    def test_auth_and_content_type(self):
        st, h, r = self.create(key=None)
        self.assertStripeError(st, r, 401)
        self.assertIn("did not provide an API key", r["error"]["message"])
        self.assertTrue(h["request-id"].startswith("req_"))
        st, _, r = self.create(key="sk_test_wrong")
        self.assertStripeError(st, r, 401)
        self.assertIn("Invalid API Key", r["error"]["message"])
        self.assertNotIn("sk_test_wrong", r["error"]["message"])
        import base64
        st, _, r = self.create(key=None, extra_headers={
            "Authorization": "Basic " + base64.b64encode(b"sk_test_standin:").decode()})
        self.assertEqual(st, 200, r)
        st, _, r = self.s.json("POST", "/v1/checkout/sessions", json.dumps({"mode": "subscription"}),
                               {"Authorization": "Bearer " + SKEY, "Content-Type": "application/json"})
        self.assertStripeError(st, r, 400)
        st, _, r = self.s.json("GET", "/v1/nothing", headers={"Authorization": "Bearer " + SKEY})
        self.assertStripeError(st, r, 404)

    def test_param_validation(self):
        base = {"mode": "subscription", "line_items[0][price]": "price_test_pro",
                "line_items[0][quantity]": "1", "success_url": "http://localhost/ok",
                "cancel_url": "http://localhost/cancel"}

        def without(k):
            d = dict(base)
            del d[k]
            return d
        cases = [
            (without("mode"), "mode", "parameter_missing"),
            (dict(base, mode="payment"), "mode", None),
            (dict(base, **{"line_items[0][price]": "price_other"}), "line_items[0][price]", "resource_missing"),
            (without("line_items[0][price]"), "line_items[0][price]", None),
            (without("line_items[0][quantity]"), "line_items[0][quantity]", "parameter_missing"),
            (dict(base, **{"line_items[0][quantity]": "2"}), "line_items[0][quantity]", None),
            (dict(base, **{"line_items[0][quantity]": "x"}), "line_items[0][quantity]", None),
            (without("success_url"), "success_url", "parameter_missing"),
            (without("cancel_url"), "cancel_url", "parameter_missing"),
            (dict(base, success_url="not a url"), "success_url", None),
            (dict(base, customer="42"), "customer", "resource_missing"),
            (dict(base, colour="red"), "colour", "parameter_unknown"),
            (dict(base, **{"subscription_data[foo]": "x"}), "subscription_data[foo]", "parameter_unknown"),
            (dict(base, mode=""), "mode", "parameter_invalid_empty"),
        ]
        for params, param, code in cases:
            with self.subTest(param=param, code=code):
                st, _, r = self.create(params)
                self.assertStripeError(st, r, 400, param=param, code=code)
        st, _, r = self.create(dict(base, customer="cus_Abc123"))
        self.assertEqual(st, 200, r)
        self.assertEqual(r["customer"], "cus_Abc123")

    def test_idempotency(self):
        k = "idem-%f" % time.time()
        st1, _, r1 = self.create(idem=k)
        st2, h2, r2 = self.create(idem=k)
        self.assertEqual((st1, st2), (200, 200))
        self.assertEqual(r1["id"], r2["id"])
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        st, _, r = self.create(idem=k, client_reference_id="43")
        self.assertStripeError(st, r, 400, type_="idempotency_error")
        # a validation error is not saved: the corrected retry with the same key works
        k2 = k + "b"
        st, _, r = self.create(idem=k2, **{"line_items[0][price]": "price_nope"})
        self.assertEqual(st, 400)
        st, _, r = self.create(idem=k2)
        self.assertEqual(st, 200, r)

    def test_failure_injection(self):
        self.s.json("POST", "/__control", {"fail": "500", "count": 1})
        k = "fi-%f" % time.time()
        st, h, r = self.create(idem=k)
        self.assertStripeError(st, r, 500, type_="api_error")
        self.assertEqual(h.get("stripe-should-retry"), "true")
        st, _, r = self.create(idem=k)
        self.assertEqual(st, 200, r)
        self.s.json("POST", "/__control", {"fail": "402", "count": 1})
        st, _, r = self.create()
        self.assertStripeError(st, r, 402, type_="card_error")
        self.assertEqual(self.create()[0], 200)

    def test_timeout_then_replay(self):
        self.s.json("POST", "/__control", {"fail": "timeout", "count": 1})
        k = "to-%f" % time.time()
        with self.assertRaises(socket.timeout):
            self.create(idem=k, timeout=0.8)
        st, h, r = self.create(idem=k)
        self.assertEqual(st, 200, r)
        self.assertEqual(h.get("idempotent-replayed"), "true")
        self.assertTrue(r["id"].startswith("cs_test_"))

    # ---- completing a checkout
    def test_complete_sends_signed_events(self):
        st, _, sess = self.create(client_reference_id="77", **{"metadata[user_id]": "77",
                                                               "subscription_data[metadata][user_id]": "77"})
        st, _, res = self.s.json("POST", "/__complete", {"session_id": sess["id"]})
        self.assertEqual(st, 200, res)
        self.assertEqual([e["status"] for e in res["events"]], [200, 200, 200])
        evs = [e["event"] for e in self.rx.events]
        self.assertEqual([e["type"] for e in evs],
                         ["checkout.session.completed", "customer.subscription.created", "invoice.paid"])
        for rec in self.rx.events:
            self.assertTrue(rec["ok"], rec["sig"])
            self.assertTrue(rec["ctype"].startswith("application/json"))
            e = rec["event"]
            self.assertTrue(e["id"].startswith("evt_"))
            self.assertEqual(e["object"], "event")
            self.assertFalse(e["livemode"])
            self.assertIsInstance(e["created"], int)
            self.assertTrue(e["api_version"])
        cs = evs[0]["data"]["object"]
        self.assertEqual(cs["id"], sess["id"])
        self.assertTrue(cs["customer"].startswith("cus_"))
        self.assertTrue(cs["subscription"].startswith("sub_"))
        self.assertEqual(cs["payment_status"], "paid")
        self.assertEqual(cs["mode"], "subscription")
        self.assertEqual(cs["client_reference_id"], "77")
        self.assertEqual(cs["metadata"], {"user_id": "77"})
        sub = evs[1]["data"]["object"]
        self.assertEqual(sub["id"], cs["subscription"])
        self.assertEqual(sub["status"], "active")
        self.assertEqual(sub["customer"], cs["customer"])
        self.assertEqual(sub["metadata"], {"user_id": "77"})
        self.assertAlmostEqual(sub["current_period_end"], time.time() + 30 * 86400, delta=120)
        self.assertEqual(sub["items"]["data"][0]["current_period_end"], sub["current_period_end"])
        inv = evs[2]["data"]["object"]
        self.assertEqual(inv["subscription"], sub["id"])
        self.assertEqual(inv["parent"]["subscription_details"]["subscription"], sub["id"])
        # the stored subscription can be re-read
        st, h, got = self.s.json("GET", "/v1/subscriptions/" + sub["id"], headers={"Authorization": "Bearer " + SKEY})
        self.assertEqual(st, 200)
        self.assertEqual(got["status"], "active")
        self.assertTrue(h["request-id"].startswith("req_"))
        st, _, r = self.s.json("GET", "/v1/subscriptions/sub_nope", headers={"Authorization": "Bearer " + SKEY})
        self.assertStripeError(st, r, 404, code="resource_missing")
        # completing twice sends nothing more
        st, _, _ = self.s.json("POST", "/__complete", {"session_id": sess["id"]})
        self.assertEqual(st, 409)
        self.assertEqual(len(self.rx.events), 3)
        # cancel
        st, _, res = self.s.json("POST", "/__cancel", {"subscription": sub["id"]})
        self.assertEqual(st, 200)
        last = self.rx.events[-1]
        self.assertTrue(last["ok"])
        self.assertEqual(last["event"]["type"], "customer.subscription.deleted")
        self.assertEqual(last["event"]["data"]["object"]["status"], "canceled")

    def test_pay_page_and_existing_customer(self):
        st, _, sess = self.create(customer="cus_Existing1")
        st, h, page = self.s.request("GET", "/pay/" + sess["id"])
        self.assertEqual(st, 200)
        self.assertIn(b"Payment succeeded", page)
        self.assertEqual(len(self.rx.events), 3)
        self.assertEqual(self.rx.events[0]["event"]["data"]["object"]["customer"], "cus_Existing1")
        st, _, page = self.s.request("GET", "/pay/" + sess["id"])
        self.assertIn(b"Already paid", page)
        self.assertEqual(len(self.rx.events), 3)
        self.assertEqual(self.s.request("GET", "/pay/cs_test_nope")[0], 404)

    def test_send_event(self):
        st, _, res = self.s.json("POST", "/__send_event", {
            "type": "invoice.payment_failed", "object": {"id": "in_1", "object": "invoice", "subscription": "sub_1"}})
        self.assertEqual(st, 200, res)
        rec = self.rx.events[-1]
        self.assertTrue(rec["ok"])
        self.assertEqual(rec["event"]["type"], "invoice.payment_failed")
        self.assertEqual(rec["event"]["data"]["object"]["id"], "in_1")
        # stale timestamp and wrong secret are refused by a correct verifier
        st, _, res = self.s.json("POST", "/__send_event", {"type": "x.y", "object": {}, "timestamp": 1700000000})
        self.assertFalse(self.rx.events[-1]["ok"])
        self.assertEqual(res["delivery"]["status"], 400)
        self.assertTrue(res["delivery"]["signature"].startswith("t=1700000000,v1="))
        self.s.json("POST", "/__send_event", {"type": "x.y", "object": {}, "secret": "whsec_other"})
        self.assertFalse(self.rx.events[-1]["ok"])
        self.s.json("POST", "/__send_event", {"type": "x.y", "object": {}, "multi": True})
        self.assertTrue(self.rx.events[-1]["ok"])
        # explicit id and redelivery keep the id
        st, _, res = self.s.json("POST", "/__send_event", {"type": "x.y", "object": {}, "id": "evt_fixed"})
        self.s.json("POST", "/__redeliver", {"event_id": "evt_fixed"})
        self.assertEqual([r["event"]["id"] for r in self.rx.events[-2:]], ["evt_fixed", "evt_fixed"])

    def test_requests_recorded(self):
        self.s.request("DELETE", "/__requests")
        self.create()
        st, _, reqs = self.s.json("GET", "/__requests")
        self.assertEqual(len(reqs), 1)
        self.assertEqual(reqs[0]["path"], "/v1/checkout/sessions")
        self.assertEqual(reqs[0]["params"]["line_items"], [{"price": "price_test_pro", "quantity": "1"}])
        self.assertEqual(reqs[0]["params"]["subscription_data"], {"metadata": {"user_id": "42"}})
        self.assertEqual(reqs[0]["status"], 200)


if __name__ == "__main__":
    # scripts/check reads the closing "N passed, M failed" line.
    result = unittest.main(exit=False).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.wasSuccessful() else 0)
