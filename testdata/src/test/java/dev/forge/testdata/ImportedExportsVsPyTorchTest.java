package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.passes.FoldBatchNorm;
import dev.forge.compiler.passes.FoldConstants;
import dev.forge.compiler.passes.Pass;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.passes.Pipeline;
import dev.forge.compiler.passes.Pipelines;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Trainable;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * PyTorch exports as users make them (testdata/golden-import, made by scripts/make_import_golden.py): with
 * equal parameters deduplicated into Identity nodes, BatchNorm straight from initialization, and
 * TrainingMode.TRAINING exports. Each is imported, trained one SGD step and three Adam steps, and every
 * parameter and running statistic is compared with PyTorch's after the same steps.
 */
class ImportedExportsVsPyTorchTest {
    static final Path DIR = Path.of("golden-import");

    static Graph imported(String model) {
        return Trainable.prepare(OnnxReader.read(DIR.resolve(model).resolve("model.onnx")));
    }

    static Set<String> pytorchParameters(String model) {
        try {
            return new TreeSet<>(Files.readAllLines(DIR.resolve(model).resolve("params.txt")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every {@code .npy} of a directory by file name without the extension (PyTorch state_dict keys). */
    static Map<String, Tensor> npys(Path dir) {
        Map<String, Tensor> out = new java.util.TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            files.forEach(f -> out.put(f.getFileName().toString().replaceFirst("\\.npy$", ""), Npy.read(f)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /*
     * Tolerance 1e-4 relative to each tensor's scale, for SGD and Adam alike: both sides compute the same
     * float32 arithmetic in a different summation order, and the worst difference measured over every
     * parameter and running statistic of these eight cases is about 2e-6 (bn-training's bn1.bias after SGD,
     * squeeze-like's classifier.bias after three Adam steps); the decoder-norms cases (InstanceNorm, GroupNorm
     * as exported, ConvTranspose, bilinear Resize, LayerNorm from primitives and as LayerNormalization) 9e-7;
     * upsample-opset9 (its opset-9 Upsample trained as Resize) 2.4e-7.
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "zero-bias-cnn, sgd",
        "zero-bias-cnn, adam",
        "bn-init, sgd",
        "bn-init, adam",
        "bn-training, sgd",
        "bn-training, adam",
        "squeeze-like, sgd",
        "squeeze-like, adam",
        "decoder-norms, sgd",
        "decoder-norms, adam",
        "decoder-norms-opset17, sgd",
        "decoder-norms-opset17, adam",
        "upsample-opset9, sgd",
        "upsample-opset9, adam"
    })
    void every_parameter_after_training_matches_pytorch(String model, String optimizer) {
        Graph g = imported(model);
        Set<String> params = pytorchParameters(model);
        assertEquals(params, new TreeSet<>(g.parameters()), "one trainable parameter per PyTorch parameter");
        Path d = DIR.resolve(model);
        Tensor x = Npy.read(d.resolve("input.npy"));
        Tensor y = Npy.read(d.resolve("labels.npy"));
        boolean sgd = optimizer.equals("sgd");
        Optimizer opt = sgd ? Optimizer.sgd(0.1) : Optimizer.adam(0.01);
        int steps = sgd ? 1 : 3;
        Map<String, Tensor> expected = npys(d.resolve(optimizer));
        Map<String, Tensor> state;
        try (Trainer t = new Trainer(TrainingGraph.build(g, Loss.CROSS_ENTROPY, opt), 0, 0)) {
            for (int s = 0; s < steps; s++) {
                t.step(x, y);
            }
            state = t.state();
        }
        assertTrue(expected.keySet().containsAll(params), "oracle holds every parameter");
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            assertTrue(state.containsKey(e.getKey()), e.getKey() + " is not in the trainer's state " + state.keySet());
            Golden.assertClose(e.getValue(), state.get(e.getKey()), 1e-4, model + " " + optimizer + " " + e.getKey());
        }

        // exported untied: every parameter is an initializer of its own holding its trained value (the
        // export pipeline without the BatchNorm and constant folds, so BN parameters, and GroupNorm's read
        // through an Unsqueeze, stay visible)
        Graph exported = exportUnfolded(g, state);
        for (Node n : exported.nodes()) {
            assertFalse(
                    n.opType().equals("Identity") && exported.initializers().containsKey(n.input(0)),
                    "an Identity of an initializer is left: " + n);
        }
        Set<String> written = new TreeSet<>(exported.initializers().keySet());
        written.retainAll(params);
        assertEquals(params, written, "every parameter is written as its own initializer");
        for (String p : params) {
            assertEquals(state.get(p), exported.initializers().get(p), p + " exported with its trained value");
        }
    }

    static Graph exportUnfolded(Graph g, Map<String, Tensor> state) {
        List<Pass> passes = Pipelines.export(state, Map.of()).passes().stream()
                .filter(p -> !(p instanceof FoldBatchNorm) && !(p instanceof FoldConstants))
                .toList();
        return new Pipeline("export-unfolded", passes).run(g, new PassContext());
    }

    @Test
    void upsample_exported_at_opset_9_imports_as_resize_with_the_same_outputs() {
        Path file = DIR.resolve("upsample-opset9/model.onnx");
        Graph raw = OnnxReader.read(file);
        assertEquals(9, raw.opset());
        assertTrue(raw.nodes().stream().anyMatch(n -> n.opType().equals("Upsample")));
        Graph g = Trainable.prepare(OnnxReader.read(file));
        assertTrue(g.nodes().stream().noneMatch(n -> n.opType().equals("Upsample")), "Upsample rewritten");
        Tensor x = Npy.read(DIR.resolve("upsample-opset9/input.npy"));
        try (Model before = Model.load(file);
                Model after = Model.load(OnnxWriter.toBytes(g), "prepared", ModelOptions.defaults())) {
            assertArrayEquals(
                    before.run(Map.of("input", x)).get("logits").toFloatArray(),
                    after.run(Map.of("input", x)).get("logits").toFloatArray());
        }
    }

    @Test
    void zero_biases_deduplicated_by_the_exporter_are_trained_apart() {
        Graph raw = OnnxReader.read(DIR.resolve("squeeze-like/model.onnx"));
        long identities =
                raw.nodes().stream().filter(n -> n.opType().equals("Identity")).count();
        assertTrue(identities >= 9, "the export ties biases through Identity nodes: " + identities);
        Graph g = Trainable.prepare(raw);
        assertEquals(22, g.parameters().size(), "SqueezeNet-like net: 22 parameters, " + g.parameters());
        assertTrue(g.nodes().stream().noneMatch(n -> n.opType().equals("Identity")), "every Identity untied");
    }

    @Test
    void training_mode_batchnorm_whose_statistics_are_read_is_refused_with_a_clear_error() {
        Graph g = OnnxReader.read(DIR.resolve("bn-training/model.onnx"));
        Node bn = g.nodes().stream()
                .filter(n -> n.opType().equals("BatchNormalization"))
                .findFirst()
                .orElseThrow();
        assertEquals(3, bn.outputs().size(), "a TRAINING export writes BN's running statistics as outputs");
        g.addOutput(new ValueInfo(bn.output(1), g.type(bn.output(1))));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainable.prepare(g));
        assertTrue(
                e.getMessage().startsWith("BatchNormalization(")
                        && e.getMessage().contains(bn.output(1)),
                e.getMessage());
    }

    @Test
    void dropout_exported_in_training_mode_imports_trains_and_exports_without_dropout() {
        Graph g = imported("dropout-training");
        assertEquals(pytorchParameters("dropout-training"), new TreeSet<>(g.parameters()));
        Path d = DIR.resolve("dropout-training");
        Tensor x = Npy.read(d.resolve("input.npy"));
        Tensor y = Npy.read(d.resolve("labels.npy"));
        TrainingGraph tg = TrainingGraph.build(g, Loss.CROSS_ENTROPY, Optimizer.sgd(0.1));
        assertEquals(1, tg.dropoutMasks().size(), "the training graph draws a mask for the Dropout");
        try (Trainer t = new Trainer(tg, 0, 7)) {
            double first = t.evaluate(x, y).loss();
            // the eval graph runs Dropout in inference form: two evaluations agree exactly
            assertEquals(first, t.evaluate(x, y).loss());
            for (int s = 0; s < 20; s++) {
                t.step(x, y);
            }
            double last = t.evaluate(x, y).loss();
            assertTrue(last < first, "loss " + first + " -> " + last);
            Graph exported = Pipelines.export(t.state(), Map.of()).run(g, new PassContext());
            assertTrue(
                    exported.nodes().stream()
                            .noneMatch(n ->
                                    n.opType().equals("Dropout") || n.opType().equals("BatchNormalization")),
                    "Dropout removed and BatchNorm folded: " + exported.nodes());
            OnnxChecker.assertValidGraphs(List.of(exported));
        }
    }
}
