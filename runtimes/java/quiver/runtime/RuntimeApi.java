package quiver.runtime;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A minimal HTTP/1.1 client for the Runtime API on one keep-alive connection.
 *
 * Why not java.net.http.HttpClient or HttpURLConnection: measured on a JDK 17 cold
 * start, HttpClient's first request costs over a second of class loading and
 * HttpURLConnection's about 100 ms; a plain socket costs a few ms, and the Runtime API
 * needs no more than Content-Length and chunked bodies.
 */
final class RuntimeApi {
    private final String host;
    private final int port;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    RuntimeApi(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        this.host = hostPort.substring(0, colon).replace("[", "").replace("]", "");
        this.port = Integer.parseInt(hostPort.substring(colon + 1));
    }

    static final class Response {
        final int status;
        final Map<String, String> headers;
        final byte[] body;

        Response(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }
    }

    /** The next event; /next blocks until there is one. */
    Invocation next() throws IOException {
        Response r = request("GET", "/2018-06-01/runtime/invocation/next", null, null);
        if (r.status != 200) {
            System.err.println("quiver runtime: /next answered " + r.status + "; exiting");
            System.exit(1);
        }
        return new Invocation(r.headers, r.body);
    }

    /** POSTs a body; `errorType` (when set) goes in Lambda-Runtime-Function-Error-Type. */
    void post(String path, byte[] body, String errorType) throws IOException {
        Response r = request("POST", path, body, errorType);
        if (r.status != 202) {
            System.err.println("quiver runtime: POST " + path + " answered " + r.status + ": "
                    + new String(r.body, StandardCharsets.UTF_8));
        }
    }

    private void connect() throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.setKeepAlive(true);
        s.connect(new InetSocketAddress(host, port));
        socket = s;
        in = new BufferedInputStream(s.getInputStream(), 16 * 1024);
        out = new BufferedOutputStream(s.getOutputStream(), 16 * 1024);
    }

    private void close() {
        try {
            if (socket != null) {
                socket.close();
            }
        } catch (IOException e) {
            // Already gone.
        }
        socket = null;
    }

    /** One request; a connection the server closed while idle is reopened once. */
    private Response request(String method, String path, byte[] body, String errorType) throws IOException {
        boolean fresh = socket == null;
        for (int attempt = 0; ; attempt++) {
            if (socket == null) {
                connect();
            }
            boolean sent = false;
            try {
                send(method, path, body, errorType);
                sent = true;
                return read();
            } catch (IOException e) {
                close();
                // Retry only a request that may never have reached the server on a reused
                // connection: a reset on write, or EOF before any byte of the response.
                boolean stale = !fresh && attempt == 0 && (!sent || e instanceof EOFException);
                if (!stale) {
                    throw e;
                }
                fresh = true;
            }
        }
    }

    private void send(String method, String path, byte[] body, String errorType) throws IOException {
        StringBuilder h = new StringBuilder(256);
        h.append(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: ").append(host).append(':').append(port)
                .append("\r\nUser-Agent: quiver-java-runtime\r\n");
        if (body != null) {
            h.append("Content-Type: application/json\r\nContent-Length: ").append(body.length).append("\r\n");
        }
        if (errorType != null) {
            h.append("Lambda-Runtime-Function-Error-Type: ").append(errorType).append("\r\n");
        }
        h.append("\r\n");
        out.write(h.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (body != null) {
            out.write(body);
        }
        out.flush();
    }

    private String line(boolean first) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(128);
        while (true) {
            int c = in.read();
            if (c < 0) {
                if (first && b.size() == 0) {
                    throw new EOFException("connection closed before a response");
                }
                throw new IOException("connection closed in the middle of a response");
            }
            if (c == '\n') {
                break;
            }
            if (b.size() > 64 * 1024) {
                throw new IOException("response line too long");
            }
            b.write(c);
        }
        String s = new String(b.toByteArray(), StandardCharsets.ISO_8859_1);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
    }

    private Response read() throws IOException {
        String status = line(true);
        String[] parts = status.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
            throw new IOException("bad status line: " + status);
        }
        int code = Integer.parseInt(parts[1]);
        Map<String, String> headers = new HashMap<>();
        while (true) {
            String l = line(false);
            if (l.isEmpty()) {
                break;
            }
            int c = l.indexOf(':');
            if (c > 0) {
                // Header values are UTF-8 when they carry JSON (client context).
                String v = new String(l.substring(c + 1).trim().getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
                headers.put(l.substring(0, c).trim().toLowerCase(Locale.ROOT), v);
            }
        }
        byte[] body;
        String te = headers.get("transfer-encoding");
        String cl = headers.get("content-length");
        if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
            body = chunked();
        } else if (cl != null) {
            body = exactly(Integer.parseInt(cl.trim()));
        } else if (code == 204 || code == 304) {
            body = new byte[0];
        } else {
            body = toEof();
        }
        if ("close".equalsIgnoreCase(headers.get("connection"))) {
            close();
        }
        return new Response(code, headers, body);
    }

    private byte[] exactly(int n) throws IOException {
        byte[] b = new byte[n];
        int off = 0;
        while (off < n) {
            int r = in.read(b, off, n - off);
            if (r < 0) {
                throw new IOException("connection closed in the middle of a body");
            }
            off += r;
        }
        return b;
    }

    private byte[] chunked() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (true) {
            String size = line(false);
            int semi = size.indexOf(';');
            int n = Integer.parseInt((semi >= 0 ? size.substring(0, semi) : size).trim(), 16);
            if (n == 0) {
                while (!line(false).isEmpty()) {
                    // Trailers are ignored.
                }
                return b.toByteArray();
            }
            b.write(exactly(n));
            line(false);
        }
    }

    private byte[] toEof() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int r;
        while ((r = in.read(buf)) >= 0) {
            b.write(buf, 0, r);
        }
        close();
        return b.toByteArray();
    }
}
