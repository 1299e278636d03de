package quiver.runtime;

import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Base64;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader and writer, so the bootstrap needs nothing beyond the JDK (no
 * Jackson on the class path, no Maven access where functions are built).
 *
 * Reading gives plain values the way Lambda's Jackson-based serializer does for an
 * Object-typed input: objects are LinkedHashMap (document order kept), arrays ArrayList,
 * integers Integer, Long or BigInteger by size, decimals Double, and String, Boolean, null.
 *
 * Writing follows Jackson's default bean rules, which is what functions on Lambda
 * see: public getters (getX / isX for booleans) and public fields, named as declared
 * with the first letters decapitalised, byte[] as base64, enums by name, Date as epoch
 * milliseconds.
 */
final class Json {
    private Json() {}

    /** A JSON document that does not parse. */
    static final class ParseException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ParseException(String msg) {
            super(msg);
        }
    }

    // ------------------------------------------------------------------ reading

    static Object parse(String text) {
        Reader r = new Reader(text);
        r.ws();
        Object v = r.value(0);
        r.ws();
        if (r.pos != text.length()) {
            throw r.fail("unexpected trailing characters");
        }
        return v;
    }

    private static final class Reader {
        final String s;
        int pos;

        Reader(String s) {
            this.s = s;
        }

        ParseException fail(String what) {
            return new ParseException(what + " at offset " + pos);
        }

        void ws() {
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                    return;
                }
                pos++;
            }
        }

        Object value(int depth) {
            if (depth > 512) {
                throw fail("document nested too deeply");
            }
            if (pos >= s.length()) {
                throw fail("unexpected end of input");
            }
            char c = s.charAt(pos);
            switch (c) {
                case '{':
                    return object(depth);
                case '[':
                    return array(depth);
                case '"':
                    return string();
                case 't':
                    return word("true", Boolean.TRUE);
                case 'f':
                    return word("false", Boolean.FALSE);
                case 'n':
                    return word("null", null);
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) {
                        return number();
                    }
                    throw fail("unexpected character '" + c + "'");
            }
        }

        Object word(String w, Object v) {
            if (!s.startsWith(w, pos)) {
                throw fail("invalid literal");
            }
            pos += w.length();
            return v;
        }

        Map<String, Object> object(int depth) {
            Map<String, Object> m = new LinkedHashMap<>();
            pos++;
            ws();
            if (pos < s.length() && s.charAt(pos) == '}') {
                pos++;
                return m;
            }
            while (true) {
                ws();
                if (pos >= s.length() || s.charAt(pos) != '"') {
                    throw fail("expected a member name");
                }
                String k = string();
                ws();
                expect(':');
                ws();
                m.put(k, value(depth + 1));
                ws();
                if (pos < s.length() && s.charAt(pos) == ',') {
                    pos++;
                    continue;
                }
                expect('}');
                return m;
            }
        }

        List<Object> array(int depth) {
            List<Object> l = new ArrayList<>();
            pos++;
            ws();
            if (pos < s.length() && s.charAt(pos) == ']') {
                pos++;
                return l;
            }
            while (true) {
                ws();
                l.add(value(depth + 1));
                ws();
                if (pos < s.length() && s.charAt(pos) == ',') {
                    pos++;
                    continue;
                }
                expect(']');
                return l;
            }
        }

        void expect(char c) {
            if (pos >= s.length() || s.charAt(pos) != c) {
                throw fail("expected '" + c + "'");
            }
            pos++;
        }

        String string() {
            pos++;
            StringBuilder b = new StringBuilder();
            while (true) {
                if (pos >= s.length()) {
                    throw fail("unterminated string");
                }
                char c = s.charAt(pos++);
                if (c == '"') {
                    return b.toString();
                }
                if (c < 0x20) {
                    throw fail("control character in string");
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                if (pos >= s.length()) {
                    throw fail("unterminated escape");
                }
                char e = s.charAt(pos++);
                switch (e) {
                    case '"': b.append('"'); break;
                    case '\\': b.append('\\'); break;
                    case '/': b.append('/'); break;
                    case 'b': b.append('\b'); break;
                    case 'f': b.append('\f'); break;
                    case 'n': b.append('\n'); break;
                    case 'r': b.append('\r'); break;
                    case 't': b.append('\t'); break;
                    case 'u':
                        if (pos + 4 > s.length()) {
                            throw fail("short unicode escape");
                        }
                        try {
                            b.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
                        } catch (NumberFormatException x) {
                            throw fail("bad unicode escape");
                        }
                        pos += 4;
                        break;
                    default:
                        throw fail("bad escape '\\" + e + "'");
                }
            }
        }

        Object number() {
            int start = pos;
            if (s.charAt(pos) == '-') {
                pos++;
            }
            boolean decimal = false;
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c >= '0' && c <= '9') {
                    pos++;
                } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                    decimal = true;
                    pos++;
                } else {
                    break;
                }
            }
            String t = s.substring(start, pos);
            try {
                if (decimal) {
                    return Double.valueOf(t);
                }
                BigInteger big = new BigInteger(t);
                if (big.bitLength() < 32) {
                    return big.intValue();
                }
                if (big.bitLength() < 64) {
                    return big.longValue();
                }
                return big;
            } catch (NumberFormatException x) {
                pos = start;
                throw fail("bad number '" + t + "'");
            }
        }
    }

    // ------------------------------------------------------------------ writing

    static String write(Object v) {
        StringBuilder b = new StringBuilder();
        new Writer(b).value(v, 0);
        return b.toString();
    }

    static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                case '\b': b.append("\\b"); break;
                case '\f': b.append("\\f"); break;
                default:
                    if (c < 0x20 || c == 0x2028 || c == 0x2029) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        b.append('"');
    }

    private static final class Writer {
        final StringBuilder b;
        /** Objects being written, so a cycle is an error and not a stack overflow. */
        final IdentityHashMap<Object, Boolean> open = new IdentityHashMap<>();

        Writer(StringBuilder b) {
            this.b = b;
        }

        void value(Object v, int depth) {
            if (depth > 1000) {
                throw new IllegalStateException("Document nesting depth exceeds the maximum allowed (1000)");
            }
            if (v == null) {
                b.append("null");
            } else if (v instanceof String || v instanceof Character) {
                quote(b, v.toString());
            } else if (v instanceof Boolean) {
                b.append(v.toString());
            } else if (v instanceof Double || v instanceof Float) {
                double d = ((Number) v).doubleValue();
                if (Double.isNaN(d) || Double.isInfinite(d)) {
                    quote(b, v.toString());
                } else {
                    b.append(v.toString());
                }
            } else if (v instanceof BigDecimal) {
                b.append(((BigDecimal) v).toPlainString());
            } else if (v instanceof Number) {
                b.append(v.toString());
            } else if (v instanceof Enum) {
                quote(b, ((Enum<?>) v).name());
            } else if (v instanceof byte[]) {
                quote(b, Base64.getEncoder().encodeToString((byte[]) v));
            } else if (v instanceof java.util.Date) {
                b.append(((java.util.Date) v).getTime());
            } else if (v instanceof java.util.Optional) {
                value(((java.util.Optional<?>) v).orElse(null), depth);
            } else {
                if (open.put(v, Boolean.TRUE) != null) {
                    throw new IllegalStateException("Direct self-reference leading to cycle (" + v.getClass().getName() + ")");
                }
                if (v instanceof Map) {
                    map((Map<?, ?>) v, depth);
                } else if (v instanceof Iterable) {
                    b.append('[');
                    boolean first = true;
                    for (Object e : (Iterable<?>) v) {
                        if (!first) {
                            b.append(',');
                        }
                        first = false;
                        value(e, depth + 1);
                    }
                    b.append(']');
                } else if (v.getClass().isArray()) {
                    b.append('[');
                    for (int i = 0, n = Array.getLength(v); i < n; i++) {
                        if (i > 0) {
                            b.append(',');
                        }
                        value(Array.get(v, i), depth + 1);
                    }
                    b.append(']');
                } else {
                    map(beanProperties(v), depth);
                }
                open.remove(v);
            }
        }

        void map(Map<?, ?> m, int depth) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                quote(b, String.valueOf(e.getKey()));
                b.append(':');
                value(e.getValue(), depth + 1);
            }
            b.append('}');
        }
    }

    /** Jackson's name for a getter suffix: `Name` → `name`, `URL` → `url`, `URLPath` → `urlpath`. */
    static String decapitalize(String s) {
        int i = 0;
        while (i < s.length() && Character.isUpperCase(s.charAt(i))) {
            i++;
        }
        return s.substring(0, i).toLowerCase(java.util.Locale.ROOT) + s.substring(i);
    }

    /** The bean's properties in declaration order of its fields, then other getters by name. */
    static Map<String, Object> beanProperties(Object bean) {
        Class<?> c = bean.getClass();
        Map<String, Method> getters = new java.util.TreeMap<>();
        for (Method m : c.getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0
                    || m.getDeclaringClass() == Object.class || m.getReturnType() == void.class) {
                continue;
            }
            String n = m.getName();
            if (n.startsWith("get") && n.length() > 3) {
                getters.put(decapitalize(n.substring(3)), m);
            } else if (n.startsWith("is") && n.length() > 2
                    && (m.getReturnType() == boolean.class || m.getReturnType() == Boolean.class)) {
                getters.putIfAbsent(decapitalize(n.substring(2)), m);
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        List<Class<?>> chain = new ArrayList<>();
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
            chain.add(0, k);
        }
        try {
            for (Class<?> k : chain) {
                for (Field f : k.getDeclaredFields()) {
                    int mod = f.getModifiers();
                    if (Modifier.isStatic(mod) || Modifier.isTransient(mod) || f.isSynthetic()) {
                        continue;
                    }
                    Method g = getters.remove(f.getName());
                    if (g != null) {
                        out.put(f.getName(), invoke(g, bean));
                    } else if (Modifier.isPublic(mod)) {
                        out.put(f.getName(), f.get(bean));
                    }
                }
            }
            for (Map.Entry<String, Method> e : getters.entrySet()) {
                out.put(e.getKey(), invoke(e.getValue(), bean));
            }
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    private static Object invoke(Method g, Object bean) throws IllegalAccessException {
        try {
            g.setAccessible(true);
        } catch (RuntimeException e) {
            // A module refused; a public getter of a public class is callable anyway.
        }
        try {
            return g.invoke(bean);
        } catch (java.lang.reflect.InvocationTargetException e) {
            Throwable t = e.getCause();
            throw new IllegalStateException(t == null ? e.toString() : t.toString(), t);
        }
    }
}
