package dev.forge.testdata;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.reference.DoubleTensor;
import dev.forge.compiler.reference.ReferenceEvaluator;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Both stages against each other: every built-in model, with fixed (seeded) weights and a random batch,
 * gives the same outputs in the pure-Java double-precision reference evaluator and in ONNX Runtime
 * (float32) through the runtime, within 1e-5 relative to the largest output.
 */
class ReferenceVsRuntimeTest {

    static Iterable<String> models() {
        return ModelZoo.names();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void runtime_matches_the_reference_evaluator(String name) {
        Graph g = ModelZoo.build(name, 42);
        long[] shape = g.inputs().get(0).type().shape().toArrayWithWildcards();
        shape[0] = 3;
        DoubleTensor x = DoubleTensor.random(new SplittableRandom(name.hashCode()), shape);
        Map<String, DoubleTensor> expected = ReferenceEvaluator.run(g, Map.of("input", x));
        Tensor input = x.toTensorFloat();
        try (Model m = Model.load(OnnxWriter.toBytes(g), name, ModelOptions.defaults())) {
            Tensor out = m.run(input);
            ReferenceEvaluator.assertClose(expected.get("logits"), out, 1e-5, name + ": runtime vs reference");
        }
    }
}
