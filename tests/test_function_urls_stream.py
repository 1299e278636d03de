"""Function URLs in InvokeMode RESPONSE_STREAM (docs/wire.md §21.7), through a real HTTP
client reading the chunked body as it arrives.

Expected behaviour from AWS's "Invoking a response streaming enabled function using
Lambda function URLs" and "Writing response streaming-enabled Lambda functions": the
handler wrapped in `awslambda.streamifyResponse`; `awslambda.HttpResponseStream.from`
sets the status, headers and cookies (the prelude); without it the answer is 200 with
the stream's content type; the URL streams every invocation until the mode is set back
to BUFFERED.
"""
import http.client
import json
import os
import shutil
import tempfile
import time
import urllib.parse

import pytest

from conftest import Server
from invokeutil import create, create_py, make_zip

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

NODE = r'''
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  const q = event.queryStringParameters || {};
  const delay = Number(q.delay ?? 300);
  if (q.failAt === 'head') throw new Error('no stream at all');
  if (q.mode === 'http') {
    responseStream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 201,
      headers: { 'content-type': 'text/plain', 'x-streamed': 'yes' },
      cookies: ['a=1; Path=/', 'b=2'],
    });
  } else {
    responseStream.setContentType('application/x-ndjson');
  }
  for (let i = 0; i < 5; i++) {
    responseStream.write(JSON.stringify({ i, at: Date.now(), path: event.rawPath }) + '\n');
    if (q.failAt === String(i)) throw new Error('broke at ' + i);
    await new Promise((r) => setTimeout(r, delay));
  }
  responseStream.end();
});
'''

BUFFERED_PY = r'''
def handler(event, context):
    return {"statusCode": 202, "body": "buffered answer"}
'''


@pytest.fixture(scope="module")
def srv():
    d = tempfile.mkdtemp(prefix="quiver-test-")
    s = Server(d).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def lam(srv):
    return srv.client("lambda")


@pytest.fixture(scope="module")
def streaming_url(lam):
    name = create(lam, make_zip({"index.js": NODE}), runtime="nodejs20.x",
                  handler="index.handler", timeout=20)
    r = lam.create_function_url_config(
        FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM",
        Cors={"AllowOrigins": ["https://app.example"], "ExposeHeaders": ["x-streamed"]},
    )
    assert r["InvokeMode"] == "RESPONSE_STREAM"
    return name, r["FunctionUrl"]


def open_request(srv, url, path, headers=()):
    """Sends a GET to the URL (by host) and returns the connection and the response,
    whose body is still to be read."""
    hp = urllib.parse.urlsplit(srv.endpoint)
    c = http.client.HTTPConnection(hp.hostname, hp.port, timeout=60)
    c.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    c.putheader("Host", urllib.parse.urlsplit(url).netloc)
    for k, v in headers:
        c.putheader(k, v)
    c.endheaders()
    return c, c.getresponse()


def read_lines(resp):
    """The body's lines as they arrive, each with the time it was read (ms)."""
    out = []
    while True:
        line = resp.readline()
        if not line:
            return out
        out.append((time.time() * 1000, json.loads(line)))


def test_chunks_reach_the_client_as_they_are_written(srv, streaming_url):
    name, url = streaming_url
    c, r = open_request(srv, url, "/warm?delay=1")
    r.read()  # warm: no INIT inside the measured stream
    c.close()
    c, r = open_request(srv, url, "/s?delay=300")
    assert r.status == 200
    assert r.getheader("content-type") == "application/x-ndjson"
    assert r.getheader("transfer-encoding") == "chunked"
    assert r.getheader("x-amzn-RequestId")
    got = read_lines(r)
    c.close()
    assert [d["i"] for _, d in got] == [0, 1, 2, 3, 4]
    assert {d["path"] for _, d in got} == {"/s"}
    # The first line was in the client's hands before the function wrote its last one.
    first_seen, last_written = got[0][0], got[-1][1]["at"]
    assert first_seen < last_written, (first_seen, last_written)


def test_prelude_sets_status_headers_and_cookies(srv, streaming_url):
    _, url = streaming_url
    c, r = open_request(srv, url, "/h?mode=http&delay=10",
                        headers=[("Origin", "https://app.example")])
    body = r.read()
    c.close()
    assert r.status == 201
    assert r.getheader("content-type") == "text/plain"
    assert r.getheader("x-streamed") == "yes"
    assert [v for k, v in r.getheaders() if k.lower() == "set-cookie"] == ["a=1; Path=/", "b=2"]
    # The URL's CORS settings apply to streamed answers too.
    assert r.getheader("access-control-allow-origin") == "https://app.example"
    assert r.getheader("access-control-expose-headers") == "x-streamed"
    lines = [json.loads(x) for x in body.decode().splitlines()]
    assert [d["i"] for d in lines] == [0, 1, 2, 3, 4]
    assert b"\0" not in body


def test_failure_before_the_first_byte_is_502(srv, streaming_url):
    _, url = streaming_url
    c, r = open_request(srv, url, "/f?failAt=head")
    body = r.read()
    c.close()
    assert r.status == 502
    assert json.loads(body) == {"Message": "Internal Server Error"}


def test_failure_mid_stream_cuts_the_body_short(srv, streaming_url):
    _, url = streaming_url
    c, r = open_request(srv, url, "/m?failAt=2&delay=10")
    assert r.status == 200
    # The head went out with the first chunk; the failure can only cut the body short
    # (no last chunk), which a client sees as an incomplete read.
    with pytest.raises(http.client.IncompleteRead) as e:
        r.read()
    c.close()
    seen = [json.loads(x)["i"] for x in e.value.partial.decode().splitlines()]
    assert seen == [0, 1, 2]


def test_a_buffered_handler_behind_a_streaming_url_gets_its_result_as_the_body(srv, lam):
    name = create_py(lam, BUFFERED_PY)
    url = lam.create_function_url_config(
        FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM")["FunctionUrl"]
    c, r = open_request(srv, url, "/")
    body = r.read()
    c.close()
    # A streaming URL does not read a payload 2.0 response description: the result is
    # passed through as it is.
    assert r.status == 200
    assert json.loads(body) == {"statusCode": 202, "body": "buffered answer"}
    # Back to BUFFERED: the same result is a response description again.
    upd = lam.update_function_url_config(FunctionName=name, InvokeMode="BUFFERED")
    assert upd["InvokeMode"] == "BUFFERED"
    assert lam.get_function_url_config(FunctionName=name)["InvokeMode"] == "BUFFERED"
    c, r = open_request(srv, url, "/")
    body = r.read()
    c.close()
    assert (r.status, body) == (202, b"buffered answer")


def test_invoke_mode_in_the_control_plane(lam, streaming_url):
    name, _ = streaming_url
    assert lam.get_function_url_config(FunctionName=name)["InvokeMode"] == "RESPONSE_STREAM"
    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [u["InvokeMode"] for u in listed] == ["RESPONSE_STREAM"]
    with pytest.raises(lam.exceptions.ClientError) as e:
        lam.update_function_url_config(FunctionName=name, InvokeMode="STREAM")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    # An update that does not name the mode keeps it.
    upd = lam.update_function_url_config(FunctionName=name, AuthType="NONE")
    assert upd["InvokeMode"] == "RESPONSE_STREAM"
