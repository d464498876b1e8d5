package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shared checker helper accepts a valid model and names each file it rejects with the checker's reason. */
class OnnxCheckerTest {
    @TempDir
    Path tmp;

    @Test
    void a_valid_model_passes_and_a_dangling_node_input_is_rejected_with_the_checkers_message() throws Exception {
        Path valid = Golden.onnx("lenet5", 17, "model.onnx");
        OnnxChecker.assertValid(valid);
        // the first node's input "input" renamed to "inpux" (same length, so the protobuf stays well formed)
        byte[] bytes = Files.readAllBytes(valid);
        byte[] field = "\n\u0005input".getBytes(StandardCharsets.ISO_8859_1);
        int at = indexOf(bytes, field);
        assertTrue(at >= 0, "no node input named 'input' in " + valid);
        bytes[at + field.length - 1] = 'x';
        Path broken = Files.write(tmp.resolve("broken.onnx"), bytes);
        AssertionError e = assertThrows(AssertionError.class, () -> OnnxChecker.assertValid(List.of(valid, broken)));
        assertTrue(e.getMessage().contains("rejects 1 of 2 files"), e.getMessage());
        assertTrue(e.getMessage().contains(broken + ": ValidationError"), e.getMessage());
        assertTrue(e.getMessage().contains("input 'inpux'"), e.getMessage());
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
