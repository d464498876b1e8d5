package dev.forge.docs;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/**
 * Compiles and runs the {@code ```java} blocks of a Markdown file, each as a complete compilation unit:
 * javax.tools against the test class path, then its {@code main} in a child JVM with the same class
 * path and a temporary working directory. Failures are {@link AssertionError}s that name the block's line
 * in the Markdown file and carry javac's diagnostics (mapped to Markdown lines) or the program's output.
 */
final class ReadmeExamples {
    /** One fenced Java block; {@code line} is the 1-based line of its opening fence. */
    record Block(String file, int line, String code) {
        String where() {
            return file + ":" + line;
        }
    }

    private static final Pattern OPEN = Pattern.compile("^\\s*```java\\s*$");
    private static final Pattern CLOSE = Pattern.compile("^\\s*```\\s*$");
    private static final Pattern PACKAGE = Pattern.compile("(?m)^\\s*package\\s+([\\w.]+)\\s*;");
    private static final Pattern PUBLIC_TYPE =
            Pattern.compile("(?m)^public\\s+(?:final\\s+|abstract\\s+)*(?:class|record|interface|enum)\\s+(\\w+)");
    private static final Pattern ANY_TYPE =
            Pattern.compile("(?m)^(?:final\\s+|abstract\\s+)*(?:class|record|interface|enum)\\s+(\\w+)");
    private static final Pattern MAIN = Pattern.compile("static\\s+void\\s+main\\s*\\(");

    private ReadmeExamples() {}

    /** Every {@code ```java} block of {@code markdown}, in order; {@code file} names it in messages. */
    static List<Block> javaBlocks(String file, String markdown) {
        List<Block> blocks = new ArrayList<>();
        String[] lines = markdown.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (!OPEN.matcher(lines[i]).matches()) {
                continue;
            }
            int open = i;
            StringBuilder code = new StringBuilder();
            for (i++; i < lines.length && !CLOSE.matcher(lines[i]).matches(); i++) {
                code.append(lines[i]).append('\n');
            }
            if (i == lines.length) {
                throw new AssertionError(file + ":" + (open + 1) + ": the ```java block is never closed");
            }
            blocks.add(new Block(file, open + 1, code.toString()));
        }
        return blocks;
    }

    /** The class path the tests run with (surefire passes it in a property; its own class path is a manifest jar). */
    static String testClassPath() {
        return System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    }

    /**
     * Compiles the block into {@code work/classes} and runs its main class with {@code work} as the working
     * directory; returns the program's output (stdout and stderr together).
     *
     * @throws AssertionError when the block is not a complete unit with a main method, does not compile,
     *     exits with a non-zero status, or runs longer than {@code timeout}
     */
    static String compileAndRun(Block block, Path work, Duration timeout) {
        String main = mainClass(block);
        Path classes = compile(block, main, work);
        return run(block, main, classes, work, timeout);
    }

    /** The fully qualified name of the block's public (or first) top-level type, which must have a main method. */
    static String mainClass(Block block) {
        Matcher type = PUBLIC_TYPE.matcher(block.code());
        if (!type.find()) {
            type = ANY_TYPE.matcher(block.code());
            if (!type.find()) {
                throw new AssertionError(
                        block.where() + ": the ```java block is not a complete compilation unit (no top-level "
                                + "class); write it as a class with imports and a main method so that it compiles as written");
            }
        }
        if (!MAIN.matcher(block.code()).find()) {
            throw new AssertionError(
                    block.where() + ": class " + type.group(1) + " has no main method; a README example must run");
        }
        Matcher pkg = PACKAGE.matcher(block.code());
        return pkg.find() ? pkg.group(1) + "." + type.group(1) : type.group(1);
    }

    private static Path compile(Block block, String main, Path work) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            throw new AssertionError("no system Java compiler: run the tests on a JDK, not a JRE");
        }
        try {
            Path src = work.resolve("src").resolve(main.replace('.', '/') + ".java");
            Path classes = work.resolve("classes");
            Files.createDirectories(src.getParent());
            Files.createDirectories(classes);
            Files.writeString(src, block.code(), StandardCharsets.UTF_8);
            DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
            try (StandardJavaFileManager files =
                    javac.getStandardFileManager(diagnostics, Locale.ROOT, StandardCharsets.UTF_8)) {
                List<String> options = List.of(
                        "--release", "17", "-proc:none", "-classpath", testClassPath(), "-d", classes.toString());
                StringWriter out = new StringWriter();
                boolean ok = javac.getTask(out, files, diagnostics, options, null, files.getJavaFileObjects(src))
                        .call();
                if (!ok) {
                    StringBuilder msg = new StringBuilder(block.where() + ": the ```java block does not compile:");
                    for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
                        if (d.getKind() == Diagnostic.Kind.ERROR) {
                            // the block's first code line is the line after the fence
                            msg.append("\n  ")
                                    .append(block.file())
                                    .append(':')
                                    .append(block.line() + d.getLineNumber())
                                    .append(": ")
                                    .append(d.getMessage(Locale.ROOT).replace("\n", "\n    "));
                        }
                    }
                    throw new AssertionError(msg.append(out).toString());
                }
            }
            return classes;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String run(Block block, String main, Path classes, Path work, Duration timeout) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = classes + System.getProperty("path.separator") + testClassPath();
        Path log = work.resolve("output.txt");
        try {
            Process p = new ProcessBuilder(java, "-cp", cp, main)
                    .directory(work.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(nullFile()))
                    .start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor();
                throw new AssertionError(block.where() + ": " + main + " still ran after " + timeout.toSeconds()
                        + " s; output:\n" + tail(log));
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new AssertionError(block.where() + ": " + main + " exited with status " + p.exitValue()
                        + "; output:\n" + tail(log));
            }
            return output;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(block.where() + ": interrupted", e);
        }
    }

    private static java.io.File nullFile() {
        return new java.io.File(System.getProperty("os.name").startsWith("Windows") ? "NUL" : "/dev/null");
    }

    private static String tail(Path log) throws IOException {
        String s = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
        return s.length() <= 4000 ? s : "...\n" + s.substring(s.length() - 4000);
    }
}
