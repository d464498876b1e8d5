package dev.forge.compiler.train;

import static dev.forge.compiler.autodiff.Emitter.attrInt;

import dev.forge.compiler.autodiff.Emitter;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.List;
import java.util.Map;

/**
 * A training loss, emitted as ONNX operators that reduce the prediction and target to a scalar mean,
 * with PyTorch's definitions and default (mean) reduction.
 */
public enum Loss {
    /** Cross-entropy on logits [N, K] with class-index targets [N] (PyTorch {@code cross_entropy}). */
    CROSS_ENTROPY("cross-entropy"),
    /** Mean absolute error (PyTorch {@code l1_loss}). */
    L1("l1"),
    /** Mean squared error (PyTorch {@code mse_loss}). */
    MSE("mse"),
    /** Binary cross-entropy on logits with float targets in [0, 1] (PyTorch {@code binary_cross_entropy_with_logits}). */
    BCE_WITH_LOGITS("bce-with-logits");

    private final String cliName;

    Loss(String cliName) {
        this.cliName = cliName;
    }

    /** The command-line name, e.g. {@code cross-entropy}. */
    public String cliName() {
        return cliName;
    }

    /** The type of the target input for a prediction of the given type. */
    public ValueType targetType(ValueType prediction) {
        if (this == CROSS_ENTROPY) {
            Shape p = prediction.shape();
            if (p == null || p.rank() != 2) {
                throw new IllegalArgumentException("cross-entropy needs predictions [N, classes], got " + prediction);
            }
            return new ValueType(DType.INT64, Shape.of(List.of(p.dim(0))));
        }
        return prediction;
    }

    /**
     * Emits the scalar loss of {@code prediction} against {@code target}.
     *
     * @return the name of the rank-0 loss value
     */
    public String emit(Emitter e, String prediction, String target) {
        switch (this) {
            case CROSS_ENTROPY -> {
                // loss = mean_n( -sum_k onehot(target)[n,k] * logsoftmax(x)[n,k] )
                long classes = e.type(prediction).shape().dim(1).value();
                String logp = e.op("LogSoftmax", List.of(prediction), Map.of("axis", attrInt(1)));
                String values = e.tensor("loss/onehot_values", Tensor.of(new float[] {0f, 1f}, 2));
                String depth = e.tensor("loss/classes", Tensor.of(new long[] {classes}));
                String onehot = e.op("OneHot", List.of(target, depth, values), Map.of("axis", attrInt(-1)));
                String product = e.op("Mul", logp, onehot);
                // axes are an input from opset 13; the evaluation graph of an older model keeps its opset
                String picked = e.graph().opset() >= 13
                        ? e.op("ReduceSum", List.of(product, e.ints(1)), Map.of("keepdims", attrInt(0)))
                        : e.op(
                                "ReduceSum",
                                List.of(product),
                                Map.of("axes", new Attribute.Ints(new long[] {1}), "keepdims", attrInt(0)));
                return mean(e, e.op("Neg", picked));
            }
            case L1 -> {
                return mean(e, e.op("Abs", e.op("Sub", prediction, target)));
            }
            case MSE -> {
                String d = e.op("Sub", prediction, target);
                return mean(e, e.op("Mul", d, d));
            }
            case BCE_WITH_LOGITS -> {
                // log(1 + exp(x)) - x * y, computed with Softplus
                String sp = e.op("Softplus", prediction);
                return mean(e, e.op("Sub", sp, e.op("Mul", prediction, target)));
            }
            default -> throw new IllegalStateException();
        }
    }

    private static String mean(Emitter e, String v) {
        return e.op("ReduceMean", List.of(v), Map.of("keepdims", attrInt(0)));
    }
}
