package dev.forge.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The key and sidecar file of the optimized-model cache (see {@link ModelOptions}).
 *
 * <p>The sidecar {@code <cache>.key} is a small UTF-8 text file of {@code key=value} lines: the cache
 * format, the SHA-256 of the source model, the optimization level, the ONNX Runtime version, the host
 * CPU, and the SHA-256 of the cache file it describes. A cache is used only when every line matches.
 */
final class OptimizedModelCache {
    static final String FORMAT = "forge-optimized-model-cache/1";

    private OptimizedModelCache() {}

    static Path sidecarOf(Path cache) {
        return cache.resolveSibling(cache.getFileName() + ".key");
    }

    /** The lines that must match for a cache to be reused, in file order. */
    static Map<String, String> expectedKey(String sourceSha256, OptimizationLevel level, String ortVersion) {
        Map<String, String> key = new LinkedHashMap<>();
        key.put("format", FORMAT);
        key.put("source.sha256", sourceSha256);
        key.put("optimization.level", level.name());
        key.put("onnxruntime.version", ortVersion);
        key.put("host", hostFingerprint());
        return key;
    }

    /**
     * Reads a sidecar; returns null if it does not exist or cannot be parsed.
     */
    static Map<String, String> readSidecar(Path sidecar) {
        try {
            if (!Files.isRegularFile(sidecar) || Files.size(sidecar) > 64 * 1024) {
                return null;
            }
            Map<String, String> map = new LinkedHashMap<>();
            for (String line : Files.readAllLines(sidecar, StandardCharsets.UTF_8)) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                int eq = line.indexOf('=');
                if (eq <= 0) {
                    return null;
                }
                map.put(line.substring(0, eq), line.substring(eq + 1));
            }
            return map;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    static byte[] sidecarBytes(Map<String, String> key, String cacheSha256) {
        StringBuilder sb =
                new StringBuilder("# Forge optimized-model cache key; the cache is rebuilt when any line differs\n");
        key.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        sb.append("cache.sha256=").append(cacheSha256).append('\n');
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Null when the sidecar matches the key, else a short reason for the log. */
    static String mismatch(Map<String, String> sidecar, Map<String, String> key) {
        if (sidecar == null) {
            return "no readable key file";
        }
        for (Map.Entry<String, String> e : key.entrySet()) {
            String found = sidecar.get(e.getKey());
            if (!e.getValue().equals(found)) {
                return e.getKey() + " differs (cached " + found + ", now " + e.getValue() + ")";
            }
        }
        if (sidecar.get("cache.sha256") == null) {
            return "the key file has no cache.sha256";
        }
        return null;
    }

    static String sha256(byte[] bytes) {
        return hex(digest().digest(bytes));
    }

    static String sha256(Path file) throws IOException {
        MessageDigest md = digest();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return hex(md.digest());
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every Java platform has SHA-256", e);
        }
    }

    private static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) {
            sb.append(String.format("%02x", x & 0xff));
        }
        return sb.toString();
    }

    private static volatile String host;

    /**
     * OS, architecture and (on Linux) the CPU model and a hash of its feature flags: graph optimizations
     * at level ALL pick kernels and layouts by the CPU's vector width, so a cache made on one CPU must
     * not be reused on another.
     */
    static String hostFingerprint() {
        String h = host;
        if (h == null) {
            String os = System.getProperty("os.name", "?") + "/" + System.getProperty("os.arch", "?");
            String cpu = "";
            Path cpuinfo = Path.of("/proc/cpuinfo");
            if (Files.isReadable(cpuinfo)) {
                try (Stream<String> lines = Files.lines(cpuinfo)) {
                    List<String> first = lines.filter(l -> l.startsWith("model name")
                                    || l.startsWith("flags")
                                    || l.startsWith("Features")
                                    || l.startsWith("CPU part"))
                            .distinct()
                            .toList();
                    String model = first.stream()
                            .filter(l -> l.startsWith("model name"))
                            .findFirst()
                            .map(l -> l.substring(l.indexOf(':') + 1).trim())
                            .orElse("");
                    String flags = String.join("\n", first);
                    cpu = "/" + model + "/"
                            + sha256(flags.getBytes(StandardCharsets.UTF_8)).substring(0, 16);
                } catch (IOException | RuntimeException e) {
                    cpu = "";
                }
            }
            h = (os + cpu).replace('\n', ' ').replace('\r', ' ').toLowerCase(Locale.ROOT);
            host = h;
        }
        return h;
    }
}
