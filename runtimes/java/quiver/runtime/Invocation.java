package quiver.runtime;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Collections;
import java.util.Map;

/**
 * One event from `/next` and the Lambda Context made from it. The Context is a dynamic
 * proxy of the function's own `com.amazonaws.services.lambda.runtime.Context` interface
 * (whatever version of aws-lambda-java-core it bundles): the getters Lambda defines are
 * answered, any other (a newer default method) returns null, zero or false.
 */
final class Invocation {
    final String requestId;
    final long deadlineMs;
    final String functionArn;
    final String traceId;
    final String tenantId;
    final String clientContext;
    final String cognitoIdentity;
    final byte[] body;

    Invocation(Map<String, String> headers, byte[] body) {
        this.requestId = headers.getOrDefault("lambda-runtime-aws-request-id", "");
        long deadline;
        try {
            deadline = Long.parseLong(headers.getOrDefault("lambda-runtime-deadline-ms", "0").trim());
        } catch (NumberFormatException e) {
            deadline = 0;
        }
        this.deadlineMs = deadline;
        this.functionArn = headers.get("lambda-runtime-invoked-function-arn");
        this.traceId = headers.get("lambda-runtime-trace-id");
        this.tenantId = headers.get("lambda-runtime-aws-tenant-id");
        this.clientContext = headers.get("lambda-runtime-client-context");
        this.cognitoIdentity = headers.get("lambda-runtime-cognito-identity");
        this.body = body;
    }

    private static String env(String k) {
        return System.getenv(k);
    }

    static int memoryMb() {
        try {
            return Integer.parseInt(env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
        } catch (RuntimeException e) {
            return 128;
        }
    }

    Object context(Class<?> iface) {
        return Proxy.newProxyInstance(iface.getClassLoader(), new Class<?>[] {iface}, new ContextHandler());
    }

    private static Object zero(Class<?> t) {
        if (t == boolean.class) {
            return Boolean.FALSE;
        }
        if (t == int.class) {
            return 0;
        }
        if (t == long.class) {
            return 0L;
        }
        if (t == double.class) {
            return 0.0;
        }
        if (t == float.class) {
            return 0.0f;
        }
        if (t == short.class) {
            return (short) 0;
        }
        if (t == byte.class) {
            return (byte) 0;
        }
        if (t == char.class) {
            return '\0';
        }
        return null;
    }

    /** Object's own methods on a proxy: identity semantics and a readable name. */
    private static Object objectMethod(Object proxy, Method m, Object[] args, String name) {
        switch (m.getName()) {
            case "equals":
                return proxy == args[0];
            case "hashCode":
                return System.identityHashCode(proxy);
            default:
                return name;
        }
    }

    private final class ContextHandler implements InvocationHandler {
        @Override
        public Object invoke(Object proxy, Method m, Object[] args) {
            if (m.getDeclaringClass() == Object.class) {
                return objectMethod(proxy, m, args, "LambdaContext[" + requestId + "]");
            }
            switch (m.getName()) {
                case "getAwsRequestId":
                    return requestId;
                case "getLogGroupName":
                    return env("AWS_LAMBDA_LOG_GROUP_NAME");
                case "getLogStreamName":
                    return env("AWS_LAMBDA_LOG_STREAM_NAME");
                case "getFunctionName":
                    return env("AWS_LAMBDA_FUNCTION_NAME");
                case "getFunctionVersion":
                    return env("AWS_LAMBDA_FUNCTION_VERSION");
                case "getInvokedFunctionArn":
                    return functionArn;
                case "getXrayTraceId":
                    return traceId;
                case "getTenantId":
                    return tenantId;
                case "getMemoryLimitInMB":
                    return memoryMb();
                case "getRemainingTimeInMillis":
                    return (int) Math.max(0, deadlineMs - System.currentTimeMillis());
                case "getLogger":
                    return logger(m.getReturnType());
                case "getIdentity":
                    return fromJson(cognitoIdentity, m.getReturnType());
                case "getClientContext":
                    return fromJson(clientContext, m.getReturnType());
                default:
                    return zero(m.getReturnType());
            }
        }
    }

    /** A LambdaLogger: log(String) and log(byte[]) (and level overloads) write to stdout as is. */
    static Object logger(Class<?> iface) {
        if (!iface.isInterface()) {
            return null;
        }
        return Proxy.newProxyInstance(iface.getClassLoader(), new Class<?>[] {iface}, (proxy, m, args) -> {
            if (m.getDeclaringClass() == Object.class) {
                return objectMethod(proxy, m, args, "LambdaLogger");
            }
            if (m.getName().equals("log") && args != null && args.length > 0) {
                Object a = args[0];
                if (a instanceof byte[]) {
                    System.out.write((byte[]) a, 0, ((byte[]) a).length);
                    System.out.flush();
                } else {
                    System.out.print(String.valueOf(a));
                }
            }
            return zero(m.getReturnType());
        });
    }

    /** A header's JSON (client context, Cognito identity) as a proxy of the function's interface. */
    private static Object fromJson(String json, Class<?> iface) {
        if (json == null || json.isEmpty() || !iface.isInterface()) {
            return null;
        }
        Object v;
        try {
            v = Json.parse(json);
        } catch (RuntimeException e) {
            return null;
        }
        return v instanceof Map ? mapProxy(iface, (Map<?, ?>) v) : null;
    }

    /**
     * An interface whose getters read a JSON object: `getAppTitle` reads `appTitle` or
     * `app_title` (the client-context wire names; `getEnvironment` reads `env`),
     * `getIdentityId` also `cognitoIdentityId` (the Cognito header's names). Nested
     * interfaces are proxies again.
     */
    static Object mapProxy(Class<?> iface, Map<?, ?> data) {
        return Proxy.newProxyInstance(iface.getClassLoader(), new Class<?>[] {iface}, (proxy, m, args) -> {
            if (m.getDeclaringClass() == Object.class) {
                return objectMethod(proxy, m, args, iface.getSimpleName() + data);
            }
            String n = m.getName();
            String prop = n.startsWith("get") ? Json.decapitalize(n.substring(3)) : n;
            Object v = null;
            String alias = prop.equals("environment") ? "env" : "cognito" + n.substring(n.startsWith("get") ? 3 : 0);
            for (String k : new String[] {prop, snake(prop), alias}) {
                if (data.containsKey(k)) {
                    v = data.get(k);
                    break;
                }
            }
            Class<?> rt = m.getReturnType();
            if (v == null) {
                return Map.class.isAssignableFrom(rt) ? null : zero(rt);
            }
            if (v instanceof Map && rt.isInterface() && !Map.class.isAssignableFrom(rt)) {
                return mapProxy(rt, (Map<?, ?>) v);
            }
            if (Map.class.isAssignableFrom(rt) && v instanceof Map) {
                return Collections.unmodifiableMap((Map<?, ?>) v);
            }
            try {
                return Convert.to(v, m.getGenericReturnType(), 0);
            } catch (RuntimeException e) {
                return zero(rt);
            }
        });
    }

    private static String snake(String camel) {
        StringBuilder b = new StringBuilder();
        for (char c : camel.toCharArray()) {
            if (Character.isUpperCase(c)) {
                b.append('_').append(Character.toLowerCase(c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
