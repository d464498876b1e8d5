package dev.forge.compiler.reference;

import dev.forge.runtime.DType;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Reference rules of the quantization operators, from the ONNX specification in double precision:
 * QuantizeLinear, DequantizeLinear (per tensor and per axis), DynamicQuantizeLinear and MatMulInteger.
 */
final class QuantRules {
    private QuantRules() {}

    static void register(Map<String, Rule> r) {
        // y = saturate(round_half_even(x / scale) + zero_point), of the zero point's type (uint8 without one)
        r.put("QuantizeLinear", c -> {
            DoubleTensor x = c.in(0);
            DType type = c.has(2) ? c.in(2).dtype() : DType.UINT8;
            double[] range = range(c, type);
            int axis = c.axis(c.attrInt("axis", 1), Math.max(1, x.rank()));
            DoubleTensor scale = alongAxis(c.in(1), x.rank(), axis);
            DoubleTensor zp = c.has(2) ? alongAxis(c.in(2), x.rank(), axis) : DoubleTensor.scalar(0);
            DoubleTensor ratio = Broadcasting.zip(x, scale, DType.FLOAT32, (v, s) -> Math.rint(v / s));
            return List.of(Broadcasting.zip(ratio, zp, type, (q, z) -> Math.max(range[0], Math.min(range[1], q + z))));
        });
        // y = (x - zero_point) * scale
        r.put("DequantizeLinear", c -> {
            DoubleTensor x = c.in(0);
            int axis = c.axis(c.attrInt("axis", 1), Math.max(1, x.rank()));
            DoubleTensor scale = alongAxis(c.in(1), x.rank(), axis);
            DoubleTensor zp = c.has(2) ? alongAxis(c.in(2), x.rank(), axis) : DoubleTensor.scalar(0);
            DoubleTensor centered = Broadcasting.zip(x, zp, DType.FLOAT32, (v, z) -> v - z);
            return List.of(Broadcasting.zip(centered, scale, DType.FLOAT32, (v, s) -> v * s));
        });
        // the range of x widened to include 0 over 0..255: scale = (max - min) / 255,
        // zero point = saturate(round(-min / scale)), y = saturate(round(x / scale) + zero point)
        r.put("DynamicQuantizeLinear", c -> {
            DoubleTensor x = c.in(0);
            double min = 0;
            double max = 0;
            for (double v : x.raw()) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            double scale = (max - min) / 255;
            double zp = scale == 0 ? 0 : Math.max(0, Math.min(255, Math.rint(-min / scale)));
            double s = scale == 0 ? 1 : scale;
            return List.of(
                    x.map(v -> Math.max(0, Math.min(255, Math.rint(v / s) + zp)))
                            .withDtype(DType.UINT8),
                    DoubleTensor.scalar(scale),
                    DoubleTensor.of(DType.UINT8, new double[] {zp}));
        });
        // (A - a_zero_point) x (B - b_zero_point) in int32; a_zero_point is per tensor or per row of A,
        // b_zero_point per tensor or per column of B
        r.put("MatMulInteger", c -> {
            DoubleTensor a = c.in(0);
            DoubleTensor b = c.in(1);
            if (c.has(2)) {
                DoubleTensor az = c.in(2);
                DoubleTensor za = az.raw().length == 1 ? az.reshape() : az.reshape(az.raw().length, 1);
                a = Broadcasting.zip(a, za, a.dtype(), (v, z) -> v - z);
            }
            if (c.has(3)) {
                DoubleTensor bz = c.in(3);
                b = Broadcasting.zip(b, bz.raw().length == 1 ? bz.reshape() : bz, b.dtype(), (v, z) -> v - z);
            }
            DoubleTensor y = ReferenceEvaluator.rule("MatMul")
                    .apply(new Call(c.node, List.of(a, b), c.opset))
                    .get(0);
            return List.of(y.withDtype(DType.INT32));
        });
    }

    private static double[] range(Call c, DType type) {
        switch (type) {
            case UINT8:
                return new double[] {0, 255};
            case INT8:
                return new double[] {-128, 127};
            case INT32:
                return new double[] {Integer.MIN_VALUE, Integer.MAX_VALUE};
            default:
                throw c.error("unsupported quantized type " + type.typeName());
        }
    }

    /** Per-tensor parameters as a scalar; per-axis ones shaped to broadcast along {@code axis} of a rank-r tensor. */
    private static DoubleTensor alongAxis(DoubleTensor p, int rank, int axis) {
        if (p.raw().length == 1) {
            return p.reshape();
        }
        long[] shape = new long[rank];
        Arrays.fill(shape, 1);
        shape[axis] = p.raw().length;
        return p.reshape(shape);
    }
}
