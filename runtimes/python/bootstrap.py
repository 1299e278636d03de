"""Quiver's built-in runtime for python3.x functions.

A small, stdlib-only client of the Lambda Runtime API (2018-06-01). The platform starts it as

    /usr/bin/python3.11 -I -S /var/runtime/bootstrap.py

with cwd = LAMBDA_TASK_ROOT and `_HANDLER=path/module.function`. `-I -S` keep the host's
site-packages and PYTHON* variables out and save start-up time, so this file builds
sys.path itself, the way Lambda's runtime does.

Behaviour (error shapes and messages, context object, event decoding) follows
awslambdaric, so that functions see what they see on AWS Lambda. Deliberate differences:
  * JSON is encoded with the stdlib `json` (awslambdaric uses simplejson); the output is
    the same, Decimal values included (written as their exact text).
  * The X-Ray error-cause header is not sent.
  * The Runtime API client is a ~100-line HTTP/1.1 client on `socket` (TCP_NODELAY,
    keep-alive), not http.client, whose import (ssl, email) costs ~30 ms per cold start.
  * A missing handler function is an init error (as current awslambdaric), so the
    environment is discarded rather than kept warm returning the error.
  * The `logging` root handler (Lambda's `[LEVEL]\\t<ts>\\t<request id>\\t<msg>` lines) is
    installed when the function first imports `logging`, not at start-up, so functions
    that never log don't pay for importing it.
"""

import os
import sys

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
_TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
_PYVER = "python%d.%d" % sys.version_info[:2]
# Host packages (boto3 and its deps) are offered lazily: see _HostPackages.
_HOST_DIST = os.environ.pop("_QUIVER_PY_HOST_DIST", "/usr/lib/python3/dist-packages")

sys.path[:0] = [
    _TASK_ROOT,
    "/opt/python/lib/%s/site-packages" % _PYVER,
    "/opt/python",
    _RUNTIME_DIR,
]

import json  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
from importlib import import_module  # noqa: E402
from importlib.machinery import PathFinder  # noqa: E402

ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"

_current_request_id = None


# ---------------------------------------------------------------- lazy import hooks


class _LoggingLoader(object):
    """Wraps the real `logging` loader; after it ran, installs Lambda's root handler."""

    def __init__(self, real):
        self.real = real

    def create_module(self, spec):
        return self.real.create_module(spec)

    def exec_module(self, module):
        self.real.exec_module(module)
        _setup_logging(module)


class _ImportHooks(object):
    """First on sys.meta_path: intercepts only `logging`, to add the Lambda handler."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname != "logging":
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _LoggingLoader(spec.loader)
        return spec


class _HostPackages(object):
    """Last on sys.meta_path: on an import miss, offers the host's dist-packages, but only
    when boto3 is installed there (that is what Lambda's Python runtimes bundle).
    Checked at the first miss, so start-up never touches that directory."""

    enabled = None

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if path is not None:  # submodules are found through their package's __path__
            return None
        if cls.enabled is None:
            cls.enabled = os.path.isdir(os.path.join(_HOST_DIST, "boto3"))
        if not cls.enabled:
            return None
        spec = PathFinder.find_spec(fullname, [_HOST_DIST])
        if spec is not None and _HOST_DIST not in sys.path:
            sys.path.append(_HOST_DIST)  # dependencies of boto3 resolve normally from now on
        return spec


sys.meta_path.insert(0, _ImportHooks)
sys.meta_path.append(_HostPackages)


def _setup_logging(logging):
    logging.Formatter.converter = time.gmtime

    class _RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _current_request_id or ""
            return True

    class _StdoutHandler(logging.Handler):
        def emit(self, record):
            try:
                sys.stdout.write(self.format(record))
            except Exception:
                self.handleError(record)

    h = _StdoutHandler()
    h.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    h.addFilter(_RequestIdFilter())
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    root = logging.getLogger()
    if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)
    root.addHandler(h)


# ---------------------------------------------------------------- errors


class FaultException(Exception):
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

    def __init__(self, exception_type, msg, trace=None):
        Exception.__init__(self, msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace


def make_error(message, error_type, stack_trace, request_id=None):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def error_from_exception(exc, request_id=None):
    """awslambdaric's shape: frames of this bootstrap before the user's code are dropped."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    for i, f in enumerate(frames):
        if not f.filename.endswith("/bootstrap.py"):
            frames = frames[i:]
            break
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def log_error(err):
    line = "[ERROR]"
    if err.get("errorType"):
        line += " " + err["errorType"]
    if err.get("errorMessage"):
        if err.get("errorType"):
            line += ":"
        line += " " + err["errorMessage"]
    lines = [line]
    trace = err.get("stackTrace")
    if trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in trace:
            if element == "":
                lines.append("")
                continue
            for t in element.splitlines():
                stripped = t.lstrip(" ")
                lines.append(ERROR_LOG_IDENT * (len(t) - len(stripped)) + stripped)
    sys.stdout.write(ERROR_LOG_LINE_TERMINATE.join(lines) + "\n")


# ---------------------------------------------------------------- handler loading


def load_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            FaultException.MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, e)
        )
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        module = import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '{}': {}".format(modname, e),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(modname, e),
            trace,
        )
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(fname, modname),
        )


# ---------------------------------------------------------------- context


def _obj_from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    for k in cls.__slots__:
        setattr(obj, k, d.get(k))
    return obj


def _slots_repr(obj):
    """awslambdaric's repr of its context parts: `Name([field=value,...])`."""
    fields = ",".join("%s=%s" % (k, getattr(obj, k, None)) for k in type(obj).__slots__)
    return "%s([%s])" % (type(obj).__name__, fields)


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]
    __repr__ = _slots_repr


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]
    __repr__ = _slots_repr


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]
    __repr__ = _slots_repr


# The only keys of a client context's `w3c` member that LambdaContext.w3c() returns.
W3C_ALLOWED_FIELDS = ("traceparent", "tracestate", "baggage")


def _extract_and_strip_w3c(client_context):
    """Pops `w3c` out of the parsed client context (so `context.client_context` never
    shows it) and returns its allowlisted string fields, as awslambdaric does."""
    if not isinstance(client_context, dict) or "w3c" not in client_context:
        return {}
    raw = client_context.pop("w3c")
    if not isinstance(raw, dict):
        return {}
    return {k: raw[k] for k in W3C_ALLOWED_FIELDS if isinstance(raw.get(k), str)}


class LambdaContext(object):
    def __init__(self, request_id, client_context, identity, deadline_ms, arn, tenant_id=None):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = arn
        self.tenant_id = tenant_id
        self._w3c_fields = _extract_and_strip_w3c(client_context)
        self.client_context = _obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _obj_from_dict(Client, self.client_context.client)
        self.identity = CognitoIdentity()
        self.identity.cognito_identity_id = None
        self.identity.cognito_identity_pool_id = None
        if identity is not None:
            self.identity.cognito_identity_id = identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = identity.get("cognitoIdentityPoolId")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        left = self._deadline_ms - int(time.time() * 1000)
        return left if left > 0 else 0

    def w3c(self):
        """The W3C trace context the caller sent in the client context's `w3c` member."""
        return dict(self._w3c_fields)

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id={},log_group_name={},log_stream_name={},"
            "function_name={},memory_limit_in_mb={},function_version={},"
            "invoked_function_arn={},client_context={},identity={},tenant_id={}])".format(
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )


def _parse_json_header(value, name):
    try:
        return json.loads(value)
    except Exception as e:
        raise FaultException(
            FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR,
            "Unable to parse {} JSON: {}".format(name, e),
        )


# ---------------------------------------------------------------- Runtime API client


class _Response(object):
    __slots__ = ["status", "headers"]

    def __init__(self, status, headers):
        self.status = status
        self.headers = headers

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)


class RuntimeClient(object):
    """A minimal HTTP/1.1 keep-alive client for the Runtime API.

    Written on `socket` instead of `http.client` because importing http.client pulls in
    ssl and email (~30 ms of every cold start on the reference host); the Runtime API
    needs only GET/POST with Content-Length bodies on one local connection.
    Reconnects once if the connection turns out to be broken."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.addr = (host.strip("[]"), int(port))
        self.host_header = address.encode("latin-1")
        self.sock = None
        self.rfile = None

    def _connect(self):
        sock = socket.create_connection(self.addr)
        # Nagle + delayed ACK would add ~40 ms to every small request.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.rfile = sock.makefile("rb")

    def close(self):
        if self.sock is not None:
            try:
                self.rfile.close()
                self.sock.close()
            except OSError:
                pass
        self.sock = self.rfile = None

    def _exchange(self, method, path, body, headers):
        if self.sock is None:
            self._connect()
        head = [b"%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, self.host_header)]
        for k, v in headers:
            head.append(b"%s: %s\r\n" % (k, v.encode("latin-1")))
        if body is not None:
            head.append(b"Content-Length: %d\r\n" % len(body))
        head.append(b"\r\n")
        msg = b"".join(head)
        if body is not None and len(body) < 65536:
            self.sock.sendall(msg + body)
        else:
            self.sock.sendall(msg)
            if body is not None:
                self.sock.sendall(body)
        rf = self.rfile
        line = rf.readline(65537)
        if not line:
            raise ConnectionError("Runtime API closed the connection")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ConnectionError("bad status line from the Runtime API: %r" % line)
        status = int(parts[1])
        hdrs = {}
        while True:
            line = rf.readline(65537)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise ConnectionError("Runtime API closed the connection")
            k, _, v = line.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if "content-length" in hdrs:
            data = rf.read(int(hdrs["content-length"]))
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(rf.readline(65537).split(b";", 1)[0], 16)
                if size == 0:
                    while rf.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(rf.read(size))
                rf.readline(65537)
            data = b"".join(chunks)
        else:
            data = rf.read()
            self.close()
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return status, _Response(status, hdrs), data

    def request(self, method, path, body=None, headers=()):
        method = method.encode("ascii")
        path = path.encode("ascii")
        try:
            return self._exchange(method, path, body, headers)
        except (ConnectionError, OSError):
            self.close()
            return self._exchange(method, path, body, headers)

    def next(self):
        return self.request("GET", "/2018-06-01/runtime/invocation/next")

    def post(self, path, body, headers):
        if isinstance(body, str):
            body = body.encode("utf-8")
        status, _, data = self.request("POST", path, body, headers)
        if status != 202:
            sys.stderr.write(
                "quiver runtime: POST {} answered {}: {}\n".format(
                    path, status, data.decode("utf-8", "replace")
                )
            )
        return status

    def post_result(self, request_id, body, content_type):
        path = "/2018-06-01/runtime/invocation/%s/response" % request_id
        return self.post(path, body, ((b"Content-Type", content_type),))

    def post_error(self, request_id, err):
        path = "/2018-06-01/runtime/invocation/%s/error" % request_id
        return self.post(path, _to_json(err), ((b"Content-Type", "application/json"),))

    def post_init_error(self, err):
        headers = (
            (b"Content-Type", "application/json"),
            (b"Lambda-Runtime-Function-Error-Type", err["errorType"]),
        )
        return self.post("/2018-06-01/runtime/init/error", _to_json(err), headers)


# awslambdaric writes non-ASCII characters unescaped from python3.12 on (it keys this
# on AWS_EXECUTION_ENV, which Quiver sets from the interpreter) and escapes them before.
_ENSURE_ASCII = sys.version_info < (3, 12)

# Decimal values are written as their exact text, as awslambdaric (simplejson RawJSON)
# does: DynamoDB numbers arrive as Decimal and must not lose digits through float. The
# stdlib encoder cannot emit raw text, so each Decimal is encoded as a placeholder string
# (NUL + a per-process random token: no real string can match by accident) and the
# placeholders are replaced afterwards. Costs nothing when no Decimal is present.
_RAW_TOKEN = "\x00qvdec" + os.urandom(8).hex() + ":"


def _is_decimal(o):
    return any(c.__name__ == "Decimal" and c.__module__ in ("decimal", "_decimal", "_pydecimal")
               for c in type(o).__mro__)


def _to_json(obj):
    raw = []

    def default(o):
        if _is_decimal(o):
            if o.is_nan():
                return float("nan")
            raw.append(str(o))
            return "%s%d\x00" % (_RAW_TOKEN, len(raw) - 1)
        raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)

    text = json.dumps(obj, default=default, ensure_ascii=_ENSURE_ASCII)
    if raw:
        import re

        marker = json.dumps(_RAW_TOKEN)[1:-1]
        pattern = '"' + re.escape(marker) + r'(\d+)\\u0000"'
        text = re.sub(pattern, lambda m: raw[int(m.group(1))], text)
    return text


# ---------------------------------------------------------------- main loop


def _flush():
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass


def handle_one(client, handler, resp, body):
    global _current_request_id
    request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
    _current_request_id = request_id
    trace_id = resp.getheader("Lambda-Runtime-Trace-Id")
    if trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    err = None
    try:
        cc = resp.getheader("Lambda-Runtime-Client-Context")
        ident = resp.getheader("Lambda-Runtime-Cognito-Identity")
        context = LambdaContext(
            request_id,
            _parse_json_header(cc, "Client Context") if cc else None,
            _parse_json_header(ident, "Cognito Identity") if ident else None,
            int(resp.getheader("Lambda-Runtime-Deadline-Ms") or 0),
            resp.getheader("Lambda-Runtime-Invoked-Function-Arn"),
            resp.getheader("Lambda-Runtime-Aws-Tenant-Id"),
        )
        if resp.getheader("Content-Type") == "application/json":
            try:
                event = json.loads(body)
            except Exception as e:
                raise FaultException(
                    FaultException.UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(e)
                )
        else:
            event = body
        result = handler(event, context)
        if isinstance(result, bytes):
            out, content_type = result, "application/unknown"
        else:
            try:
                out, content_type = _to_json(result), "application/json"
            except Exception as e:
                raise FaultException(
                    FaultException.MARSHAL_ERROR, "Unable to marshal response: {}".format(e)
                )
    except FaultException as e:
        err = make_error(e.msg, e.exception_type, e.trace, request_id)
    except Exception as e:
        err = error_from_exception(e, request_id)
    if err is not None:
        log_error(err)
        _flush()
        client.post_error(request_id, err)
    else:
        _flush()
        client.post_result(request_id, out, content_type)


def main():
    # Prints must land in the invocation's log as they happen, not at exit.
    for s in (sys.stdout, sys.stderr):
        try:
            s.reconfigure(line_buffering=True, write_through=True)
        except Exception:
            pass
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except FaultException as e:
        err = make_error(e.msg, e.exception_type, e.trace)
        log_error(err)
        _flush()
        client.post_init_error(err)
        sys.exit(1)
    except Exception as e:
        err = error_from_exception(e)
        log_error(err)
        _flush()
        client.post_init_error(err)
        sys.exit(1)
    while True:
        status, resp, body = client.next()
        if status != 200:
            sys.stderr.write("quiver runtime: /next answered %d; exiting\n" % status)
            sys.exit(1)
        handle_one(client, handler, resp, body)


if __name__ == "__main__":
    main()
