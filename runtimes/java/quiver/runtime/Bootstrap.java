package quiver.runtime;

import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOError;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UnsupportedEncodingException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;

/**
 * Quiver's built-in runtime for java* functions: a dependency-free client of the Lambda
 * Runtime API (2018-06-01), compiled by the server with the host's javac and started as
 *
 *   java -XX:+TieredCompilation -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto
 *        -Xmx<~85% of MemorySize>m -Djava.net.preferIPv4Stack=true -Dfile.encoding=UTF-8
 *        -cp /var/runtime/java/classes quiver.runtime.Bootstrap
 *
 * with cwd = the task root and `_HANDLER` = `pkg.Class::method` or `pkg.Class`. The
 * function's code is loaded from the task root (classes), its lib/*.jar and the layers'
 * /opt/java/lib/*.jar, as Lambda lays out Java deployment packages. Error shapes and
 * messages follow Lambda's Java runtime: `{errorMessage, errorType, stackTrace[, cause]}`
 * for an exception, the init fault's message (e.g. "Class not found: pkg.Cls") at init.
 */
public final class Bootstrap {
    private Bootstrap() {}

    private static final String OWN_PACKAGE = Bootstrap.class.getPackage().getName() + ".";

    public static void main(String[] args) throws Exception {
        System.setOut(utf8(FileDescriptor.out));
        System.setErr(utf8(FileDescriptor.err));
        String api = System.getenv("AWS_LAMBDA_RUNTIME_API");
        if (api == null || api.isEmpty()) {
            System.err.println("quiver runtime: AWS_LAMBDA_RUNTIME_API is not set");
            System.exit(1);
        }
        RuntimeApi client = new RuntimeApi(api);
        ClassLoader loader = userLoader();
        Thread.currentThread().setContextClassLoader(loader);
        String spec = System.getenv("_HANDLER");
        Handler handler;
        try {
            handler = Handler.load(spec == null ? "" : spec.trim(), loader);
        } catch (Handler.InitFault f) {
            System.out.print(reportable(f.getMessage(), f.errorType, f.getCause()));
            client.post("/2018-06-01/runtime/init/error", initError(f), "Runtime.BadFunctionCode");
            System.exit(1);
            return;
        }
        loop(client, handler);
    }

    private static PrintStream utf8(FileDescriptor fd) throws UnsupportedEncodingException {
        // Unbuffered below PrintStream: output of a timed-out or crashing call still reaches the log.
        return new PrintStream(new FileOutputStream(fd), true, "UTF-8");
    }

    private static void loop(RuntimeApi client, Handler handler) throws Exception {
        while (true) {
            Invocation inv = client.next();
            if (inv.traceId != null) {
                System.setProperty("com.amazonaws.xray.traceHeader", inv.traceId);
            } else {
                System.clearProperty("com.amazonaws.xray.traceHeader");
            }
            String base = "/2018-06-01/runtime/invocation/" + inv.requestId;
            byte[] out;
            try {
                out = handler.call(inv.body, inv);
            } catch (Throwable t) {
                filter(t, Collections.newSetFromMap(new IdentityHashMap<>()));
                System.out.flush();
                String msg = t.getLocalizedMessage() == null ? t.getClass().getName() : t.getLocalizedMessage();
                System.out.print(reportable(msg, t.getClass().getName(), t));
                client.post(base + "/error", errorJson(t), "Runtime.UserException");
                if (t instanceof VirtualMachineError || t instanceof IOError) {
                    System.exit(1);
                }
                Thread.interrupted();
                continue;
            }
            System.out.flush();
            System.err.flush();
            client.post(base + "/response", out, null);
            // A handler may leave the thread interrupted; it must not break the next /next.
            Thread.interrupted();
        }
    }

    /** The task root's classes and lib/*.jar, then the layers' /opt/java/lib/*.jar. */
    private static ClassLoader userLoader() throws MalformedURLException {
        String root = System.getenv("LAMBDA_TASK_ROOT");
        if (root == null || root.isEmpty()) {
            root = System.getProperty("user.dir");
        }
        List<URL> urls = new ArrayList<>();
        urls.add(new File(root).toURI().toURL());
        for (File dir : new File[] {new File(root, "lib"), new File("/opt/java/lib")}) {
            File[] jars = dir.listFiles((d, n) -> n.endsWith(".jar"));
            if (jars != null) {
                Arrays.sort(jars);
                for (File j : jars) {
                    urls.add(j.toURI().toURL());
                }
            }
        }
        return new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getSystemClassLoader());
    }

    /** Drops the runtime's own frames (and all below them) from a throwable and its causes. */
    static void filter(Throwable t, java.util.Set<Throwable> seen) {
        if (t == null || !seen.add(t)) {
            return;
        }
        StackTraceElement[] st = t.getStackTrace();
        for (int i = 0; i < st.length; i++) {
            if (st[i].getClassName().startsWith(OWN_PACKAGE)) {
                t.setStackTrace(Arrays.copyOf(st, i));
                break;
            }
        }
        filter(t.getCause(), seen);
        for (Throwable s : t.getSuppressed()) {
            filter(s, seen);
        }
    }

    /** What the log shows for a fault: `message: type`, then the stack trace. */
    private static String reportable(String msg, String type, Throwable t) {
        StringBuilder b = new StringBuilder(msg);
        if (type != null || t != null) {
            b.append(": ").append(type == null ? "" : type).append('\n');
            if (t != null) {
                StringWriter sw = new StringWriter();
                t.printStackTrace(new PrintWriter(sw));
                b.append(sw);
            }
        }
        return b.append('\n').toString();
    }

    private static byte[] initError(Handler.InitFault f) {
        StringBuilder b = new StringBuilder("{\"errorMessage\":");
        Json.quote(b, f.getMessage());
        if (f.errorType != null) {
            b.append(",\"errorType\":");
            Json.quote(b, f.errorType);
        }
        return b.append('}').toString().getBytes(StandardCharsets.UTF_8);
    }

    static byte[] errorJson(Throwable t) {
        StringBuilder b = new StringBuilder();
        error(b, t, 0, Collections.newSetFromMap(new IdentityHashMap<>()));
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void error(StringBuilder b, Throwable t, int depth, java.util.Set<Throwable> seen) {
        seen.add(t);
        String msg = t.getLocalizedMessage();
        b.append("{\"errorMessage\":");
        Json.quote(b, msg == null ? t.getClass().getName() : msg);
        b.append(",\"errorType\":");
        Json.quote(b, t.getClass().getName());
        b.append(",\"stackTrace\":[");
        StackTraceElement[] st = t.getStackTrace();
        for (int i = 0; i < st.length; i++) {
            if (i > 0) {
                b.append(',');
            }
            Json.quote(b, st[i].toString());
        }
        b.append(']');
        Throwable cause = t.getCause();
        if (cause != null && depth < 16 && !seen.contains(cause)) {
            b.append(",\"cause\":");
            error(b, cause, depth + 1, seen);
        }
        b.append('}');
    }
}
