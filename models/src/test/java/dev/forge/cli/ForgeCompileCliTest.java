package dev.forge.cli;

import static dev.forge.cli.ForgeCliTest.forge;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.forge.compiler.passes.Pipelines;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code forge compile}: counts per pass, ONNX dumps after the selected passes, and usage errors. */
class ForgeCompileCliTest {
    static final Path TORCH = Path.of("../testdata/golden/mnist-cnn/opset17/model_bn.onnx");

    @TempDir
    Path dir;

    static final List<String> TRAIN =
            Pipelines.training(Loss.CROSS_ENTROPY, Optimizer.adam(0.01)).passNames();
    static final List<String> EXPORT = Pipelines.export(Map.of(), Map.of()).passNames();

    /** The dump files of a directory, sorted by name. */
    static List<Path> dumps(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.sorted().toList();
        }
    }

    /** Every file loads in ONNX Runtime and declares at least one output. */
    static void assertLoadable(List<Path> files) {
        for (Path f : files) {
            try (Model m =
                    Model.load(f, ModelOptions.builder().intraOpThreads(1).build())) {
                assertFalse(m.outputs().isEmpty(), f.toString());
            }
        }
    }

    /** The table row of pass {@code name}: its node count. */
    static long nodes(String out, String name) {
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 2 && f[0].matches("\\d+") && f[1].equals(name)) {
                return Long.parseLong(f[2]);
            }
        }
        throw new AssertionError("no row for " + name + " in\n" + out);
    }

    @Test
    void compile_dump_after_all_writes_every_pass_of_both_pipelines_and_each_file_loads_in_onnx_runtime()
            throws IOException {
        for (String pipeline : List.of("train", "export")) {
            List<String> passes = pipeline.equals("train") ? TRAIN : EXPORT;
            Path out = dir.resolve(pipeline);
            String text = forge(
                            "compile",
                            "mnist-cnn",
                            "--pipeline",
                            pipeline,
                            "--dump-after",
                            "all",
                            "--out",
                            out.toString())
                    .ok()
                    .out();
            List<Path> files = dumps(out);
            assertEquals(passes.size() + 1, files.size(), files.toString());
            assertEquals("00-input.onnx", files.get(0).getFileName().toString());
            for (int i = 0; i < passes.size(); i++) {
                assertEquals(
                        String.format("%02d-%s.onnx", i + 1, passes.get(i)),
                        files.get(i + 1).getFileName().toString());
                assertTrue(text.contains(files.get(i + 1).getFileName().toString()), text);
            }
            assertTrue(
                    text.startsWith(pipeline + ": " + String.join(" -> ", passes) + " on mnist-cnn (built-in)\n"),
                    text);
            assertTrue(text.contains("wrote " + files.size() + " graphs to "), text);
            assertLoadable(files);
        }
    }

    @Test
    void compile_shows_the_counts_of_each_pass_on_every_built_in_net() {
        for (String net : ModelZoo.names()) {
            String train = forge("compile", net).ok().out();
            assertEquals(nodes(train, "StateAsInputs"), nodes(train, "(input)"), net);
            assertTrue(nodes(train, "Differentiate") > nodes(train, "AppendLoss"), train);
            assertTrue(nodes(train, "OptimizerUpdate") > nodes(train, "Differentiate"), train);
            String export = forge("compile", net, "--pipeline", "export", "--optimizer", "sgd")
                    .ok()
                    .out();
            assertTrue(nodes(export, "AttachMetadata") <= nodes(export, "(input)"), export);
            assertFalse(export.contains("wrote"), export);
        }
    }

    @Test
    void compile_works_on_an_imported_pytorch_export_and_folds_its_batch_norms() throws IOException {
        if (!Files.isRegularFile(TORCH)) {
            fail("missing golden file " + TORCH.toAbsolutePath() + " (the testdata module commits it)");
        }
        Path out = dir.resolve("torch");
        String train = forge(
                        "compile",
                        TORCH.toString(),
                        "--loss",
                        "cross-entropy",
                        "--optimizer",
                        "momentum",
                        "--dump-after",
                        "TrainingForms,StepOutputs",
                        "--out",
                        out.toString())
                .ok()
                .out();
        List<Path> files = dumps(out);
        assertEquals(
                List.of("03-TrainingForms.onnx", "08-StepOutputs.onnx"),
                files.stream().map(f -> f.getFileName().toString()).toList());
        assertTrue(nodes(train, "TrainingForms") > nodes(train, "PoolBeforeRelu"), train);
        assertLoadable(files);
        String export =
                forge("compile", TORCH.toString(), "--pipeline", "export").ok().out();
        assertTrue(nodes(export, "FoldBatchNorm") < nodes(export, "RemoveTrainingNodes"), export);
    }

    @Test
    void an_unknown_pass_name_is_a_usage_error_listing_the_valid_ones() {
        ForgeCliTest.Result r = forge("compile", "lenet5", "--dump-after", "FoldBN", "--out", dir.toString());
        assertEquals(Forge.EXIT_USAGE, r.code(), r.err());
        assertTrue(
                r.err()
                        .contains("unknown pass 'FoldBN' in the train pipeline; valid passes are "
                                + String.join(", ", TRAIN)),
                r.err());
        ForgeCliTest.Result export = forge(
                "compile", "lenet5", "--pipeline", "export", "--dump-after", "Differentiate", "--out", dir.toString());
        assertEquals(Forge.EXIT_USAGE, export.code(), export.err());
        assertTrue(export.err().contains("FoldBatchNorm"), export.err());
    }

    @Test
    void an_unknown_pipeline_or_dump_without_out_is_a_usage_error() {
        ForgeCliTest.Result r = forge("compile", "lenet5", "--pipeline", "quantize");
        assertEquals(Forge.EXIT_USAGE, r.code(), r.err());
        assertTrue(r.err().contains("unknown pipeline 'quantize'; choose one of [train, gradients, export]"), r.err());
        ForgeCliTest.Result noOut = forge("compile", "lenet5", "--dump-after", "all");
        assertEquals(Forge.EXIT_USAGE, noOut.code(), noOut.err());
        assertTrue(noOut.err().contains("--dump-after needs --out DIR"), noOut.err());
    }
}
