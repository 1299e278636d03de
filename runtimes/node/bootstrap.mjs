// Quiver's built-in runtime for nodejs* functions: a dependency-free client of the Lambda
// Runtime API (2018-06-01). Started as
//
//   /usr/bin/node --max-old-space-size=<~90% of MemorySize> /var/runtime/bootstrap.mjs
//
// with cwd = the task root and `_HANDLER=dir/file.export`. Behaviour (handler resolution,
// error shapes and messages, context object, console line format, callback semantics)
// follows aws-lambda-nodejs-runtime-interface-client, so functions see what they see on
// AWS Lambda:
//   * async / promise-returning handlers: the settled value is posted at once.
//   * callback handlers (3 args): callback(err) posts at once; callback(null, result) posts
//     once the event loop is empty (Node's 'beforeExit'), or at once when
//     context.callbackWaitsForEmptyEventLoop = false.
//   * a sync handler that neither returns a promise nor calls back: `null` is posted when
//     the event loop is empty; an async handler whose promise never settles gets
//     Runtime.NodeJsExit at that point.
//   * uncaught exceptions / unhandled rejections: reported (as the invocation's error, or
//     as the init error) and the process exits (129 / 128), like the official client.
//   * response streaming: a handler wrapped in awslambda.streamifyResponse gets
//     (event, responseStream, context); what it writes goes to /response as a chunked
//     body with `Lambda-Runtime-Function-Response-Mode: streaming`, and an error after
//     the stream started is sent in the trailers Lambda-Runtime-Function-Error-Type /
//     -Body (base64 of the error JSON). awslambda.HttpResponseStream.from(stream,
//     {statusCode, headers}) writes the function-URL prelude: JSON, then 8 NUL bytes.
// Not supported yet: JSON log format.

import http from 'node:http';
import { Writable } from 'node:stream';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import Module, { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

// ------------------------------------------------------------------ errors

function errorClass(name) {
  const C = class extends Error {};
  Object.defineProperty(C, 'name', { value: name });
  C.prototype.name = `Runtime.${name}`;
  return C;
}
const ImportModuleError = errorClass('ImportModuleError');
const HandlerNotFound = errorClass('HandlerNotFound');
const MalformedHandlerName = errorClass('MalformedHandlerName');
const UserCodeSyntaxError = errorClass('UserCodeSyntaxError');
const NodeJsExit = errorClass('NodeJsExit');
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

function isErrorLike(e) {
  return (
    e && typeof e.name === 'string' && typeof e.message === 'string' && typeof e.stack === 'string'
  );
}

/** The body posted to /error and /init/error: {errorType, errorMessage, trace}. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return { errorType: error.name, errorMessage: error.message, trace: error.stack.split('\n') };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

/** How the official client prints an error in the log: a tab, then JSON. */
function toFormatted(error) {
  const withProps = (_k, v) => {
    if (!(v instanceof Error)) return v;
    const r = Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v);
    if (typeof v.stack === 'string') r.stack = v.stack.split('\n');
    return r;
  };
  try {
    return '\t' + JSON.stringify(error, withProps);
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

// ------------------------------------------------------------------ console

let currentRequestId; // undefined until the first invocation, printed as "undefined" like AWS

function patchConsole() {
  const write = (level) =>
    function (...args) {
      const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}`;
      process.stdout.write(line.replace(/\n/g, '\r') + '\n');
    };
  console.log = write('INFO');
  console.info = write('INFO');
  console.warn = write('WARN');
  console.error = write('ERROR');
  console.debug = write('DEBUG');
  console.trace = write('TRACE');
  console.fatal = write('FATAL');
}

// ------------------------------------------------------------------ Runtime API client

const apiAddr = process.env.AWS_LAMBDA_RUNTIME_API || '';
const sep = apiAddr.lastIndexOf(':');
const apiHost = apiAddr.slice(0, sep).replace(/^\[|\]$/g, '');
const apiPort = Number(apiAddr.slice(sep + 1));
// One keep-alive connection; idle sockets are unref'd by the agent, so they don't keep
// the event loop (and so 'beforeExit') from happening.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: apiHost, port: apiPort, method, path: urlPath, agent, headers },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('socket', (s) => s.setNoDelay(true));
    req.on('error', reject);
    req.end(body);
  });
}

async function post(urlPath, body, headers) {
  const buf = Buffer.from(body);
  const res = await request('POST', urlPath, buf, {
    'Content-Type': 'application/json',
    'Content-Length': buf.length,
    ...headers,
  });
  if (res.status !== 202) {
    process.stderr.write(`quiver runtime: POST ${urlPath} answered ${res.status}: ${res.body}\n`);
  }
}

const base = '/2018-06-01/runtime';
const postResult = (id, result) =>
  post(`${base}/invocation/${encodeURIComponent(id)}/response`, JSON.stringify(result === undefined ? null : result));
const postError = (id, error) =>
  post(`${base}/invocation/${encodeURIComponent(id)}/error`, JSON.stringify(toRapidResponse(error)));
const postInitError = (error) => {
  const body = toRapidResponse(error);
  return post(`${base}/init/error`, JSON.stringify(body), {
    'Lambda-Runtime-Function-Error-Type': String(body.errorType),
  });
};

// ------------------------------------------------------------------ response streaming

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';

globalThis.awslambda = {
  streamifyResponse(handler, options) {
    handler[STREAMING] = 'response';
    if (options?.highWaterMark) handler.highWaterMark = options.highWaterMark;
    return handler;
  },
  HttpResponseStream: {
    /** Writes the URL prelude ({statusCode, headers, cookies} JSON + 8 NUL bytes). */
    from(stream, prelude) {
      stream.setContentType(HTTP_INTEGRATION);
      stream.write(JSON.stringify(prelude ?? {}));
      stream.write(Buffer.alloc(8));
      return stream;
    },
  },
};

/** A Writable whose bytes go, chunk by chunk, into one streamed POST /response. */
function responseStream(id) {
  let contentType = 'application/octet-stream';
  let req = null;
  let answered;
  const answer = new Promise((r) => (answered = r));
  const open = () => {
    if (req) return req;
    req = http.request({
      host: apiHost,
      port: apiPort,
      method: 'POST',
      path: `${base}/invocation/${encodeURIComponent(id)}/response`,
      agent,
      headers: {
        'Content-Type': contentType,
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
        'Transfer-Encoding': 'chunked',
        Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 202) {
          process.stderr.write(`quiver runtime: streamed /response answered ${res.statusCode}: ${Buffer.concat(chunks)}\n`);
        }
        answered();
      });
      res.on('error', answered);
    });
    req.on('socket', (s) => s.setNoDelay(true));
    req.on('error', (e) => {
      process.stderr.write(`quiver runtime: streamed /response failed: ${e.message}\n`);
      answered();
    });
    req.flushHeaders();
    return req;
  };
  const stream = new Writable({
    write(chunk, _enc, cb) {
      open().write(chunk, cb);
    },
    final(cb) {
      open().end(cb);
    },
  });
  stream.setContentType = (ct) => {
    if (!req) contentType = ct;
  };
  /** Ends the stream with the error in its trailers. */
  stream.fail = (error) => {
    const body = Buffer.from(JSON.stringify(toRapidResponse(error))).toString('base64');
    const r = open();
    r.addTrailers({
      'Lambda-Runtime-Function-Error-Type': String(toRapidResponse(error).errorType),
      'Lambda-Runtime-Function-Error-Body': body,
    });
    r.end();
  };
  stream.answered = answer;
  return stream;
}

/** Runs a streaming handler once; resolves when the runtime API answered. */
async function runStreaming(handler, id, event, headers) {
  const stream = responseStream(id);
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const env = process.env;
  const context = {
    callbackWaitsForEmptyEventLoop: false,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: id,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
  try {
    await handler(JSON.parse(event), stream, context);
    if (!stream.writableEnded) stream.end();
  } catch (e) {
    console.error('Invoke Error', toFormatted(e));
    stream.fail(e);
  }
  await stream.answered;
}

// ------------------------------------------------------------------ handler loading

function hasTypeModule(dir) {
  for (let d = dir; ; d = path.dirname(d)) {
    if (d.endsWith('/node_modules')) return false;
    const pj = path.join(d, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8'))?.type === 'module';
      } catch (e) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    if (d === '/' || d === path.dirname(d)) return false;
  }
}

const tryRequire = (p) => (fs.existsSync(p) ? require(p) : undefined);
const tryImport = async (p) => (fs.existsSync(p) ? await import(pathToFileURL(p).href) : undefined);

async function loadModule(appRoot, moduleRoot, name) {
  const base = path.resolve(appRoot, moduleRoot, name);
  const extensionless = tryRequire(base);
  if (extensionless) return extensionless;
  const esm = hasTypeModule(path.dirname(base));
  const loaded =
    (esm ? await tryImport(base + '.js') : tryRequire(base + '.js')) ||
    (await tryImport(base + '.mjs')) ||
    tryRequire(base + '.cjs');
  if (loaded) return loaded;
  // Node-style resolution (node_modules, directories), relative to the task root.
  return require(require.resolve(name, { paths: [appRoot, path.resolve(appRoot, moduleRoot)] }));
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const m = handlerString.match(/^([^.]*)\.(.*)$/);
  if (!m) throw new MalformedHandlerName('Bad handler');
  const [, name, handlerPath] = m;
  let mod;
  try {
    mod = await loadModule(appRoot, moduleRoot, name);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    // Only CommonJS's code, as the official client: an ES-module import of a missing
    // package (ERR_MODULE_NOT_FOUND) is reported as the plain Error it is.
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
  const fn = handlerPath.split('.').reduce((o, k) => o && o[k], mod);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return fn;
}

// ------------------------------------------------------------------ invocations

let onEmptyLoop = null; // what 'beforeExit' should do for the current invocation
let onFatal = (error, code) =>
  postInitError(error).finally(() => process.exit(code)); // replaced once init is done

function parseJsonHeader(value, what) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (e) {
    throw new Error(`Cannot parse ${what} as json: ${e.message}`);
  }
}

/** Runs the handler once; resolves with {result} or {error} following the callback rules. */
function runHandler(handler, isAsync, event, headers) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome) => {
      if (settled) return;
      settled = true;
      onEmptyLoop = null;
      resolve(outcome);
    };
    let waitForEmptyLoop = true;
    const done = (err, result) =>
      err !== undefined && err !== null ? finish({ error: err }) : finish({ result });
    const callback = (err, result) => {
      if (err !== undefined && err !== null) finish({ error: err });
      else if (!waitForEmptyLoop) finish({ result });
      else onEmptyLoop = () => setImmediate(() => finish({ result }));
    };
    const deadline = Number(headers['lambda-runtime-deadline-ms']);
    const env = process.env;
    const context = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyLoop;
      },
      set callbackWaitsForEmptyEventLoop(v) {
        waitForEmptyLoop = v;
      },
      succeed: (result) => done(null, result),
      fail: (err) => done(err === undefined || err === null ? 'handled' : err, null),
      done,
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: undefined,
      identity: undefined,
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: headers['lambda-runtime-aws-request-id'],
      tenantId: headers['lambda-runtime-aws-tenant-id'],
      getRemainingTimeInMillis: () => deadline - Date.now(),
    };
    // Nothing settled the invocation and the loop drained: what the official client does.
    onEmptyLoop = isAsync
      ? () =>
          finish({
            error: new NodeJsExit(
              'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled.',
            ),
          })
      : () => finish({ result: null });
    try {
      context.clientContext = parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext');
      context.identity = parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity');
      const r = handler(JSON.parse(event), context, callback);
      if (r && typeof r.then === 'function') r.then((v) => finish({ result: v }), (e) => finish({ error: e }));
    } catch (e) {
      finish({ error: e });
    }
  });
}

async function loop(handler) {
  const isAsync = handler.constructor?.name === 'AsyncFunction';
  for (;;) {
    const next = await request('GET', `${base}/invocation/next`);
    if (next.status !== 200) {
      process.stderr.write(`quiver runtime: /next answered ${next.status}; exiting\n`);
      process.exit(1);
    }
    const h = next.headers;
    const id = h['lambda-runtime-aws-request-id'];
    currentRequestId = id;
    if (h['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
    else delete process.env._X_AMZN_TRACE_ID;
    onFatal = (error, code) => postError(id, error).finally(() => process.exit(code));
    if (handler[STREAMING] === 'response') {
      await runStreaming(handler, id, next.body.toString('utf8'), h);
      continue;
    }
    const outcome = await runHandler(handler, isAsync, next.body.toString('utf8'), h);
    if ('error' in outcome) {
      console.error('Invoke Error', toFormatted(outcome.error));
      await postError(id, outcome.error);
    } else {
      let body;
      try {
        body = JSON.stringify(outcome.result === undefined ? null : outcome.result);
      } catch {
        // The official client's words (RAPIDClient _trySerializeResponse), not V8's.
        const e = new Error('Unable to stringify response body');
        console.error('Invoke Error', toFormatted(e));
        await postError(id, e);
        continue;
      }
      await post(`${base}/invocation/${encodeURIComponent(id)}/response`, body);
    }
  }
}

async function main() {
  patchConsole();
  process.on('uncaughtException', (error) => {
    console.error('Uncaught Exception', toFormatted(error));
    onFatal(error, 129);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    console.error('Unhandled Promise Rejection', toFormatted(error));
    onFatal(error, 128);
  });
  process.on('beforeExit', () => {
    const f = onEmptyLoop;
    onEmptyLoop = null;
    if (f) f();
  });
  if (!process.env.NODE_PATH) {
    // Layers and the task root, as Lambda's NODE_PATH (ESM imports ignore it, as on Lambda).
    process.env.NODE_PATH = ['/opt/nodejs/node_modules', process.cwd()].join(':');
    Module._initPaths?.();
  }
  let handler;
  try {
    handler = await loadHandler(process.cwd(), process.env._HANDLER || '');
  } catch (e) {
    console.error('Uncaught Exception', toFormatted(e));
    await postInitError(e).catch(() => {});
    process.exit(129);
  }
  await loop(handler);
}

main();
