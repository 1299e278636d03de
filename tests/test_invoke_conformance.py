"""Quiver's own runtimes against the unchanged official clients: the same handler code,
run once by Quiver's bootstrap (python3.11 / nodejs20.x) and once by awslambdaric /
aws-lambda-ric (the fixtures, as provided.al2023), must give the caller the same bytes —
responses and error documents alike (stack traces compared by shape only)."""
import io
import json
import zipfile

import pytest

from invokeutil import create, fixture_zip, invoke, make_zip

PY_CONF = r'''
import decimal

class ConfError(Exception):
    pass

def handler(event, context):
    kind = event["kind"]
    if kind == "value":
        return event["value"]
    if kind == "unicode":
        return {"s": "é日本\u2028", "emoji": "\U0001F600"}
    if kind == "floats":
        return [0.1, 1e100, 1.0, -0.0, 12345678901234567890]
    if kind == "decimal":
        return {"d": decimal.Decimal("1.50"), "i": decimal.Decimal("3")}
    if kind == "bytes":
        return b"\x00raw\xff"
    if kind == "raise":
        raise ConfError("conformance says no: %s" % event.get("why", ""))
    if kind == "marshal":
        return {"s": {1, 2}}
    if kind == "str-exc":
        raise Exception("")
    if kind == "args-exc":
        raise ValueError(1, "two")
    if kind == "key-error":
        return {}["missing"]
    if kind == "unicode-exc":
        raise RuntimeError("é日本")
    if kind == "tuple":
        return (1, "a", None)
    if kind == "nan":
        return [float("nan"), float("inf")]
    return None
'''

NODE_CONF = r'''
class ConfError extends Error {}
ConfError.prototype.name = 'ConfError';
export const handler = async (event) => {
  switch (event.kind) {
    case 'value': return event.value;
    case 'unicode': return { s: 'é日本\u2028', emoji: '\u{1F600}' };
    case 'floats': return [0.1, 1e100, 1.0, -0.0, 12345678901234567890];
    case 'undefined': return undefined;
    case 'raise': throw new ConfError(`conformance says no: ${event.why || ''}`);
    case 'string-throw': throw 'just a string';
    case 'circular': { const o = {}; o.o = o; return o; }
    case 'throw-object': throw { code: 7, text: 'plain object' };
    case 'throw-number': throw 42;
    case 'props': { const e = new RangeError('with props'); e.code = 'E_X'; throw e; }
    case 'bigint': return { n: 10n };
    default: return null;
  }
};
'''

VALUES = [{"a": 1, "b": [True, None, "x"]}, "text", 42, [], {}, None, "é"]
PY_CASES = [{"kind": "value", "value": v} for v in VALUES] + [
    {"kind": k} for k in ("unicode", "floats", "decimal", "bytes", "raise", "marshal", "str-exc", "args-exc",
                          "key-error", "unicode-exc", "tuple", "nan", "none")
]
NODE_CASES = [{"kind": "value", "value": v} for v in VALUES] + [
    {"kind": k} for k in ("unicode", "floats", "undefined", "raise", "string-throw", "circular", "throw-object",
                          "throw-number", "props", "bigint", "none")
]


def with_modules(fixture, files):
    """The fixture package plus handler modules of ours (appended: nothing recompressed)."""
    buf = io.BytesIO(fixture_zip(fixture))
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as z:
        for name, source in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            z.writestr(info, source)
    return buf.getvalue()


def comparable(body, function_error):
    """The answer with stack traces reduced to their shape (paths differ by design)."""
    if not function_error:
        return body
    doc = json.loads(body)
    for key in ("stackTrace", "trace"):
        if key in doc:
            doc[key] = ("list", len(doc[key]) > 0)
    doc.pop("requestId", None)
    return doc


def run_cases(lam, ours, official, cases):
    for case in cases:
        r1, b1, _ = invoke(lam, ours, case)
        r2, b2, _ = invoke(lam, official, case)
        fe1, fe2 = r1.get("FunctionError"), r2.get("FunctionError")
        assert fe1 == fe2, (case, b1, b2)
        assert comparable(b1, fe1) == comparable(b2, fe2), (case, b1, b2)


def test_python_bootstrap_matches_awslambdaric(lam):
    ours = create(lam, make_zip({"conf.py": PY_CONF}), handler="conf.handler")
    official = create(lam, with_modules("python-ric.zip", {"conf.py": PY_CONF}), runtime="provided.al2023",
                      handler="conf.handler", env={"QUIVER_FIXTURE_HANDLER": "conf.handler"})
    run_cases(lam, ours, official, PY_CASES)


def test_node_bootstrap_matches_aws_lambda_ric(lam):
    ours = create(lam, make_zip({"conf.mjs": NODE_CONF}), runtime="nodejs20.x", handler="conf.handler")
    official = create(lam, with_modules("node-ric.zip", {"conf.mjs": NODE_CONF}), runtime="provided.al2023",
                      handler="conf.handler", env={"QUIVER_FIXTURE_HANDLER": "conf.handler"})
    run_cases(lam, ours, official, NODE_CASES)


# Init failures: (module file, its source, handler). The answer's type and message must
# match the official client's. The node-ric package says "type": "module", so CommonJS
# cases live in cjs/ with their own package.json, in both packages.
PY_INIT = [
    ("imp.py", "import quiver_not_installed\ndef handler(e, c):\n    return 1\n", "imp.handler"),
    ("syn.py", "def handler(e, c)\n    return 1\n", "syn.handler"),
    ("miss.py", "def other(e, c):\n    return 1\n", "miss.handler"),
    ("boom.py", "raise KeyError('at import')\ndef handler(e, c):\n    return 1\n", "boom.handler"),
    ("deep.py", "def handler(e, c):\n    return 1\n", "nodir/deep.handler"),
]
NODE_INIT = [
    ("cjs/imp.js", "require('quiver-not-installed');\nexports.handler = async () => 1;\n", "cjs/imp.handler"),
    ("cjs/syn.js", "exports.handler = async () => {\n", "cjs/syn.handler"),
    ("cjs/miss.js", "exports.other = async () => 1;\n", "cjs/miss.handler"),
    ("cjs/notfn.js", "exports.handler = 5;\n", "cjs/notfn.handler"),
    ("cjs/boom.js", "throw new SyntaxError('thrown, not parsed');\n", "cjs/boom.handler"),
    ("cjs/throwobj.js", "throw { not: 'an error' };\n", "cjs/throwobj.handler"),
    ("esm.mjs", "import x from 'quiver-not-installed';\nexport const handler = async () => x;\n", "esm.handler"),
    ("esm2.mjs", "export const other = 1;\n", "esm2.handler"),
    ("cjs/none.js", "exports.handler = async () => 1;\n", "cjs/absent.handler"),
]
NODE_INIT_EXTRA = {"cjs/package.json": '{"type": "commonjs"}'}


def init_answer(lam, name):
    resp, body, doc = invoke(lam, name, {})
    assert resp.get("FunctionError") == "Unhandled", body
    return {k: v for k, v in doc.items() if k in ("errorType", "errorMessage")}


def normalise(answer):
    """Node's messages carry a require stack with paths that differ by design."""
    msg = answer.get("errorMessage", "")
    return {**answer, "errorMessage": msg.split("\nRequire stack:")[0]}


def compare_init_errors(lam, cases, runtime, fixture, extra=None):
    files = {f: src for f, src, _ in cases}
    files.update(extra or {})
    ours = create(lam, make_zip(files), runtime=runtime, handler=cases[0][2])
    official = create(lam, with_modules(fixture, files), runtime="provided.al2023", handler="x")
    mismatches = []
    for _, _, handler in cases:
        lam.update_function_configuration(FunctionName=ours, Handler=handler)
        lam.update_function_configuration(FunctionName=official, Environment={"Variables": {"QUIVER_FIXTURE_HANDLER": handler}})
        a, b = normalise(init_answer(lam, ours)), normalise(init_answer(lam, official))
        if a != b:
            mismatches.append((handler, a, b))
    assert not mismatches, "\n".join(f"{h}:\n  quiver:   {a}\n  official: {b}" for h, a, b in mismatches)


def test_python_init_errors_match_awslambdaric(lam):
    compare_init_errors(lam, PY_INIT, "python3.11", "python-ric.zip")


def test_node_init_errors_match_aws_lambda_ric(lam):
    compare_init_errors(lam, NODE_INIT, "nodejs20.x", "node-ric.zip", NODE_INIT_EXTRA)


# What a handler sees of its context object: attribute names and value types (values
# that differ by design — ids, stream names, times — are compared by type only).
PY_CONTEXT = r'''
def _shape(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return type(v).__name__
    return {k: _shape(getattr(v, k, None)) for k in sorted(a for a in dir(v) if not a.startswith("_"))
            if not callable(getattr(v, k, None))}

def handler(event, context):
    public = sorted(a for a in dir(context) if not a.startswith("_"))
    return {
        "attrs": public,
        "shape": {a: _shape(getattr(context, a)) for a in public if not callable(getattr(context, a))},
        "callables": [a for a in public if callable(getattr(context, a))],
        "remaining_type": type(context.get_remaining_time_in_millis()).__name__,
        "fn": context.function_name, "version": context.function_version,
        "mem": context.memory_limit_in_mb, "group": context.log_group_name,
        "custom": context.client_context.custom if context.client_context else None,
        "w3c": context.w3c(),
        "cc_has_w3c": hasattr(context.client_context, "w3c"),
        "tenant": context.tenant_id,
        "repr": repr(context).replace(context.aws_request_id, "<rid>").replace(context.log_stream_name, "<stream>").replace(context.function_name, "<name>"),
    }
'''

NODE_CONTEXT = r'''
export const handler = async (event, context) => {
  const keys = Object.keys(context).sort();
  const shape = {};
  for (const k of keys) shape[k] = typeof context[k];
  return {
    keys, shape,
    waits: context.callbackWaitsForEmptyEventLoop,
    remainingType: typeof context.getRemainingTimeInMillis(),
    fn: context.functionName, version: context.functionVersion, mem: context.memoryLimitInMB,
    group: context.logGroupName,
    custom: context.clientContext ? context.clientContext.custom : null,
  };
};
'''


def test_context_objects_match_the_official_clients(lam):
    import base64
    cc = base64.b64encode(json.dumps({
        "custom": {"k": "v"}, "client": {"app_title": "t"}, "env": {"e": 1},
        "w3c": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "other": "x", "baggage": 5},
    }).encode()).decode()
    for runtime, fixture, filename, src in (
        ("python3.11", "python-ric.zip", "ctx.py", PY_CONTEXT),
        ("nodejs20.x", "node-ric.zip", "ctx.mjs", NODE_CONTEXT),
    ):
        ours = create(lam, make_zip({filename: src}), runtime=runtime, handler="ctx.handler")
        official = create(lam, with_modules(fixture, {filename: src}), runtime="provided.al2023",
                          handler="ctx.handler", env={"QUIVER_FIXTURE_HANDLER": "ctx.handler"})
        for kw in ({}, {"ClientContext": cc}):
            _, _, a = invoke(lam, ours, {}, **kw)
            _, _, b = invoke(lam, official, {}, **kw)
            for doc, name in ((a, ours), (b, official)):
                assert doc["fn"] == name
                doc["fn"] = "<name>"
                doc["group"] = doc["group"].replace(name, "<name>")
            assert a == b, (runtime, kw, a, b)
