package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The reader imports PyTorch's ONNX exports into the IR, infers every shape, and the writer writes them
 * back with unchanged outputs.
 */
class ImportRoundTripTest {

    static Stream<org.junit.jupiter.params.provider.Arguments> exports() {
        return RuntimeVsPyTorchTest.exports();
    }

    @ParameterizedTest(name = "{0} opset {1} {2}")
    @MethodSource("exports")
    void read_then_write_keeps_outputs(String model, int opset, String file) {
        Path path = Golden.onnx(model, opset, file);
        Graph g = OnnxReader.read(path);
        assertEquals(opset, g.opset());
        assertEquals("pytorch", g.producerName());
        // every value has an inferred type, and the output keeps the symbolic batch
        for (var n : g.nodes()) {
            for (String out : n.outputs()) {
                assertTrue(
                        g.type(out) != null && g.type(out).shape() != null, "no shape for " + out + " of " + n.label());
            }
        }
        Shape logits = g.type("logits").shape();
        assertEquals("N", logits.dim(0).symbol());
        assertTrue(logits.dim(1).isFixed());
        Tensor input = Golden.input(model);
        byte[] rewritten = OnnxWriter.toBytes(g);
        try (Model original = Model.load(path);
                Model copy = Model.load(rewritten, ModelOptions.defaults())) {
            Tensor a = original.run(input);
            Tensor b = copy.run(input);
            assertEquals(a, b, "outputs of the rewritten model differ from the original");
            Golden.assertClose(Golden.logits(model), b, 1e-5, "rewritten " + model);
        }
    }

    @Test
    void every_imported_then_written_export_passes_the_full_onnx_checker() {
        List<Graph> rewritten = new ArrayList<>();
        exports().forEach(a -> {
            Object[] args = a.get();
            Graph g = OnnxReader.read(Golden.onnx((String) args[0], (Integer) args[1], (String) args[2]));
            g.setName(args[0] + "-opset" + args[1] + "-" + args[2]);
            rewritten.add(g);
        });
        OnnxChecker.assertValidGraphs(rewritten);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bnModels")
    void batchnorm_exports_keep_pytorch_weights_by_name(String model) throws Exception {
        Graph g = OnnxReader.read(Golden.onnx(model, 17, "model_bn.onnx"));
        try (Stream<Path> files = Files.list(Golden.dir(model).resolve("weights"))) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String key = f.getFileName().toString().replaceFirst("\\.npy$", "");
                assertEquals(Npy.read(f), g.initializers().get(key), "initializer " + key);
            }
        }
        assertTrue(g.nodes().stream().anyMatch(n -> n.opType().equals("BatchNormalization")));
    }

    static Stream<String> bnModels() {
        return Stream.of("mnist-cnn", "ops-zoo");
    }
}
