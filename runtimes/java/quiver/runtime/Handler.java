package quiver.runtime;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The user's handler, resolved once at init the way Lambda's Java runtime resolves
 * `_HANDLER`: `pkg.Class::method` (the public method of that name with the longest
 * supported signature), or `pkg.Class` implementing RequestHandler / RequestStreamHandler.
 *
 * The aws-lambda-java-core interfaces are matched by NAME, never linked against: a
 * function that bundles them gets a Context implemented (as a dynamic proxy) on its own
 * copy of the interface; one that does not simply cannot ask for a Context.
 */
final class Handler {
    static final String CORE = "com.amazonaws.services.lambda.runtime.";

    /** Why the handler cannot be loaded, in the error shape Lambda reports at init. */
    static final class InitFault extends Exception {
        private static final long serialVersionUID = 1L;
        /** The errorType Lambda reports (null: Lambda sends only a message). */
        final String errorType;

        InitFault(String message, String errorType, Throwable cause) {
            super(message, cause);
            this.errorType = errorType;
        }
    }

    private final Object instance;
    private final Method method;
    /** Stream-style handlers get the raw payload and write the raw response. */
    private final boolean stream;
    private final boolean needsIn;
    private final boolean needsOut;
    private final boolean needsContext;
    /** The POJO input type (null: the method takes no input). */
    private final Type inputType;
    private final Class<?> contextType;

    private Handler(Object instance, Method method, boolean stream, boolean needsIn, boolean needsOut,
                    boolean needsContext, Type inputType, Class<?> contextType) {
        this.instance = instance;
        this.method = method;
        this.stream = stream;
        this.needsIn = needsIn;
        this.needsOut = needsOut;
        this.needsContext = needsContext;
        this.inputType = inputType;
        this.contextType = contextType;
    }

    static boolean isContext(Type t) {
        return Convert.raw(t).getName().equals(CORE + "Context");
    }

    static Handler load(String spec, ClassLoader loader) throws InitFault {
        String className = spec;
        String methodName = null;
        int sep = spec.indexOf("::");
        if (sep >= 0) {
            className = spec.substring(0, sep);
            methodName = spec.substring(sep + 2);
        }
        if (className.isEmpty() || (methodName != null && methodName.isEmpty())) {
            throw new InitFault("Invalid handler: `" + spec + "'", null, null);
        }
        Class<?> c;
        try {
            c = Class.forName(className, true, loader);
        } catch (ClassNotFoundException e) {
            throw new InitFault("Class not found: " + className, e.getClass().getName(), e);
        } catch (Throwable e) {
            Throwable shown = e instanceof ExceptionInInitializerError && e.getCause() != null ? e.getCause() : e;
            String msg = shown.getMessage();
            throw new InitFault("Error loading class " + className + (msg == null ? "" : ": " + msg),
                    shown.getClass().getName(), shown);
        }
        return methodName == null ? fromInterface(c) : fromMethod(c, methodName);
    }

    private static Handler fromInterface(Class<?> c) throws InitFault {
        if (Convert.implementsNamed(c, CORE + "RequestStreamHandler")) {
            for (Method m : c.getMethods()) {
                Class<?>[] p = m.getParameterTypes();
                if (m.getName().equals("handleRequest") && p.length == 3 && p[0] == InputStream.class
                        && p[1] == OutputStream.class && isContext(p[2])) {
                    return new Handler(instance(c, m), m, true, true, true, true, null, p[2]);
                }
            }
        } else if (Convert.implementsNamed(c, CORE + "RequestHandler")) {
            Method best = null;
            for (Method m : c.getMethods()) {
                Class<?>[] p = m.getParameterTypes();
                if (m.getName().equals("handleRequest") && p.length == 2 && isContext(p[1])
                        && (best == null || best.isBridge())) {
                    best = m;
                }
            }
            if (best != null) {
                Type in = best.getGenericParameterTypes()[0];
                if (in instanceof TypeVariable || in == Object.class) {
                    Type declared = requestHandlerInput(c);
                    if (declared != null) {
                        in = declared;
                    }
                }
                return new Handler(instance(c, best), best, false, false, false, true, in,
                        best.getParameterTypes()[1]);
            }
        }
        throw new InitFault("Class does not implement an appropriate handler interface: " + c.getName(), null, null);
    }

    /** The `I` of `RequestHandler<I, O>` as the class (or a superclass) declares it. */
    private static Type requestHandlerInput(Class<?> c) {
        List<Type> todo = new ArrayList<>();
        todo.add(c);
        for (int i = 0; i < todo.size() && i < 64; i++) {
            Class<?> k = Convert.raw(todo.get(i));
            Type t = todo.get(i);
            if (t instanceof ParameterizedType && k.getName().equals(CORE + "RequestHandler")) {
                Type a = ((ParameterizedType) t).getActualTypeArguments()[0];
                return a instanceof TypeVariable ? null : a;
            }
            todo.addAll(Arrays.asList(k.getGenericInterfaces()));
            if (k.getGenericSuperclass() != null) {
                todo.add(k.getGenericSuperclass());
            }
        }
        return null;
    }

    /** Longer signatures first, one ending in Context counting one more; bridges last. */
    private static int weight(Method m) {
        Class<?>[] p = m.getParameterTypes();
        int w = p.length + (p.length > 0 && isContext(p[p.length - 1]) ? 1 : 0);
        return m.isBridge() ? w - 100 : w;
    }

    private static Handler fromMethod(Class<?> c, String name) throws InitFault {
        List<Method> candidates = new ArrayList<>();
        for (Method m : c.getMethods()) {
            if (m.getName().equals(name)) {
                candidates.add(m);
            }
        }
        candidates.sort((a, b) -> Integer.compare(weight(b), weight(a)));
        for (Method m : candidates) {
            Class<?>[] p = m.getParameterTypes();
            Type[] g = m.getGenericParameterTypes();
            boolean lastCtx = p.length > 0 && isContext(p[p.length - 1]);
            Class<?> ctx = lastCtx ? p[p.length - 1] : null;
            boolean in0 = p.length > 0 && p[0] == InputStream.class;
            boolean out0 = p.length > 0 && p[0] == OutputStream.class;
            switch (p.length) {
                case 0:
                    return new Handler(instance(c, m), m, false, false, false, false, null, null);
                case 1:
                    if (in0 || out0) {
                        return new Handler(instance(c, m), m, true, in0, out0, false, null, null);
                    }
                    return new Handler(instance(c, m), m, false, false, false, lastCtx, lastCtx ? null : g[0], ctx);
                case 2:
                    if (in0 && p[1] == OutputStream.class) {
                        return new Handler(instance(c, m), m, true, true, true, false, null, null);
                    }
                    if ((in0 || out0) && lastCtx) {
                        return new Handler(instance(c, m), m, true, in0, out0, true, null, ctx);
                    }
                    if (lastCtx && !isContext(p[0]) && !in0 && !out0) {
                        return new Handler(instance(c, m), m, false, false, false, true, g[0], ctx);
                    }
                    break;
                case 3:
                    if (in0 && p[1] == OutputStream.class && lastCtx) {
                        return new Handler(instance(c, m), m, true, true, true, true, null, ctx);
                    }
                    break;
                default:
                    break;
            }
        }
        throw new InitFault("No public method named " + name + " with appropriate method signature found on class "
                + c.getName(), null, null);
    }

    /** The object to call a non-static handler on, made once at init as Lambda does. */
    private static Object instance(Class<?> c, Method m) throws InitFault {
        if (Modifier.isStatic(m.getModifiers())) {
            return null;
        }
        try {
            return c.getConstructor().newInstance();
        } catch (NoSuchMethodException e) {
            if (c.getEnclosingClass() != null && !Modifier.isStatic(c.getModifiers())) {
                throw new InitFault("Class " + c.getName() + " cannot be instantiated because it is a non-static inner class", null, null);
            }
            throw new InitFault("Class " + c.getName() + " has no public zero-argument constructor", null, null);
        } catch (InvocationTargetException e) {
            Throwable t = e.getCause() == null ? e : e.getCause();
            String msg = t.getLocalizedMessage();
            throw new InitFault(msg == null ? t.getClass().getName() : msg, t.getClass().getName(), t);
        } catch (ReflectiveOperationException e) {
            throw new InitFault(e.toString(), e.getClass().getName(), e);
        }
    }

    /** Runs one invocation; returns the response body. Throws what the handler threw. */
    byte[] call(byte[] event, Invocation inv) throws Throwable {
        Object ctx = needsContext ? inv.context(contextType) : null;
        List<Object> args = new ArrayList<>(3);
        if (stream) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            if (needsIn) {
                args.add(new ByteArrayInputStream(event));
            }
            if (needsOut) {
                args.add(out);
            }
            if (needsContext) {
                args.add(ctx);
            }
            invoke(args);
            return needsOut ? out.toByteArray() : "null".getBytes(StandardCharsets.UTF_8);
        }
        if (inputType != null) {
            Object input;
            try {
                String text = new String(event, StandardCharsets.UTF_8);
                input = Convert.to(text.trim().isEmpty() ? null : Json.parse(text), inputType, 0);
            } catch (Throwable t) {
                throw new RuntimeException("An error occurred during JSON parsing", t);
            }
            args.add(input);
        }
        if (needsContext) {
            args.add(ctx);
        }
        Object result = invoke(args);
        if (method.getReturnType() == void.class || method.getReturnType() == Void.class) {
            return "null".getBytes(StandardCharsets.UTF_8);
        }
        try {
            return Json.write(result).getBytes(StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw new RuntimeException("An error occurred during JSON serialization of response", t);
        }
    }

    private Object invoke(List<Object> args) throws Throwable {
        try {
            method.setAccessible(true);
        } catch (RuntimeException e) {
            // A module refused: a public method is callable without it.
        }
        try {
            return method.invoke(instance, args.toArray());
        } catch (InvocationTargetException e) {
            throw e.getCause() == null ? e : e.getCause();
        }
    }
}
