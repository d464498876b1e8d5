package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The builder's definitions of the seed's networks are the same functions as PyTorch's: with PyTorch's
 * weights loaded, Forge's exported model gives PyTorch's outputs.
 */
class BuilderVsPyTorchTest {

    /** Maps a PyTorch state_dict key to the Forge parameter name, e.g. {@code conv1.weight -> conv1/W}. */
    static String forgeName(String key, Graph g) {
        return dev.forge.models.PyTorchNames.forgeName(key, g);
    }

    /** Builds a built-in network and loads the PyTorch weights of the golden directory into it. */
    static Graph withPyTorchWeights(String model) {
        Graph g = ModelZoo.build(model, 0);
        Set<String> loaded = new HashSet<>();
        try (Stream<Path> files = Files.list(Golden.dir(model).resolve("weights"))) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String key = f.getFileName().toString().replaceFirst("\\.npy$", "");
                String name = forgeName(key, g);
                g.replaceInitializer(name, Npy.read(f));
                loaded.add(name);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assertEquals(g.initializers().keySet(), loaded, "every Forge initializer has a PyTorch counterpart");
        return g;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"mnist-cnn", "lenet5", "simple-net", "cifar10-net"})
    void builder_model_with_pytorch_weights_gives_pytorch_outputs(String model) {
        Graph g = withPyTorchWeights(model);
        try (Model m = Model.load(OnnxWriter.toBytes(g), model, ModelOptions.defaults())) {
            Tensor out = m.run(Golden.input(model));
            Golden.assertClose(Golden.logits(model), out, 1e-5, "Forge " + model + " vs PyTorch");
        }
    }
}
