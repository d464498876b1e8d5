package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.Model;
import dev.forge.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The runtime reproduces PyTorch's outputs for PyTorch's own ONNX exports (opsets 13 and 17). */
class RuntimeVsPyTorchTest {

    static Stream<Arguments> exports() {
        List<Arguments> out = new ArrayList<>();
        List<String> models = new ArrayList<>(Golden.COMMITTED_MODELS);
        models.addAll(Golden.GENERATED_MODELS);
        for (String model : models) {
            for (int opset : Golden.OPSETS) {
                out.add(Arguments.of(model, opset, "model.onnx"));
                if (model.equals("mnist-cnn") || model.equals("ops-zoo")) {
                    out.add(Arguments.of(model, opset, "model_bn.onnx"));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} opset {1} {2}")
    @MethodSource("exports")
    void runtime_matches_pytorch(String model, int opset, String file) {
        Path path = Golden.onnx(model, opset, file);
        assertTrue(Files.exists(path), path + " is missing");
        try (Model m = Model.load(path)) {
            assertEquals("input", m.inputs().get(0).name());
            assertEquals(-1, m.inputs().get(0).shape()[0], "symbolic batch");
            Tensor out = m.run(Golden.input(model));
            Golden.assertClose(Golden.logits(model), out, 1e-5, model + " opset " + opset + " " + file);
        }
    }
}
