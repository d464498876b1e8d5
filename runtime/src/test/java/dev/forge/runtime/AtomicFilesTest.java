package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link AtomicFiles}: replacement, permissions, clean-up of dead processes' temporaries. */
class AtomicFilesTest {
    @TempDir
    Path dir;

    private List<String> names() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    @Test
    void write_replaces_the_file_and_leaves_no_temporary_file() throws IOException {
        Path file = dir.resolve("a.bin");
        Files.writeString(file, "old contents");
        AtomicFiles.write(file, new byte[] {1, 2, 3});
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(file));
        assertEquals(List.of("a.bin"), names());
        if (file.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        }
    }

    @Test
    void write_removes_temporaries_of_dead_processes_for_the_same_name_only() throws IOException {
        // a pid far above any real one: its process is not alive
        Path dead = dir.resolve(".a.bin.4194303999.123.tmp");
        Path otherTarget = dir.resolve(".b.bin.4194303999.123.tmp");
        Path alive = dir.resolve(".a.bin." + ProcessHandle.current().pid() + ".456.tmp");
        Path foreign = dir.resolve(".a.bin.notapid.tmp");
        for (Path p : List.of(dead, otherTarget, alive, foreign)) {
            Files.writeString(p, "partial");
        }
        AtomicFiles.write(dir.resolve("a.bin"), new byte[] {7});
        assertFalse(Files.exists(dead), "a dead process's temporary file is removed");
        assertTrue(Files.exists(otherTarget), "another target's temporary file stays");
        assertTrue(Files.exists(alive), "a live process's temporary file stays");
        assertTrue(Files.exists(foreign), "a file that is not ours stays");
    }

    @Test
    void write_into_a_missing_directory_fails_and_creates_nothing() {
        Path file = dir.resolve("no/such/a.bin");
        assertThrows(IOException.class, () -> AtomicFiles.write(file, new byte[] {1}));
        assertFalse(Files.exists(dir.resolve("no")));
    }

    @Test
    void temporary_for_is_next_to_the_target_and_named_for_it() throws IOException {
        Path tmp = AtomicFiles.temporaryFor(dir.resolve("cache.onnx"));
        assertEquals(dir.toAbsolutePath(), tmp.getParent());
        String name = tmp.getFileName().toString();
        assertTrue(
                name.startsWith(".cache.onnx." + ProcessHandle.current().pid() + ".") && name.endsWith(".tmp"), name);
        AtomicFiles.move(tmp, dir.resolve("cache.onnx"));
        assertEquals(List.of("cache.onnx"), names());
    }
}
