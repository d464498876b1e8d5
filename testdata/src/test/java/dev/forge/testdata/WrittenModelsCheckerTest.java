package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.data.NpyDataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.quant.Quantizer;
import dev.forge.compiler.train.Export;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingResult;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The full {@code onnx.checker} on the kinds of files Forge writes that the other checker users
 * ({@link InterchangeTest}: seed-net exports, static INT8 of every layer, FP16, a fine-tuned import and its
 * checkpoint; {@link ImportRoundTripTest}; {@link TrainingRunTest}; {@link ImportedExportsVsPyTorchTest}) do not
 * reach: INT8 with the speed rules (weight-only int8 storage for layers kept float), dynamic INT8, FP16 with
 * float16 inputs and outputs, every committed PyTorch import trained and exported with its SGD-momentum checkpoint,
 * and a CNN with Dropout trained, exported and checkpointed with Adam.
 */
class WrittenModelsCheckerTest {
    @TempDir
    Path tmp;

    @Test
    void quantized_variants_trained_imports_their_checkpoints_and_a_dropout_net_pass_the_full_checker()
            throws IOException {
        List<Path> files = new ArrayList<>();
        for (String net : List.of("mnist-cnn", "mobilenet-mini")) {
            Graph exported = Export.inferenceModel(ModelZoo.build(net, 1), Map.of(), Map.of());
            long[] sample = InterchangeTest.sampleShape(exported);
            files.add(write(
                    net + ".int8-speed-rules",
                    Quantizer.int8()
                            .calibrate(InterchangeTest.randomData(sample, 32, 10, 5), 32)
                            .quantize(exported)
                            .model()));
            files.add(write(
                    net + ".dynamic-int8",
                    Quantizer.dynamicInt8().quantize(exported).model()));
            files.add(write(
                    net + ".fp16-io",
                    Quantizer.fp16().float16Io(true).quantize(exported).model()));
        }
        List<String> imports;
        try (Stream<Path> s = Files.list(ImportedExportsVsPyTorchTest.DIR)) {
            imports = s.filter(Files::isDirectory)
                    .map(p -> p.getFileName().toString())
                    .sorted()
                    .toList();
        }
        assertTrue(imports.size() >= 8, "golden-import models " + imports);
        for (String model : imports) {
            Path d = ImportedExportsVsPyTorchTest.DIR.resolve(model);
            Graph g = ImportedExportsVsPyTorchTest.imported(model);
            int classes = (int) g.outputs().get(0).type().shape().dim(1).value();
            NpyDataset data =
                    NpyDataset.of(Npy.read(d.resolve("input.npy")), Npy.read(d.resolve("labels.npy")), classes);
            Path checkpoint = tmp.resolve(model + ".ckpt.onnx");
            TrainingResult r = Training.of(g)
                    .optimizer(Optimizer.momentum(0.01, 0.9))
                    .batchSize(4)
                    .maxSteps(2)
                    .checkpointTo(checkpoint)
                    .fit(data, data);
            files.add(write(model + ".trained", r.exportedGraph()));
            files.add(checkpoint);
        }
        Path dropoutCheckpoint = tmp.resolve("dropout.ckpt.onnx");
        Tensor x = InterchangeTest.gaussian(new long[] {16, 1, 8, 8}, 3);
        long[] labels = new long[16];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = i % 3;
        }
        NpyDataset data = NpyDataset.of(x, Tensor.of(labels, 16), 3);
        TrainingResult dropout = Training.of(dropoutCnn())
                .optimizer(Optimizer.adam(0.01))
                .batchSize(8)
                .epochs(1)
                .checkpointTo(dropoutCheckpoint)
                .fit(data, data);
        Path dropoutExport = tmp.resolve("dropout.onnx");
        dropout.export(dropoutExport);
        files.add(dropoutExport);
        files.add(dropoutCheckpoint);
        assertEquals(6 + 2 * imports.size() + 2, files.size());
        OnnxChecker.assertValid(files);
    }

    static Graph dropoutCnn() {
        GraphBuilder b = new GraphBuilder("dropout_cnn").seed(4);
        Value x = b.input("input", Shape.of("N", 1, 8, 8));
        x = b.maxPool("pool", b.relu(b.conv2d("conv1", x, Conv2d.of(4, 3).padding(1))), Pool2d.of(2));
        return b.output(b.linear("fc", b.dropout(b.flatten(x), 0.25f), 3), "logits")
                .build();
    }

    private Path write(String name, Graph g) {
        Path p = tmp.resolve(name + ".onnx");
        try {
            Files.write(p, OnnxWriter.toBytes(g));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }
}
