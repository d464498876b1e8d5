package dev.forge.runtime;

import ai.onnxruntime.OrtEnvironment;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Loads ONNX Runtime's native libraries without leaving a directory behind in {@code java.io.tmpdir}, and
 * gives out the shared {@link OrtEnvironment}. Every Forge class that talks to ONNX Runtime gets its
 * environment here, so this runs before ONNX Runtime's own loader.
 *
 * <p>Why: ONNX Runtime's Java loader extracts its libraries from the jar into a fresh
 * {@code onnxruntime-java*} directory and marks each library file, then the directory, with
 * {@link java.io.File#deleteOnExit()}. The JVM deletes such files in the reverse order of registration,
 * so it tries the directory first, while the libraries are still in it, fails, and then deletes the
 * libraries: every JVM that loaded ONNX Runtime left one empty directory behind. Here the libraries are
 * extracted into a directory of Forge's own, registered directory first so that the libraries go first at
 * exit, and ONNX Runtime is pointed at it with its documented {@code onnxruntime.native.path} property;
 * its own directory then stays empty and is deleted at exit. (A JVM killed with SIGKILL runs no exit
 * code and still leaves both behind.)
 *
 * <p>Nothing is changed when {@code onnxruntime.native.path} is already set, when ONNX Runtime is told to
 * load from {@code java.library.path}, when the jar carries no libraries for this platform, or in the GPU
 * build ({@code -Pcuda}, whose CUDA provider ONNX Runtime extracts lazily): ONNX Runtime then loads as it
 * always does.
 */
public final class OrtNativeLibraries {
    /** ONNX Runtime's system property: a directory holding its native libraries. */
    public static final String NATIVE_PATH = "onnxruntime.native.path";

    private static volatile OrtEnvironment env;
    private static boolean prepared;

    private OrtNativeLibraries() {}

    /**
     * The shared ONNX Runtime environment; the first call extracts and loads the native libraries.
     *
     * @throws ForgeRuntimeException if ONNX Runtime cannot start on this machine
     */
    public static OrtEnvironment environment() {
        OrtEnvironment e = env;
        if (e == null) {
            synchronized (OrtNativeLibraries.class) {
                if (env == null) {
                    prepare();
                    try {
                        env = OrtEnvironment.getEnvironment();
                    } catch (RuntimeException | LinkageError err) {
                        throw new ForgeRuntimeException(
                                "ONNX Runtime could not start on this machine (" + System.getProperty("os.name") + "/"
                                        + System.getProperty("os.arch") + "): " + err,
                                err);
                    }
                }
                e = env;
            }
        }
        return e;
    }

    /**
     * Extracts the libraries into a directory of Forge's own and sets {@link #NATIVE_PATH}, when that applies;
     * once per JVM, and without loading ONNX Runtime. Call it before the first use of any ONNX Runtime class
     * (creating {@code SessionOptions} loads the libraries too); {@link #environment()} calls it.
     */
    public static synchronized void prepare() {
        if (prepared) {
            return;
        }
        prepared = true;
        if (System.getProperty(NATIVE_PATH) != null || System.getProperty("ORT_LOAD_FROM_LIBRARY_PATH") != null) {
            return;
        }
        String platform = platform();
        if (platform == null) {
            return;
        }
        String folder = "/ai/onnxruntime/native/" + platform + "/";
        List<String> names = new ArrayList<>();
        for (String lib : List.of(
                "onnxruntime",
                "onnxruntime4j_jni",
                "onnxruntime_providers_shared",
                "onnxruntime_providers_cuda",
                "onnxruntime_providers_tensorrt",
                "onnxruntime_providers_dnnl",
                "onnxruntime_providers_openvino",
                "onnxruntime_providers_rocm")) {
            String file = System.mapLibraryName(lib);
            if (OrtEnvironment.class.getResource(folder + file) != null) {
                names.add(file);
            }
        }
        if (!names.contains(System.mapLibraryName("onnxruntime"))
                || !names.contains(System.mapLibraryName("onnxruntime4j_jni"))) {
            return;
        }
        if (names.contains(System.mapLibraryName("onnxruntime_providers_cuda"))) {
            // the GPU build: its CUDA provider is hundreds of MB, which ONNX Runtime extracts only when a session
            // asks for CUDA; copying it at every start would cost more than the empty directory this avoids
            return;
        }
        Path dir = null;
        try {
            dir = Files.createTempDirectory("forge-onnxruntime");
            // registered first, deleted last: after the files in it
            dir.toFile().deleteOnExit();
            for (String name : names) {
                Path target = dir.resolve(name);
                target.toFile().deleteOnExit();
                try (InputStream in = OrtEnvironment.class.getResourceAsStream(folder + name)) {
                    Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
            System.setProperty(NATIVE_PATH, dir.toString());
        } catch (IOException | RuntimeException e) {
            // ONNX Runtime extracts its libraries itself, as without this class
            System.getLogger(OrtNativeLibraries.class.getName())
                    .log(System.Logger.Level.DEBUG, "could not extract ONNX Runtime's libraries to " + dir, e);
        }
    }

    /** ONNX Runtime's name of this platform's library folder ({@code linux-x64}), or null if unknown. */
    private static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o;
        if (os.contains("mac") || os.contains("darwin")) {
            o = "osx";
        } else if (os.contains("win")) {
            o = "win";
        } else if (os.contains("nux")) {
            o = "linux";
        } else {
            return null;
        }
        String a;
        if (arch.startsWith("amd64") || arch.startsWith("x86_64") || arch.equals("x64")) {
            a = "x64";
        } else if (arch.startsWith("aarch64")) {
            a = "aarch64";
        } else {
            return null;
        }
        return o + "-" + a;
    }
}
