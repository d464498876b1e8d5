package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OptimizedModelCacheTest {
    @TempDir
    Path dir;

    private static Tensor convInput() {
        float[] x = new float[2 * 64];
        Random r = new Random(42);
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextFloat() * 2 - 1;
        }
        return Tensor.of(x, 2, 1, 8, 8);
    }

    private ModelOptions cached(Path cache) {
        return ModelOptions.builder().optimizedModelCache(cache).build();
    }

    @Test
    void theCacheIsWrittenThenReusedAndGivesTheSameResults() throws IOException {
        Path source = dir.resolve("conv.onnx");
        Files.write(source, TestModels.conv());
        Path cache = dir.resolve("cache/conv.opt.onnx");
        Path key = OptimizedModelCache.sidecarOf(cache);
        Tensor x = convInput();

        Tensor first;
        try (Model m = Model.load(source, cached(cache))) {
            assertFalse(m.loadedFromCache());
            first = m.run(x);
            assertArrayEquals(TestModels.convReference(x.toFloatArray(), 2), first.toFloatArray(), 1e-5f);
        }
        assertTrue(Files.size(cache) > 0, "cache written");
        String keyText = Files.readString(key);
        assertTrue(keyText.contains("source.sha256=" + OptimizedModelCache.sha256(TestModels.conv())), keyText);
        assertTrue(keyText.contains("optimization.level=ALL"), keyText);
        assertTrue(keyText.contains("onnxruntime.version=" + ModelLoading.onnxRuntimeVersion()), keyText);
        assertTrue(keyText.contains("cache.sha256=" + OptimizedModelCache.sha256(cache)), keyText);
        try (Stream<Path> files = Files.list(cache.getParent())) {
            assertEquals(
                    List.of("conv.opt.onnx", "conv.opt.onnx.key"),
                    files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList()),
                    "no temporary files left");
        }

        FileTime written = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(cache, written);
        try (Model m = Model.load(source, cached(cache))) {
            assertTrue(m.loadedFromCache(), "second load uses the cache");
            assertEquals(first, m.run(x));
            // what the model declares survives optimization and serialization
            assertEquals(
                    List.of("x: float32[N,1,8,8]"),
                    m.inputs().stream().map(Object::toString).toList());
            assertEquals(Map.of("class_labels", "a,b"), m.metadata());
            assertEquals("conv", m.graphName());
            assertEquals(source.toString(), m.sourceName());
        }
        assertEquals(written, Files.getLastModifiedTime(cache), "a cache hit does not rewrite the cache");
    }

    @Test
    void aChangedSourceModelRebuildsTheCache() throws IOException {
        Path source = dir.resolve("model.onnx");
        Path cache = dir.resolve("model.opt.onnx");
        Files.write(source, TestModels.classifier(false));
        try (Model m = Model.load(source, cached(cache))) {
            assertFalse(m.loadedFromCache());
            assertEquals("logits", m.outputs().get(0).name());
        }
        // Same path, different model: the stale cache must not be used.
        Files.write(source, TestModels.classifier(true));
        try (Model m = Model.load(source, cached(cache))) {
            assertFalse(m.loadedFromCache());
            assertEquals("probs", m.outputs().get(0).name());
        }
        try (Model m = Model.load(source, cached(cache))) {
            assertTrue(m.loadedFromCache());
            assertEquals("probs", m.outputs().get(0).name());
        }
        assertTrue(Files.readString(OptimizedModelCache.sidecarOf(cache))
                .contains(OptimizedModelCache.sha256(TestModels.classifier(true))));
    }

    @Test
    void differentOptionsRebuildTheCache() {
        Path cache = dir.resolve("relu.opt.onnx");
        byte[] model = TestModels.relu();
        try (Model m = Model.load(model, "relu", cached(cache))) {
            assertFalse(m.loadedFromCache());
        }
        ModelOptions basic = cached(cache).toBuilder()
                .optimizationLevel(OptimizationLevel.BASIC)
                .build();
        try (Model m = Model.load(model, "relu", basic)) {
            assertFalse(m.loadedFromCache(), "optimization level is part of the key");
        }
        try (Model m = Model.load(model, "relu", basic)) {
            assertTrue(m.loadedFromCache());
        }
    }

    @Test
    void aDamagedCacheIsRebuiltNotTrusted() throws IOException {
        Path cache = dir.resolve("add.opt.onnx");
        byte[] model = TestModels.add();
        try (Model m = Model.load(model, "add", cached(cache))) {
            assertFalse(m.loadedFromCache());
        }
        Files.write(cache, new byte[] {1, 2, 3, 4});
        try (Model m = Model.load(model, "add", cached(cache))) {
            assertFalse(m.loadedFromCache());
            Map<String, Tensor> out = m.run(
                    Map.of("a", Tensor.of(new float[6], 2, 3), "b", Tensor.of(new float[] {1, 1, 1, 1, 1, 1}, 2, 3)));
            assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1}, out.get("c").toFloatArray());
        }
        Files.delete(OptimizedModelCache.sidecarOf(cache));
        try (Model m = Model.load(model, "add", cached(cache))) {
            assertFalse(m.loadedFromCache(), "no key file, no reuse");
        }
        try (Model m = Model.load(model, "add", cached(cache))) {
            assertTrue(m.loadedFromCache());
        }
    }

    @Test
    void anUnwritableCacheLocationDoesNotStopTheLoad() throws IOException {
        Path blocker = dir.resolve("file");
        Files.writeString(blocker, "not a directory");
        Path cache = blocker.resolve("sub/relu.opt.onnx");
        try (Model m = Model.load(TestModels.relu(), "relu", cached(cache))) {
            assertFalse(m.loadedFromCache());
            assertEquals(4, m.run(Tensor.of(new float[4], 1, 4)).size());
        }
    }

    @Test
    void theHostIsPartOfTheKey() {
        Map<String, String> key = OptimizedModelCache.expectedKey("abc", OptimizationLevel.ALL, "1.29.0");
        assertEquals(OptimizedModelCache.hostFingerprint(), key.get("host"));
        assertTrue(key.get("host").contains(System.getProperty("os.arch").toLowerCase()), key.get("host"));
    }
}
