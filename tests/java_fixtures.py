"""Java sources for tests/test_invoke_java.py, compiled with the host's javac by the test.

`CORE` is a minimal stand-in for aws-lambda-java-core (the interfaces a function bundles
when it implements RequestHandler or takes a Context): the bootstrap must find them by
name in the function's own code. `HANDLERS` are the functions under test.
"""

CORE = {
    "com/amazonaws/services/lambda/runtime/Context.java": """
package com.amazonaws.services.lambda.runtime;
public interface Context {
    String getAwsRequestId();
    String getLogGroupName();
    String getLogStreamName();
    String getFunctionName();
    String getFunctionVersion();
    String getInvokedFunctionArn();
    CognitoIdentity getIdentity();
    ClientContext getClientContext();
    int getRemainingTimeInMillis();
    int getMemoryLimitInMB();
    LambdaLogger getLogger();
}
""",
    "com/amazonaws/services/lambda/runtime/LambdaLogger.java": """
package com.amazonaws.services.lambda.runtime;
public interface LambdaLogger {
    void log(String message);
    void log(byte[] message);
}
""",
    "com/amazonaws/services/lambda/runtime/RequestHandler.java": """
package com.amazonaws.services.lambda.runtime;
public interface RequestHandler<I, O> {
    O handleRequest(I input, Context context);
}
""",
    "com/amazonaws/services/lambda/runtime/RequestStreamHandler.java": """
package com.amazonaws.services.lambda.runtime;
import java.io.*;
public interface RequestStreamHandler {
    void handleRequest(InputStream input, OutputStream output, Context context) throws IOException;
}
""",
    "com/amazonaws/services/lambda/runtime/CognitoIdentity.java": """
package com.amazonaws.services.lambda.runtime;
public interface CognitoIdentity {
    String getIdentityId();
    String getIdentityPoolId();
}
""",
    "com/amazonaws/services/lambda/runtime/ClientContext.java": """
package com.amazonaws.services.lambda.runtime;
import java.util.Map;
public interface ClientContext {
    Client getClient();
    Map<String, String> getCustom();
    Map<String, String> getEnvironment();
}
""",
    "com/amazonaws/services/lambda/runtime/Client.java": """
package com.amazonaws.services.lambda.runtime;
public interface Client {
    String getInstallationId();
    String getAppTitle();
    String getAppVersionName();
    String getAppVersionCode();
    String getAppPackageName();
}
""",
}

HANDLERS = {
    # Map in, Map out, with the Context getters, logs on all three channels.
    "example/MapHandler.java": """
package example;
import com.amazonaws.services.lambda.runtime.Context;
import java.util.*;
public class MapHandler {
    static int count = 0;
    public Map<String, Object> handle(Map<String, Object> in, Context ctx) {
        count++;
        System.out.println("MARK-stdout " + in.get("m") + " é");
        System.err.println("MARK-stderr " + in.get("m"));
        ctx.getLogger().log("MARK-logger " + in.get("m") + "\\n");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("count", count);
        out.put("echo", in);
        out.put("requestId", ctx.getAwsRequestId());
        out.put("functionName", ctx.getFunctionName());
        out.put("functionVersion", ctx.getFunctionVersion());
        out.put("arn", ctx.getInvokedFunctionArn());
        out.put("logGroup", ctx.getLogGroupName());
        out.put("logStream", ctx.getLogStreamName());
        out.put("remaining", ctx.getRemainingTimeInMillis());
        out.put("memory", ctx.getMemoryLimitInMB());
        out.put("identity", ctx.getIdentity() == null ? null : ctx.getIdentity().getIdentityId());
        out.put("appTitle", ctx.getClientContext() == null ? null : ctx.getClientContext().getClient().getAppTitle());
        out.put("custom", ctx.getClientContext() == null ? null : ctx.getClientContext().getCustom());
        out.put("clientEnv", ctx.getClientContext() == null ? null : ctx.getClientContext().getEnvironment());
        out.put("toolOption", System.getProperty("quiver.tool.option"));
        out.put("maxHeapMb", Runtime.getRuntime().maxMemory() / (1024 * 1024));
        out.put("charset", java.nio.charset.Charset.defaultCharset().name());
        try {
            // java.security (the JDK's config under /etc) must be readable in the sandbox.
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest("quiver".getBytes("UTF-8"));
            StringBuilder hex = new StringBuilder();
            for (byte x : d) hex.append(String.format("%02x", x));
            out.put("sha256", hex.toString());
            out.put("uuid", java.util.UUID.randomUUID().toString());
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
        return out;
    }
}
""",
    # POJO in (setters, a public field, nested POJO, typed list), POJO out (getters, isX, field).
    "example/Person.java": """
package example;
import java.util.List;
public class Person {
    private String name;
    private int age;
    private Address address;
    private List<Integer> scores;
    public String nickname;
    public String getName() { return name; }
    public void setName(String n) { name = n; }
    public int getAge() { return age; }
    public void setAge(int a) { age = a; }
    public Address getAddress() { return address; }
    public void setAddress(Address a) { address = a; }
    public List<Integer> getScores() { return scores; }
    public void setScores(List<Integer> s) { scores = s; }
}
""",
    "example/Address.java": """
package example;
public class Address {
    private String city;
    public String getCity() { return city; }
    public void setCity(String c) { city = c; }
}
""",
    "example/Greeting.java": """
package example;
import java.util.List;
public class Greeting {
    private final String message;
    private final boolean adult;
    private final List<Integer> doubled;
    public String city;
    public Greeting(String message, boolean adult, List<Integer> doubled, String city) {
        this.message = message; this.adult = adult; this.doubled = doubled; this.city = city;
    }
    public String getMessage() { return message; }
    public boolean isAdult() { return adult; }
    public List<Integer> getDoubled() { return doubled; }
}
""",
    "example/PojoHandler.java": """
package example;
import java.util.*;
public class PojoHandler {
    public static Greeting greet(Person p) {
        List<Integer> d = new ArrayList<>();
        for (int s : p.getScores()) d.add(s * 2);
        return new Greeting("Hello " + p.getName() + " (" + p.nickname + ")", p.getAge() >= 18, d,
                            p.getAddress().getCity());
    }
}
""",
    # Scalars, no-arg methods, a method that throws with a cause, a bad input type.
    "example/Plain.java": """
package example;
import java.util.*;
public class Plain {
    public String upper(String s) { return s.toUpperCase(); }
    public long square(Integer n) { return (long) n * n; }
    public List<Object> nothing() { return Arrays.asList(1, "two", null, true, 2.5); }
    public Object echo(Object o) { return o; }
    public void boom(Map<String, Object> in) {
        try {
            throw new IllegalArgumentException("root cause " + in.get("n"));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("boom " + in.get("n"), e);
        }
    }
}
""",
    # RequestHandler<I, O> by class name, against the bundled interface.
    "example/Typed.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
import java.util.*;
public class Typed implements RequestHandler<Map<String, Integer>, Map<String, Object>> {
    private static int count = 0;
    private final long made = System.nanoTime();
    @Override
    public Map<String, Object> handleRequest(Map<String, Integer> in, Context ctx) {
        count++;
        Map<String, Object> out = new HashMap<>();
        out.put("sum", in.get("a") + in.get("b"));
        out.put("count", count);
        out.put("made", made);
        out.put("rid", ctx.getAwsRequestId());
        return out;
    }
}
""",
    # RequestStreamHandler: raw bytes in, raw bytes out.
    "example/Echo.java": """
package example;
import com.amazonaws.services.lambda.runtime.*;
import java.io.*;
public class Echo implements RequestStreamHandler {
    @Override
    public void handleRequest(InputStream in, OutputStream out, Context ctx) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        int r;
        while ((r = in.read(buf)) > 0) b.write(buf, 0, r);
        out.write(("{\\"rid\\":\\"" + ctx.getAwsRequestId() + "\\",\\"raw\\":").getBytes("UTF-8"));
        out.write(b.toByteArray());
        out.write('}');
    }
}
""",
}

# Packaged as lib/app.jar (Lambda's layout for jars), nothing at the task root.
JAR_HANDLER = {
    "jarred/InJar.java": """
package jarred;
import java.util.*;
public class InJar {
    public Map<String, String> handle(Map<String, String> in) {
        Map<String, String> out = new HashMap<>();
        out.put("from", "jar");
        out.put("loader", InJar.class.getClassLoader().getClass().getSimpleName());
        out.put("resource", new Scanner(InJar.class.getResourceAsStream("/jarred/note.txt"), "UTF-8").nextLine());
        return out;
    }
}
""",
}

NOOP = {
    "bench/Noop.java": """
package bench;
public class Noop {
    public static Object handle(Object in) { return in; }
}
""",
}
