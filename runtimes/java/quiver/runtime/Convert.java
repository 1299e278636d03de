package quiver.runtime;

import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Turns a parsed JSON value into the handler's declared input type, with the coercions
 * Lambda's Jackson-based serializer makes: numbers to any numeric type, scalars to
 * String, strings to numbers and booleans, objects to Maps or POJOs (public no-arg
 * constructor, then setters or public fields; unknown members ignored, names matched
 * exactly, then case-insensitively), arrays to Lists, Sets and arrays.
 */
final class Convert {
    private Convert() {}

    /** The input does not fit the handler's parameter type. */
    static final class MismatchException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        MismatchException(String msg) {
            super(msg);
        }
    }

    static Class<?> raw(Type t) {
        if (t instanceof Class) {
            return (Class<?>) t;
        }
        if (t instanceof ParameterizedType) {
            return raw(((ParameterizedType) t).getRawType());
        }
        if (t instanceof GenericArrayType) {
            return java.lang.reflect.Array.newInstance(raw(((GenericArrayType) t).getGenericComponentType()), 0).getClass();
        }
        if (t instanceof TypeVariable) {
            Type[] b = ((TypeVariable<?>) t).getBounds();
            return b.length > 0 ? raw(b[0]) : Object.class;
        }
        if (t instanceof WildcardType) {
            Type[] b = ((WildcardType) t).getUpperBounds();
            return b.length > 0 ? raw(b[0]) : Object.class;
        }
        return Object.class;
    }

    private static Type arg(Type t, int i) {
        if (t instanceof ParameterizedType) {
            Type[] a = ((ParameterizedType) t).getActualTypeArguments();
            if (i < a.length) {
                return a[i];
            }
        }
        return Object.class;
    }

    private static MismatchException mismatch(Object v, Type t) {
        String what = v == null ? "null" : v instanceof Map ? "an object" : v instanceof List ? "an array"
                : v instanceof String ? "a string" : v instanceof Boolean ? "a boolean" : "a number";
        return new MismatchException("Cannot deserialize " + what + " as " + t.getTypeName());
    }

    static Object to(Object v, Type t, int depth) {
        if (depth > 512) {
            throw new MismatchException("document nested too deeply");
        }
        Class<?> c = raw(t);
        if (v == null) {
            if (c.isPrimitive()) {
                return c == boolean.class ? Boolean.FALSE : c == char.class ? Character.valueOf('\0') : number(0, c);
            }
            return null;
        }
        if (c == Object.class) {
            return v;
        }
        if (c == String.class || c == CharSequence.class) {
            if (v instanceof Map || v instanceof List) {
                throw mismatch(v, t);
            }
            return v.toString();
        }
        if (c == boolean.class || c == Boolean.class) {
            if (v instanceof Boolean) {
                return v;
            }
            if ("true".equals(v) || "false".equals(v)) {
                return Boolean.valueOf((String) v);
            }
            if (v instanceof Number) {
                return ((Number) v).doubleValue() != 0;
            }
            throw mismatch(v, t);
        }
        if (c == char.class || c == Character.class) {
            if (v instanceof String && ((String) v).length() == 1) {
                return ((String) v).charAt(0);
            }
            throw mismatch(v, t);
        }
        if (c.isPrimitive() || Number.class.isAssignableFrom(c)) {
            Object n = v;
            if (v instanceof String) {
                try {
                    n = new BigDecimal(((String) v).trim());
                } catch (NumberFormatException e) {
                    throw mismatch(v, t);
                }
            }
            if (!(n instanceof Number)) {
                throw mismatch(v, t);
            }
            return number((Number) n, c);
        }
        if (c.isEnum()) {
            for (Object e : c.getEnumConstants()) {
                if (((Enum<?>) e).name().equals(v)) {
                    return e;
                }
            }
            throw new MismatchException("Cannot deserialize " + v + " as enum " + c.getName());
        }
        if (c == byte[].class && v instanceof String) {
            return Base64.getDecoder().decode((String) v);
        }
        if (c.isArray()) {
            List<?> l = asList(v, t);
            Type et = t instanceof GenericArrayType ? ((GenericArrayType) t).getGenericComponentType() : c.getComponentType();
            Object arr = java.lang.reflect.Array.newInstance(c.getComponentType(), l.size());
            for (int i = 0; i < l.size(); i++) {
                java.lang.reflect.Array.set(arr, i, to(l.get(i), et, depth + 1));
            }
            return arr;
        }
        if (Collection.class.isAssignableFrom(c)) {
            List<?> l = asList(v, t);
            Collection<Object> out = newCollection(c);
            for (Object e : l) {
                out.add(to(e, arg(t, 0), depth + 1));
            }
            return out;
        }
        if (Map.class.isAssignableFrom(c)) {
            if (!(v instanceof Map)) {
                throw mismatch(v, t);
            }
            Map<Object, Object> out = c.isAssignableFrom(LinkedHashMap.class) ? new LinkedHashMap<>()
                    : c.isAssignableFrom(TreeMap.class) ? new TreeMap<>() : instantiate(c);
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                out.put(to(e.getKey(), arg(t, 0), depth + 1), to(e.getValue(), arg(t, 1), depth + 1));
            }
            return out;
        }
        if (!(v instanceof Map)) {
            throw mismatch(v, t);
        }
        return pojo((Map<?, ?>) v, c, depth);
    }

    private static List<?> asList(Object v, Type t) {
        if (!(v instanceof List)) {
            throw mismatch(v, t);
        }
        return (List<?>) v;
    }

    @SuppressWarnings("unchecked")
    private static Collection<Object> newCollection(Class<?> c) {
        if (c.isAssignableFrom(ArrayList.class)) {
            return new ArrayList<>();
        }
        if (c.isAssignableFrom(HashSet.class)) {
            return new java.util.LinkedHashSet<>();
        }
        if (c.isAssignableFrom(java.util.TreeSet.class)) {
            return new java.util.TreeSet<>();
        }
        return (Collection<Object>) instantiate(c);
    }

    private static Object number(Number n, Class<?> c) {
        if (c == int.class || c == Integer.class) {
            return n.intValue();
        }
        if (c == long.class || c == Long.class) {
            return n.longValue();
        }
        if (c == double.class || c == Double.class) {
            return n.doubleValue();
        }
        if (c == float.class || c == Float.class) {
            return n.floatValue();
        }
        if (c == short.class || c == Short.class) {
            return n.shortValue();
        }
        if (c == byte.class || c == Byte.class) {
            return n.byteValue();
        }
        if (c == BigDecimal.class) {
            return n instanceof BigDecimal ? n : new BigDecimal(n.toString());
        }
        if (c == BigInteger.class) {
            return n instanceof BigInteger ? n : new BigDecimal(n.toString()).toBigInteger();
        }
        if (c.isInstance(n)) {
            return n;
        }
        throw new MismatchException("Cannot deserialize a number as " + c.getName());
    }

    @SuppressWarnings("unchecked")
    private static <T> T instantiate(Class<?> c) {
        if (c.isInterface() || Modifier.isAbstract(c.getModifiers())) {
            throw new MismatchException("Cannot construct instance of " + c.getName()
                    + " (abstract types need a concrete type)");
        }
        try {
            Constructor<?> k = c.getDeclaredConstructor();
            k.setAccessible(true);
            return (T) k.newInstance();
        } catch (NoSuchMethodException e) {
            throw new MismatchException("Cannot construct instance of " + c.getName()
                    + " (no Creators, like default constructor, exist)");
        } catch (ReflectiveOperationException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new MismatchException("Cannot construct instance of " + c.getName() + ": " + cause);
        }
    }

    /** A POJO from an object: setters first, then non-static fields (public, or any when no setter). */
    private static Object pojo(Map<?, ?> m, Class<?> c, int depth) {
        Object bean = instantiate(c);
        Map<String, Method> setters = new LinkedHashMap<>();
        for (Method s : c.getMethods()) {
            String n = s.getName();
            if (n.startsWith("set") && n.length() > 3 && s.getParameterCount() == 1
                    && !Modifier.isStatic(s.getModifiers())) {
                setters.putIfAbsent(Json.decapitalize(n.substring(3)), s);
            }
        }
        Map<String, Field> fields = new LinkedHashMap<>();
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
            for (Field f : k.getDeclaredFields()) {
                int mod = f.getModifiers();
                if (!Modifier.isStatic(mod) && !Modifier.isFinal(mod) && Modifier.isPublic(mod)) {
                    fields.putIfAbsent(f.getName(), f);
                }
            }
        }
        try {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                String key = String.valueOf(e.getKey());
                Method s = lookup(setters, key);
                if (s != null) {
                    s.setAccessible(true);
                    s.invoke(bean, to(e.getValue(), s.getGenericParameterTypes()[0], depth + 1));
                    continue;
                }
                Field f = lookup(fields, key);
                if (f != null) {
                    f.setAccessible(true);
                    f.set(bean, to(e.getValue(), f.getGenericType(), depth + 1));
                }
            }
        } catch (java.lang.reflect.InvocationTargetException e) {
            Throwable t = e.getCause() == null ? e : e.getCause();
            throw new MismatchException("A setter of " + c.getName() + " threw " + t);
        } catch (IllegalAccessException e) {
            throw new MismatchException(e.toString());
        }
        return bean;
    }

    private static <V> V lookup(Map<String, V> m, String key) {
        V v = m.get(key);
        if (v != null) {
            return v;
        }
        for (Map.Entry<String, V> e : m.entrySet()) {
            if (e.getKey().equalsIgnoreCase(key)) {
                return e.getValue();
            }
        }
        return null;
    }

    /** Whether a class or one of its supertypes is the interface named `name` (by name, any loader). */
    static boolean implementsNamed(Class<?> c, String name) {
        Set<Class<?>> seen = new HashSet<>();
        List<Class<?>> todo = new ArrayList<>();
        todo.add(c);
        while (!todo.isEmpty()) {
            Class<?> k = todo.remove(todo.size() - 1);
            if (k == null || !seen.add(k)) {
                continue;
            }
            if (k.getName().equals(name)) {
                return true;
            }
            todo.add(k.getSuperclass());
            for (Class<?> i : k.getInterfaces()) {
                todo.add(i);
            }
        }
        return false;
    }
}
