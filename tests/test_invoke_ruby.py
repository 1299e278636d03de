"""The built-in Ruby runtime (runtimes/ruby/bootstrap.rb) on the ruby3.3 image built by
scripts/build-images.sh: Debian trixie minbase with its ruby 3.3 and nothing else - no
/var/runtime/bootstrap, no Entrypoint - so Quiver's own bootstrap runs on the image's
interpreter (docs/wire.md §17). The host has no Ruby that matches a Lambda id.

Covers `file.method` and `file.Module::Class.method` handlers called with the `event:`
and `context:` keywords, the context readers, prints in the Tail log, and Lambda's error
shapes for an invoke error (`Function<Class>`) and init errors (`Init<Class>`)."""
import base64
import json
import os
import shutil
import subprocess
import tempfile

import pytest
from botocore.exceptions import ClientError

from conftest import QUIVER_BIN, Server
from invokeutil import (
    FAST_MB,
    FIXTURES,
    LOG_STREAM_RE,
    assert_ok,
    assert_unhandled,
    create,
    fn_arn,
    invoke,
    make_zip,
    request_id,
    tail_lines,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

IMAGE = os.path.join(FIXTURES, "ruby3.3-image.tar")

APP = r'''
require 'json'

COUNT = [0]

def handler(event:, context:)
  COUNT[0] += 1
  puts "MARK-stdout #{event['m']} é"
  $stderr.puts "MARK-stderr #{event['m']}"
  raise TypeError, "no implicit conversion of #{event['fail']}" if event.key?('fail')

  {
    'count' => COUNT[0],
    'echo' => event,
    'ruby' => RUBY_VERSION,
    'request_id' => context.aws_request_id,
    'function_name' => context.function_name,
    'function_version' => context.function_version,
    'arn' => context.invoked_function_arn,
    'memory' => context.memory_limit_in_mb,
    'log_group' => context.log_group_name,
    'log_stream' => context.log_stream_name,
    'deadline_ms' => context.deadline_ms,
    'remaining' => context.get_remaining_time_in_millis,
    'client_context' => context.client_context,
    'identity' => context.identity,
    'encoding' => Encoding.default_external.to_s,
    'env' => %w[AWS_EXECUTION_ENV LAMBDA_TASK_ROOT _HANDLER QUIVER_IMAGE].to_h { |k| [k, ENV[k]] },
    'os' => File.read('/etc/os-release')[/^VERSION_CODENAME=(.*)$/, 1],
  }
end
'''

NESTED = r'''
module Outer
  class Inner
    def self.process(event:, context:)
      "#{event['greet']} from #{name} (#{context.function_name})"
    end
  end
end
'''


def quiver(*args, timeout=300):
    return subprocess.run([QUIVER_BIN, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def rserver():
    """A server whose data dir has the ruby3.3 image imported before it starts."""
    if not os.path.exists(IMAGE):
        pytest.fail(f"{IMAGE} is missing: run scripts/build-images.sh ruby3.3")
    d = tempfile.mkdtemp(prefix="quiver-test-ruby-")
    s = None
    try:
        p = quiver("runtime", "import", "ruby3.3", IMAGE, "--data-dir", d)
        assert p.returncode == 0, p.stderr
        s = Server(d).start()
        yield s
    finally:
        if s is not None:
            s.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def rlam(rserver):
    return rserver.client("lambda")


def rfn(lam, files, handler, **kw):
    return create(lam, make_zip(files), runtime="ruby3.3", handler=handler, **kw)


def test_the_image_is_listed_as_ruby33_with_the_built_in_bootstrap(rserver):
    p = quiver("runtime", "ls", "--json", "--endpoint", rserver.endpoint)
    assert p.returncode == 0, p.stderr
    rts = {r["Id"]: r for r in json.loads(p.stdout)["Runtimes"]}
    rt = rts["ruby3.3"]
    assert rt["Source"] == "image", rt
    assert rt["Interpreter"] == "/usr/bin/ruby3.3", rt
    assert rt["Image"]["Command"] == [], "no command of its own: the built-in bootstrap runs"
    assert rt["Image"]["Os"] == "Debian GNU/Linux 13 (trixie)"
    assert "ruby3.2" not in rts and "ruby3.4" not in rts, "no host Ruby matches a Lambda id"


def test_file_method_handler_gets_event_and_context_and_prints_to_the_log(rlam):
    name = rfn(rlam, {"app.rb": APP}, "app.handler", timeout=9)
    event = {"m": "one", "nested": {"k": [1, 2.5, None, True]}, "s": "é"}
    resp, _, doc = invoke(rlam, name, event, LogType="Tail")
    assert_ok(resp, doc)
    assert doc["count"] == 1
    assert doc["echo"] == event
    assert doc["ruby"].startswith("3.3."), doc["ruby"]
    assert doc["request_id"] == request_id(resp)
    assert doc["function_name"] == name
    assert doc["function_version"] == "$LATEST"
    assert doc["arn"] == fn_arn(name)
    assert doc["memory"] == str(FAST_MB), "Lambda's Ruby context has it as the variable's text"
    assert doc["log_group"] == f"/aws/lambda/{name}"
    assert LOG_STREAM_RE.match(doc["log_stream"]), doc["log_stream"]
    assert 0 < doc["remaining"] <= 9000, doc
    assert doc["deadline_ms"] > 1_000_000_000_000, doc
    assert doc["client_context"] is None and doc["identity"] is None
    assert doc["encoding"] == "UTF-8"
    assert doc["env"] == {
        "AWS_EXECUTION_ENV": "AWS_Lambda_ruby3.3",
        "LAMBDA_TASK_ROOT": "/var/task",
        "_HANDLER": "app.handler",
        "QUIVER_IMAGE": "ruby3.3",
    }
    assert doc["os"] == "trixie", "the function runs on the image's root"
    lines = tail_lines(resp)
    assert "MARK-stdout one é" in lines, lines
    assert "MARK-stderr one" in lines, lines

    cc = {"custom": {"tenant": "t-1"}, "env": {"locale": "en"}, "client": {"app_title": "quiver"}}
    b64 = base64.b64encode(json.dumps(cc).encode()).decode()
    resp, _, doc = invoke(rlam, name, {"m": "two"}, ClientContext=b64)
    assert_ok(resp, doc)
    assert doc["count"] == 2, "the second invoke must reuse the warm interpreter"
    assert doc["request_id"] == request_id(resp)
    assert doc["client_context"] == cc


def test_module_class_method_handler_in_a_subdirectory(rlam):
    name = rfn(rlam, {"lib/nested.rb": NESTED}, "lib/nested.Outer::Inner.process")
    resp, _, doc = invoke(rlam, name, {"greet": "hi"})
    assert_ok(resp, doc)
    assert doc == f"hi from Outer::Inner ({name})"


def test_an_invoke_error_has_lambdas_ruby_shape_and_is_logged(rlam):
    name = rfn(rlam, {"app.rb": APP}, "app.handler")
    resp, _, doc = invoke(rlam, name, {"m": "x", "fail": "String into Integer"}, LogType="Tail")
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "Function<TypeError>", doc
    assert doc["errorMessage"] == "no implicit conversion of String into Integer"
    trace = doc["stackTrace"]
    assert isinstance(trace, list) and trace, doc
    assert trace[0].startswith("/var/task/app.rb:"), trace
    assert "handler" in trace[0], trace
    assert not any("bootstrap.rb" in t for t in trace), "platform frames must not show"
    lines = tail_lines(resp)
    assert "MARK-stdout x é" in lines, lines
    assert any("Function<TypeError>: no implicit conversion of String into Integer" in l for l in lines), lines
    # The environment survives a function error.
    resp, _, doc = invoke(rlam, name, {"m": "after"})
    assert_ok(resp, doc)
    assert doc["count"] == 2


def check_init_error(lam, name, error_type, message_part):
    for _ in range(2):
        resp, _, doc = invoke(lam, name, {})
        assert_unhandled(resp, doc)
        assert doc.get("errorType") == error_type, doc
        assert message_part in doc["errorMessage"], doc
        assert isinstance(doc.get("stackTrace"), list), doc


def test_init_errors_have_lambdas_ruby_shape(rlam):
    cases = [
        ({"app.rb": "raise ArgumentError, 'bad config at load'\n"}, "app.handler",
         "Init<ArgumentError>", "bad config at load"),
        ({"app.rb": APP}, "missing.handler", "Init<LoadError>", "cannot load such file -- /var/task/missing"),
        ({"app.rb": "def handler(event:, context:\n"}, "app.handler", "Init<SyntaxError>", "app.rb"),
        ({"app.rb": APP}, "app.nothere", "Runtime.HandlerNotFound", "nothere"),
        ({"app.rb": APP}, "app.Nope::Missing.run", "Init<NameError>", "Nope"),
    ]
    for files, handler, error_type, part in cases:
        name = rfn(rlam, files, handler)
        check_init_error(rlam, name, error_type, part)


def test_other_ruby_ids_are_refused_with_how_to_add_them(rlam):
    with pytest.raises(ClientError) as e:
        create(rlam, make_zip({"app.rb": APP}), runtime="ruby3.4", handler="app.handler")
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidParameterValueException", err
    assert "The runtime parameter of ruby3.4 is not available on this server" in err["Message"], err
    assert "quiver runtime import ruby3.4 <image>" in err["Message"], err
