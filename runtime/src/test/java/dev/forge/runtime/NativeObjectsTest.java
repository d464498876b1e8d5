package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every native ONNX Runtime object the runtime makes — sessions, session options, input tensors, run
 * results — is closed again, on success and on every failure path; {@link Model#openNativeObjects()}
 * returns to where it started.
 */
class NativeObjectsTest {
    @TempDir
    Path dir;

    @Test
    void loadsRunsAndFailuresCloseEveryNativeObject() throws Exception {
        long base = Model.openNativeObjects();
        Model m = Model.load(TestModels.conv(), "conv", ModelOptions.defaults());
        assertEquals(
                base + 1,
                Model.openNativeObjects(),
                "one session while the model is open: " + NativeObjects.describe());
        for (int i = 0; i < 100; i++) {
            m.run(Tensor.zeros(DType.FLOAT32, 1 + i % 5, 1, 8, 8));
        }
        // refused before native code
        assertThrows(InvalidInputException.class, () -> m.run(Tensor.zeros(DType.FLOAT32, 1, 1, 7, 8)));
        assertEquals(base + 1, Model.openNativeObjects(), NativeObjects.describe());
        m.close();
        m.close();
        assertEquals(base, Model.openNativeObjects(), NativeObjects.describe());

        // a run that fails inside ONNX Runtime (Reshape of 3 values to [2,2]) still closes its tensors
        try (Model r = Model.load(TestModels.reshapeTo2x2(), "reshape", ModelOptions.defaults())) {
            assertThrows(ForgeRuntimeException.class, () -> r.run(Tensor.zeros(DType.FLOAT32, 3)));
            assertEquals(base + 1, Model.openNativeObjects(), NativeObjects.describe());
        }
        assertEquals(base, Model.openNativeObjects(), NativeObjects.describe());

        // loads refused by the validator, by ONNX Runtime, and through the optimized-model cache
        assertThrows(ModelLoadException.class, () -> Model.load(new byte[] {1, 2, 3}, "junk", ModelOptions.defaults()));
        ModelLoadException ort = assertThrows(
                ModelLoadException.class,
                () -> Model.load(TestModels.uint32Identity(), "u32", ModelOptions.defaults()));
        assertEquals(base, Model.openNativeObjects(), ort.getMessage() + ": " + NativeObjects.describe());
        Path src = dir.resolve("conv.onnx");
        Files.write(src, TestModels.conv());
        ModelOptions cached = ModelOptions.builder()
                .optimizedModelCache(dir.resolve("cache/conv.opt.onnx"))
                .build();
        for (int i = 0; i < 3; i++) {
            try (Model c = Model.load(src, cached)) {
                c.topK(Tensor.zeros(DType.FLOAT32, 2, 1, 8, 8).reshape(2, 1, 8, 8), 1);
            } catch (InvalidInputException expected) {
                // conv's output is not [batch, classes]; topK refuses it after loading
            }
            try (Model c = Model.load(src, cached)) {
                c.run(Map.of("x", Tensor.zeros(DType.FLOAT32, 1, 1, 8, 8)));
            }
        }
        assertEquals(base, Model.openNativeObjects(), NativeObjects.describe());
    }
}
