package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goldens generated into {@code target/} are reused only under the key of what made them ({@link GeneratedFiles}):
 * a directory made by another script, other arguments or another PyTorch, or by a checkout from before the keys,
 * is made again.
 */
class GeneratedFilesTest {
    @TempDir
    Path tmp;

    @Test
    void the_key_names_the_scripts_hash_its_arguments_and_the_package_versions() throws IOException {
        Path a = Files.createDirectories(tmp.resolve("a")).resolve("make.py");
        Path b = Files.createDirectories(tmp.resolve("b")).resolve("make.py");
        Files.writeString(a, "print(1)\n");
        Files.writeString(b, "print(2)\n");
        String key = GeneratedFiles.key(a, List.of("--models", "x"), List.of("numpy"));
        assertTrue(
                key.startsWith(
                        "make.py sha256=" + TorchvisionFamiliesVsPyTorchTest.sha256(a) + "; args=--models x; numpy="),
                key);
        assertEquals(key, GeneratedFiles.key(a, List.of("--models", "x"), List.of("numpy")));
        assertNotEquals(key, GeneratedFiles.key(b, List.of("--models", "x"), List.of("numpy")), "another script");
        assertNotEquals(key, GeneratedFiles.key(a, List.of("--models", "y"), List.of("numpy")), "other arguments");
        assertTrue(
                GeneratedFiles.key(a, List.of(), List.of("torch", "onnx", "numpy"))
                        .matches(".*torch=\\S+ onnx=\\S+ numpy=\\S+"),
                "the versions of torch, onnx and numpy");
    }

    @Test
    void a_directory_from_an_earlier_checkout_or_another_pytorch_is_generated_again() throws IOException {
        Path dir = tmp.resolve("golden-generated");
        List<String> models = List.of("lenet5");
        assertTrue(Golden.generated(dir, models), "first use generates");
        Path logits = dir.resolve("lenet5").resolve("logits.npy");
        Tensor made = Npy.read(logits);
        assertFalse(Golden.generated(dir, models), "the same key: reused");

        // stale goldens under the key another torch would have written: made again
        Tensor stale = Tensor.of(new float[made.toFloatArray().length], made.shape());
        Npy.write(logits, stale);
        Path key = dir.resolve(GeneratedFiles.KEY);
        Files.writeString(key, Files.readString(key).replaceFirst("torch=\\S+", "torch=1.12.1"));
        assertTrue(Golden.generated(dir, models), "another torch version: generated again");
        assertEquals(made, Npy.read(logits));

        // a directory from a checkout before the keys has files and no key: not current
        Npy.write(logits, stale);
        Files.delete(key);
        assertTrue(Files.exists(logits));
        assertFalse(GeneratedFiles.isCurrent(dir, GeneratedFiles.key(Golden.SCRIPT, List.of(), List.of())));
        assertTrue(Golden.generated(dir, models), "no key: generated again");
        assertEquals(made, Npy.read(logits));
    }
}
