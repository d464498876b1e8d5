package dev.forge.compiler.ops;

import static dev.forge.compiler.ops.AttributeSpec.Kind.INTS;
import static dev.forge.compiler.ops.OpDef.op;

import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Quantization operators (docs/QUANTIZATION.md): the QDQ pair {@code QuantizeLinear} /
 * {@code DequantizeLinear} that Forge's static INT8 pass emits, {@code DynamicQuantizeLinear} and
 * {@code MatMulInteger} that its dynamic pass emits, and the integer operators other tools write
 * ({@code QLinearConv}, {@code QLinearMatMul}, {@code ConvInteger}), so quantized models import, infer
 * shapes and can be inspected. None is differentiable: a quantized graph is an inference graph.
 */
final class QuantOps {
    private static final Set<DType> STORED = Set.of(DType.INT8, DType.UINT8, DType.INT32);

    private QuantOps() {}

    static void register(Ops.Registry r) {
        // y = saturate(round(x / y_scale) + y_zero_point); axis (opset 13) names the per-axis parameters'
        // axis, saturate (19) applies to float8 only, block_size and output_dtype (21) to blocked forms
        r.add(op("QuantizeLinear")
                .attrInt("axis", 1)
                .attrInt("saturate", 1)
                .attrInt("block_size", 0)
                .attrInt("output_dtype", 0)
                .attrInt("precision", 0)
                .shape(QuantOps::quantizeLinear)
                .notDifferentiable());
        // y = (x - x_zero_point) * x_scale
        r.add(op("DequantizeLinear")
                .attrInt("axis", 1)
                .attrInt("block_size", 0)
                .attrInt("output_dtype", 0)
                .shape(QuantOps::dequantizeLinear)
                .notDifferentiable());
        // uint8 y, scalar y_scale, scalar uint8 y_zero_point over the range of x widened to include 0
        r.add(op("DynamicQuantizeLinear")
                .shape(ctx -> {
                    requireFloat(ctx, 0, "x");
                    return List.of(
                            new ValueType(DType.UINT8, ctx.shape(0)),
                            new ValueType(DType.FLOAT32, Shape.fixed()),
                            new ValueType(DType.UINT8, Shape.fixed()));
                })
                .notDifferentiable());
        // int32 (A - a_zero_point) x (B - b_zero_point), numpy matmul shapes
        r.add(op("MatMulInteger")
                .shape(ctx -> {
                    requireStored(ctx, 0, "A");
                    requireStored(ctx, 1, "B");
                    return InferenceContext.one(DType.INT32, delegate(ctx, "MatMul", new int[] {0, 1}));
                })
                .notDifferentiable());
        // y quantized with (y_scale, y_zero_point) of the matmul of the dequantized operands
        r.add(op("QLinearMatMul")
                .shape(ctx -> {
                    requireStored(ctx, 0, "a");
                    requireStored(ctx, 3, "b");
                    return InferenceContext.one(ctx.dtype(7), delegate(ctx, "MatMul", new int[] {0, 3}));
                })
                .notDifferentiable());
        r.add(convAttributes(op("QLinearConv"))
                .shape(ctx -> {
                    requireStored(ctx, 0, "x");
                    requireStored(ctx, 3, "w");
                    return InferenceContext.one(ctx.dtype(7), delegate(ctx, "Conv", new int[] {0, 3}));
                })
                .notDifferentiable());
        r.add(convAttributes(op("ConvInteger"))
                .shape(ctx -> {
                    requireStored(ctx, 0, "x");
                    requireStored(ctx, 1, "w");
                    return InferenceContext.one(DType.INT32, delegate(ctx, "Conv", new int[] {0, 1}));
                })
                .notDifferentiable());
    }

    private static OpDef.Builder convAttributes(OpDef.Builder b) {
        return b.attrString("auto_pad", "NOTSET")
                .attr("dilations", INTS)
                .attrInt("group", 1)
                .attr("kernel_shape", INTS)
                .attr("pads", INTS)
                .attr("strides", INTS);
    }

    /** QuantizeLinear(x, y_scale, y_zero_point?): y is x's shape, of the zero point's type (uint8 without). */
    private static List<ValueType> quantizeLinear(InferenceContext ctx) {
        requireFloat(ctx, 0, "x");
        Shape x = ctx.shape(0);
        checkPerAxis(ctx, x, 1, 2);
        DType out = DType.UINT8;
        if (ctx.hasInput(2)) {
            out = ctx.dtype(2);
        } else if (ctx.node().attrInt("output_dtype", 0) != 0) {
            out = DType.fromOnnxElementType((int) ctx.node().attrInt("output_dtype", 0));
        }
        if (!STORED.contains(out)) {
            throw ctx.error(
                    "the quantized type is " + out.typeName() + ", Forge reads int8, uint8 and int32",
                    "give y_zero_point as an int8 or uint8 tensor");
        }
        return InferenceContext.one(out, x);
    }

    /** DequantizeLinear(x, x_scale, x_zero_point?): a float tensor of x's shape. */
    private static List<ValueType> dequantizeLinear(InferenceContext ctx) {
        requireStored(ctx, 0, "x");
        Shape x = ctx.shape(0);
        checkPerAxis(ctx, x, 1, 2);
        if (ctx.hasInput(2) && ctx.dtype(2) != ctx.dtype(0)) {
            throw ctx.error(
                    "x is " + ctx.dtype(0).typeName() + " but x_zero_point is "
                            + ctx.dtype(2).typeName(),
                    "give the zero point the type of the quantized tensor");
        }
        return InferenceContext.one(ctx.dtype(1), x);
    }

    /**
     * The scale (and zero point) are scalars or 1-element vectors (per tensor) or vectors as long as x's
     * {@code axis} (per axis, opset 13).
     */
    private static void checkPerAxis(InferenceContext ctx, Shape x, int scaleInput, int zeroPointInput) {
        Shape scale = ctx.shape(scaleInput);
        if (ctx.hasInput(zeroPointInput) && !ctx.shape(zeroPointInput).equals(scale)) {
            throw ctx.error(
                    "the scale is " + scale + " but the zero point is " + ctx.shape(zeroPointInput),
                    "give both the same shape");
        }
        if (scale.rank() == 0
                || (scale.rank() == 1 && scale.dim(0).isFixed() && scale.dim(0).value() == 1)) {
            return;
        }
        if (scale.rank() != 1 || ctx.node().attrInt("block_size", 0) != 0) {
            return; // blocked quantization (opset 21): not checked
        }
        long axis = ctx.node().attrInt("axis", 1);
        int a = (int) (axis < 0 ? axis + x.rank() : axis);
        if (a < 0 || a >= x.rank()) {
            throw ctx.error(
                    "axis " + axis + " is outside x " + x + " (rank " + x.rank() + ")",
                    "give an axis in [" + -x.rank() + ", " + (x.rank() - 1) + "]");
        }
        Dim n = x.dim(a);
        if (n.isFixed() && scale.dim(0).isFixed() && n.value() != scale.dim(0).value()) {
            throw ctx.error(
                    scale.dim(0) + " per-axis scales for axis " + a + " of x " + x + " (" + n + " entries)",
                    "give one scale per index of axis " + a + " or set axis to the channel axis");
        }
    }

    /** The shape the float operator {@code op} gives for the selected inputs (with the node's attributes). */
    private static Shape delegate(InferenceContext ctx, String op, int[] inputs) {
        Node node = ctx.node();
        List<String> names = new ArrayList<>();
        List<ValueType> types = new ArrayList<>();
        for (int i : inputs) {
            names.add(node.input(i));
            types.add(new ValueType(DType.FLOAT32, ctx.shape(i)));
        }
        Node view = new Node(op, node.name(), names, List.of(node.output(0)), node.attributes());
        InferenceContext inner = new InferenceContext(view, types, name -> null, ctx.opset(), ctx.strict());
        try {
            return Ops.definition(op).shapeRule().infer(inner).get(0).shape();
        } catch (ShapeException e) {
            throw new ShapeException(e.getMessage().replace(view.label(), node.label()));
        }
    }

    private static void requireFloat(InferenceContext ctx, int i, String what) {
        if (ctx.dtype(i) != DType.FLOAT32) {
            throw ctx.error(what + " must be float32, got " + ctx.dtype(i).typeName(), "quantize float tensors");
        }
    }

    private static void requireStored(InferenceContext ctx, int i, String what) {
        if (!STORED.contains(ctx.dtype(i))) {
            throw ctx.error(
                    what + " must be int8 or uint8 (or int32), got "
                            + ctx.dtype(i).typeName(),
                    "feed it through QuantizeLinear or DynamicQuantizeLinear first");
        }
    }
}
