package dev.forge.runtime;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The one way Forge replaces a file: every writer (ONNX models and exports, {@code .npy} arrays,
 * checkpoints, the history CSV, loss plots, the optimized-model cache) goes through {@link #write}.
 * The bytes go to {@code .<name>.<pid>.<random>.tmp} in the target's directory, are forced to disk, the
 * file is renamed over the target (atomic on POSIX file systems) and the directory is synced. A reader,
 * or a process killed at any moment, sees the old complete file or the new complete one, never a
 * partial one. Temporary files a dead process left for the same target are deleted by the next write.
 *
 * <p>Fault injection: with {@code -Dforge.test.atomicWritePauseMillis=N} every write (or, with {@code
 * -Dforge.test.atomicWritePauseSuffix=.ckpt}, only writes of names ending so) stops for N ms after the
 * temporary file is complete and synced and before the rename, and says so on stderr, so a crash test
 * can kill the process inside that window ({@code TrainCrashSafetyTest}). Both properties are unset in
 * normal use.
 */
public final class AtomicFiles {
    /** Milliseconds to pause before each rename (fault injection for crash tests); unset means none. */
    public static final String PAUSE_PROPERTY = "forge.test.atomicWritePauseMillis";
    /** Only targets whose name ends with this pause (fault injection); unset means every target. */
    public static final String PAUSE_SUFFIX_PROPERTY = "forge.test.atomicWritePauseSuffix";

    private AtomicFiles() {}

    /**
     * Replaces {@code path} with {@code bytes} atomically. Its directory must exist (a missing one is an
     * error, not created on a guess).
     *
     * @throws IOException if the file cannot be written (the target is then unchanged)
     */
    public static void write(Path path, byte[] bytes) throws IOException {
        Path abs = path.toAbsolutePath();
        Path tmp = temporaryFor(abs);
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                out.write(bytes);
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            pauseForCrashTests(abs, tmp);
            move(tmp, abs);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Creates an empty temporary file {@code .<name>.<pid>.<random>.tmp} next to {@code target} (readable
     * by all, like the finished file), after deleting the ones dead processes left for the same target.
     * For writers that cannot hand over bytes (ONNX Runtime writes the optimized model to a path); the
     * caller deletes it when done.
     */
    public static Path temporaryFor(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        String prefix = "." + abs.getFileName() + ".";
        removeStaleTemporaries(dir, prefix);
        Path tmp = Files.createTempFile(dir, prefix + ProcessHandle.current().pid() + ".", ".tmp");
        // createTempFile makes the file private (0600); a model or array is an ordinary file: rw-r--r--
        if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
        }
        return tmp;
    }

    /**
     * Renames a complete file over {@code to} (atomically where the file system allows) and syncs the
     * directory, so the rename survives a crash.
     */
    public static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
        syncDirectory(to.toAbsolutePath().getParent());
    }

    /** Deletes {@code <prefix><pid>.<random>.tmp} files whose writing process is gone. */
    private static void removeStaleTemporaries(Path dir, String prefix) {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, p -> {
            String n = p.getFileName().toString();
            return n.startsWith(prefix) && n.endsWith(".tmp");
        })) {
            for (Path p : files) {
                String rest = p.getFileName().toString().substring(prefix.length());
                int dot = rest.indexOf('.');
                long pid;
                try {
                    pid = Long.parseLong(dot < 0 ? "" : rest.substring(0, dot));
                } catch (NumberFormatException e) {
                    continue; // not one of ours
                }
                if (pid != ProcessHandle.current().pid()
                        && ProcessHandle.of(pid).isEmpty()) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException | RuntimeException e) {
            // cleaning up is a courtesy; the write itself does not depend on it
        }
    }

    /** Makes a rename durable: fsync of the directory, where the file system supports it. */
    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            // not supported on this platform (Windows): the rename is atomic but may not be durable yet
        }
    }

    private static void pauseForCrashTests(Path target, Path tmp) {
        long millis = Long.getLong(PAUSE_PROPERTY, 0);
        String suffix = System.getProperty(PAUSE_SUFFIX_PROPERTY, "");
        if (millis > 0 && target.toString().endsWith(suffix)) {
            System.err.println("forge: test: paused before renaming " + tmp + " to " + target);
            System.err.flush();
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
