"""Node handler styles through Quiver's Node bootstrap, as the official client runs them:
async, callback (with and without waiting for the event loop), context.succeed/fail/done,
and sync handlers that return nothing."""
from invokeutil import assert_ok, assert_unhandled, create, invoke, make_zip

NODE_STYLES = r'''
let count = 0;
let pending = 0;
exports.handler = (event, context, callback) => {
  count += 1;
  switch (event.style) {
    case 'callback':
      return callback(null, { count, via: 'callback' });
    case 'callback-error':
      return callback(new Error('callback said no'));
    case 'callback-string-error':
      return callback('plain string');
    case 'succeed':
      return context.succeed({ count, via: 'succeed' });
    case 'fail':
      return context.fail(new Error('context.fail'));
    case 'done':
      return context.done(null, { count, via: 'done' });
    case 'wait-loop':
      // The answer goes out only once the timer ran (callbackWaitsForEmptyEventLoop).
      setTimeout(() => { pending += 1; }, 300);
      return callback(null, { count, pendingAtCallback: pending });
    case 'no-wait':
      context.callbackWaitsForEmptyEventLoop = false;
      setTimeout(() => { pending += 1; }, 2000);
      return callback(null, { count, via: 'no-wait' });
    case 'pending':
      return callback(null, { count, pending });
    case 'nothing':
      return undefined;
    default:
      return callback(null, { count });
  }
};
'''

NODE_ASYNC = r'''
exports.handler = async (event, context) => {
  if (event.style === 'never') return new Promise(() => {});
  await new Promise((r) => setTimeout(r, 20));
  return { remaining: context.getRemainingTimeInMillis(), fn: context.functionName };
};
'''


def node_fn(lam, src, **kw):
    return create(lam, make_zip({"index.js": src}), runtime="nodejs20.x", handler="index.handler", **kw)


def test_callback_styles(lam):
    name = node_fn(lam, NODE_STYLES)
    resp, _, doc = invoke(lam, name, {"style": "callback"})
    assert_ok(resp, doc)
    assert doc == {"count": 1, "via": "callback"}
    resp, _, doc = invoke(lam, name, {"style": "callback-error"})
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "Error" and doc["errorMessage"] == "callback said no"
    resp, _, doc = invoke(lam, name, {"style": "callback-string-error"})
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "string" and doc["errorMessage"] == "plain string"
    resp, _, doc = invoke(lam, name, {"style": "succeed"})
    assert doc == {"count": 4, "via": "succeed"}
    resp, _, doc = invoke(lam, name, {"style": "fail"})
    assert_unhandled(resp, doc)
    assert doc["errorMessage"] == "context.fail"
    resp, _, doc = invoke(lam, name, {"style": "done"})
    assert doc == {"count": 6, "via": "done"}
    resp, _, doc = invoke(lam, name, {"style": "nothing"})
    assert_ok(resp, doc)
    assert doc is None


def test_callback_waits_for_the_event_loop_unless_told_not_to(lam):
    name = node_fn(lam, NODE_STYLES)
    resp, _, doc = invoke(lam, name, {"style": "wait-loop"})
    assert_ok(resp, doc)
    # The timer ran before the next event arrived.
    resp, _, doc = invoke(lam, name, {"style": "pending"})
    assert doc["pending"] == 1
    resp, _, doc = invoke(lam, name, {"style": "no-wait"})
    assert doc["via"] == "no-wait"
    resp, _, doc = invoke(lam, name, {"style": "pending"})
    assert doc["pending"] == 1, "the no-wait timer must still be pending"


def test_async_handler_and_never_settling_promise(lam):
    name = node_fn(lam, NODE_ASYNC, timeout=3)
    resp, _, doc = invoke(lam, name, {})
    assert_ok(resp, doc)
    assert 0 < doc["remaining"] <= 3000
    assert doc["fn"] == name
    resp, _, doc = invoke(lam, name, {"style": "never"})
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "Runtime.NodeJsExit", doc
    resp, _, doc = invoke(lam, name, {})
    assert_ok(resp, doc)
