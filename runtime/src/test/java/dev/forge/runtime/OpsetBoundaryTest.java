package dev.forge.runtime;

import static dev.forge.runtime.TestModels.FLOAT;
import static dev.forge.runtime.TestModels.node;
import static dev.forge.runtime.TestModels.valueInfo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import dev.forge.runtime.TestModels.Msg;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The validator's {@code ai.onnx} opset range is ONNX Runtime's, measured rather than assumed: tiny
 * models of operators whose kernels go back to opset 1 or 6 (Identity, Softplus, Not's float cousin
 * Softsign, GlobalAveragePool, Elu, Selu) are built at every opset from 1 to a few past {@link
 * ModelValidator#MAX_OPSET}, and {@link Model#load} must accept exactly the ones a plain {@link
 * OrtSession} accepts, and then give the same outputs.
 */
class OpsetBoundaryTest {
    private static final List<String> OPS =
            List.of("Identity", "Softplus", "Softsign", "GlobalAveragePool", "Elu", "Selu");

    /** y = op(x), x and y float[1, 2, 2, 2], at the given IR version and ai.onnx opset. */
    static byte[] model(String op, long ir, long opset) {
        Msg graph = new Msg()
                .msg(1, node(op, "n", List.of("x"), List.of("y")))
                .str(2, "g")
                .msg(11, valueInfo("x", FLOAT, 1L, 2L, 2L, 2L))
                .msg(
                        12,
                        valueInfo(
                                "y",
                                FLOAT,
                                1L,
                                2L,
                                op.equals("GlobalAveragePool") ? 1L : 2L,
                                op.equals("GlobalAveragePool") ? 1L : 2L));
        return new Msg()
                .i64(1, ir)
                .str(2, "opset-test")
                .msg(7, graph)
                .msg(8, new Msg().str(1, "").i64(2, opset))
                .toBytes();
    }

    private static OrtSession.SessionOptions quiet() throws OrtException {
        OrtSession.SessionOptions so = new OrtSession.SessionOptions();
        so.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
        return so;
    }

    private static final float[] X = {-2f, -0.5f, 0f, 0.25f, 1f, 3f, -1f, 2f};

    @Test
    void forge_accepts_exactly_the_opsets_onnx_runtime_accepts_and_computes_the_same() throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        List<String> disagreements = new ArrayList<>();
        int ortAccepted = 0;
        int ortAcceptedBelow7 = 0;
        for (long ir : new long[] {3, 8}) {
            for (long opset = 1; opset <= ModelValidator.MAX_OPSET + 3; opset++) {
                for (String op : OPS) {
                    byte[] bytes = model(op, ir, opset);
                    float[] ortOut = null;
                    String ortError = null;
                    try (OrtSession.SessionOptions so = quiet();
                            OrtSession s = env.createSession(bytes, so);
                            OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(X), new long[] {1, 2, 2, 2});
                            OrtSession.Result r = s.run(Map.of("x", x))) {
                        ortOut =
                                ((OnnxTensor) r.get(0)).getFloatBuffer().array().clone();
                    } catch (OrtException e) {
                        ortError = e.getMessage();
                    }
                    float[] forgeOut = null;
                    String forgeError = null;
                    try (Model m = Model.load(bytes, op + "@" + opset, ModelOptions.defaults())) {
                        forgeOut = m.run(Tensor.of(X, 1, 2, 2, 2)).toFloatArray();
                    } catch (ForgeRuntimeException e) {
                        forgeError = e.getMessage();
                    }
                    String what = op + " at ir_version " + ir + ", opset " + opset;
                    if ((ortOut == null) != (forgeOut == null)) {
                        disagreements.add(
                                what + ": ONNX Runtime " + (ortOut != null ? "runs it" : "refuses: " + ortError)
                                        + "; Forge " + (forgeOut != null ? "runs it" : "refuses: " + forgeError));
                    } else if (ortOut != null) {
                        assertArrayEquals(ortOut, forgeOut, what);
                        ortAccepted++;
                        if (opset < 7) {
                            ortAcceptedBelow7++;
                        }
                    }
                }
            }
        }
        assertEquals(List.of(), disagreements);
        // the comparison means something only if ONNX Runtime runs old opsets at all
        assertTrue(ortAcceptedBelow7 > 0, "ONNX Runtime ran no model below opset 7");
        assertTrue(ortAccepted > 0);
    }
}
