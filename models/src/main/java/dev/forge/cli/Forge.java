package dev.forge.cli;

import dev.forge.compiler.onnx.OnnxFormatException;
import dev.forge.compiler.ops.ShapeException;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.ForgeRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.Charset;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code forge} command line: {@code inspect}, {@code export}, {@code run}, {@code bench}, {@code train},
 * {@code eval} and {@code predict}.
 *
 * <p>Exit codes: 0 success; 1 a user error (a missing or malformed file, an unknown model or input name, a
 * wrong shape or type, an unavailable device, a bad option value), reported as one line {@code forge:
 * error: <message>} on stderr; 2 a usage error found by the option parser (picocli's message and a hint);
 * 3 an internal error ({@code forge: internal error: ...}). Stack traces only with {@code --debug}.
 */
@Command(
        name = "forge",
        mixinStandardHelpOptions = true,
        versionProvider = Forge.Version.class,
        synopsisSubcommandLabel = "COMMAND",
        description = {
            "Forge: build, train, inspect, export, run and benchmark convolutional networks as ONNX models.",
            ""
        },
        subcommands = {
            InspectCommand.class,
            ExportCommand.class,
            RunCommand.class,
            BenchCommand.class,
            TrainCommand.class,
            EvalCommand.class,
            PredictCommand.class,
            CompileCommand.class,
            EmbedCommand.class,
            QuantizeCommand.class,
            HelpCommand.class
        },
        footer = {
            "",
            "Exit codes: 0 success, 1 error (one line 'forge: error: ...' on stderr), 2 usage error, 3 internal error."
        })
public final class Forge implements Runnable {
    /** Exit code of a user error. */
    public static final int EXIT_ERROR = 1;
    /** Exit code of a usage error found while parsing the options. */
    public static final int EXIT_USAGE = 2;
    /** Exit code of an unexpected failure. */
    public static final int EXIT_INTERNAL = 3;

    @Spec
    private CommandSpec spec;

    @Option(names = "--debug", scope = ScopeType.INHERIT, description = "Print the stack trace of errors.")
    private boolean debug;

    private Forge() {}

    /** Without a command: print the usage. */
    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * Runs the command line and exits the JVM with its exit code.
     *
     * @param args the arguments
     */
    public static void main(String[] args) {
        configureLogging(debugRequested(args));
        Charset cs = Charset.defaultCharset();
        PrintWriter out = new PrintWriter(new OutputStreamWriter(System.out, cs), true);
        PrintWriter err = new PrintWriter(new OutputStreamWriter(System.err, cs), true);
        System.exit(execute(out, err, args));
    }

    /**
     * Runs the command line without exiting, writing to the given streams.
     *
     * @param out standard output
     * @param err standard error
     * @param args the arguments
     * @return the exit code: 0, {@link #EXIT_ERROR}, {@link #EXIT_USAGE} or {@link #EXIT_INTERNAL}
     */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        boolean debug = debugRequested(args);
        CommandLine cl = new CommandLine(new Forge());
        cl.setOut(out);
        cl.setErr(err);
        cl.getCommandSpec()
                .usageMessage()
                .footer(
                        cl.getCommandSpec().usageMessage().footer()[0],
                        cl.getCommandSpec().usageMessage().footer()[1],
                        "Built-in networks: " + String.join(", ", ModelZoo.names()));
        cl.setParameterExceptionHandler(Forge::usageError);
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> report(e, cmd.getErr(), debug));
        int code;
        try {
            code = cl.execute(args);
        } catch (RuntimeException | Error e) {
            // errors escape picocli's handler (OutOfMemoryError, StackOverflowError, ...)
            code = report(e, err, debug);
        }
        out.flush();
        err.flush();
        return code;
    }

    /** Prints an exception as one line and returns its exit code: 1 for user errors, 3 otherwise. */
    static int report(Throwable e, PrintWriter err, boolean debug) {
        boolean user = isUserError(e);
        err.println((user ? "forge: error: " : "forge: internal error: ")
                + oneLine(user ? message(e) : e.toString())
                + (user || debug ? "" : " (run with --debug for the stack trace)"));
        if (debug) {
            e.printStackTrace(err);
        }
        err.flush();
        return user ? EXIT_ERROR : EXIT_INTERNAL;
    }

    /** The errors a user can cause and fix: bad files, names, shapes, devices and option values. */
    static boolean isUserError(Throwable e) {
        return e instanceof ForgeRuntimeException
                || e instanceof OnnxFormatException
                || e instanceof ShapeException
                || e instanceof IllegalArgumentException
                || e instanceof UncheckedIOException
                || e instanceof IOException
                || e instanceof dev.forge.compiler.data.DatasetException
                || e instanceof dev.forge.compiler.train.TrainingDivergedException;
    }

    /** A readable message; file-system exceptions carry only the path, so say what happened to it. */
    static String message(Throwable e) {
        if (e instanceof UncheckedIOException && e.getCause() != null) {
            // new UncheckedIOException(cause) has cause.toString() as its message; a message of its own has
            // context, often ending with the cause's bare message (for file-system errors only a path)
            String outer = e.getMessage();
            String inner = e.getCause().getMessage();
            if (outer == null || outer.equals(e.getCause().toString())) {
                return message(e.getCause());
            }
            if (inner != null && outer.endsWith(inner)) {
                return outer.substring(0, outer.length() - inner.length()) + message(e.getCause());
            }
            return outer;
        }
        if (e instanceof FileSystemException f) {
            String file = f.getFile() == null ? "" : f.getFile() + ": ";
            String what;
            if (e instanceof NoSuchFileException) {
                what = "no such file or directory";
            } else if (e instanceof AccessDeniedException) {
                what = "permission denied";
            } else if (e instanceof FileAlreadyExistsException) {
                what = "already exists";
            } else if (e instanceof NotDirectoryException) {
                what = "not a directory";
            } else {
                what = f.getReason() != null ? f.getReason() : e.getClass().getSimpleName();
            }
            return file + what + (f.getOtherFile() != null ? " (" + f.getOtherFile() + ")" : "");
        }
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    /** A message on one line (messages of native code may span several). */
    static String oneLine(String s) {
        return s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
    }

    private static int usageError(ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        String m = oneLine(String.valueOf(ex.getMessage()));
        err.println("forge: error: " + (m.startsWith("Error: ") ? m.substring("Error: ".length()) : m));
        UnmatchedArgumentException.printSuggestions(ex, err);
        err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        return EXIT_USAGE;
    }

    private static boolean debugRequested(String[] args) {
        for (String a : args) {
            if (a.equals("--")) {
                return false;
            }
            if (a.equals("--debug")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Sends {@code java.util.logging} (which backs the runtime's {@code System.Logger}) to stderr as one
     * line per record, {@code forge: warning: ...}: warnings and worse, or everything from FINE up with
     * {@code --debug}.
     */
    private static void configureLogging(boolean debug) {
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        Level level = debug ? Level.FINE : Level.WARNING;
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (!isLoggable(r)) {
                    return;
                }
                System.err.print(getFormatter().format(r));
                System.err.flush();
            }

            @Override
            public void flush() {
                System.err.flush();
            }

            @Override
            public void close() {
                flush();
            }
        };
        h.setFormatter(new Formatter() {
            @Override
            public String format(LogRecord r) {
                String lvl = r.getLevel() == Level.SEVERE
                        ? "error"
                        : r.getLevel().getName().toLowerCase(Locale.ROOT);
                StringBuilder sb = new StringBuilder("forge: ")
                        .append(lvl)
                        .append(": ")
                        .append(oneLine(formatMessage(r)))
                        .append('\n');
                if (debug && r.getThrown() != null) {
                    java.io.StringWriter sw = new java.io.StringWriter();
                    r.getThrown().printStackTrace(new PrintWriter(sw));
                    sb.append(sw);
                }
                return sb.toString();
            }
        });
        h.setLevel(level);
        root.setLevel(level);
        root.addHandler(h);
    }

    /** The built-in network names, for help texts. */
    static final class BuiltInNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return List.copyOf(ModelZoo.names()).iterator();
        }
    }

    /** {@code forge --version}: Forge, ONNX Runtime and Java versions. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {
                "forge " + forgeVersion(),
                "ONNX Runtime " + onnxRuntimeVersion(),
                "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ", "
                        + System.getProperty("os.name") + " " + System.getProperty("os.arch") + ")"
            };
        }

        static String forgeVersion() {
            String v = Forge.class.getPackage().getImplementationVersion();
            if (v != null) {
                return v;
            }
            try (InputStream in =
                    Forge.class.getResourceAsStream("/META-INF/maven/dev.forge/forge-models/pom.properties")) {
                if (in != null) {
                    Properties p = new Properties();
                    p.load(in);
                    if (p.getProperty("version") != null) {
                        return p.getProperty("version");
                    }
                }
            } catch (IOException e) {
                // fall through
            }
            return "(development build, not packaged)";
        }

        /** From the ONNX Runtime jar's manifest, without loading its native library. */
        static String onnxRuntimeVersion() {
            try {
                Class<?> c = Class.forName("ai.onnxruntime.OrtEnvironment", false, Forge.class.getClassLoader());
                String v = c.getPackage().getImplementationVersion();
                return v != null ? v : "(version unknown)";
            } catch (ClassNotFoundException | LinkageError e) {
                return "(not on the class path)";
            }
        }
    }
}
