package dev.forge.runtime;

import dev.forge.runtime.ModelValidator.Attr;
import dev.forge.runtime.ModelValidator.GraphInfo;
import dev.forge.runtime.ModelValidator.NameTable;
import dev.forge.runtime.ModelValidator.NodeAttrs;
import dev.forge.runtime.ModelValidator.TensorInfo;
import dev.forge.runtime.ModelValidator.Walk;
import dev.forge.runtime.OnnxProto.AttributeProto.AttributeType;
import dev.forge.runtime.OnnxProto.DataType;
import dev.forge.runtime.WireReader.Problem;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The validator's allocation bounds: a lower-bound shape inference over one graph that refuses a node
 * whose output would exceed {@link ModelLimits#maxTensorBytes()}. ONNX Runtime allocates such a tensor
 * while constant-folding at load time or on the first run, whatever the inputs, and has no limit of its
 * own. Element types are {@link DType}s (null when unknown, or a type the runtime has no DType for,
 * which counts as its least, one byte per element).
 *
 * <p>Why a shape inference and not just a rule for the operators whose output size is written in the
 * model (ConstantOfShape, Expand, Tile, Range, Resize, OneHot, the random generators): the sizes that
 * hurt also come from attributes and constants applied to the shapes flowing through the graph, and
 * only the propagated input shape makes them large. The fuzzer's finding was a {@code Pad} whose pads
 * come from a {@code Constant} (11,403,264 on the last axis of an {@code [N, 8, 8, 8]} value: 2.9 GB);
 * {@code Conv} pads, {@code ConvTranspose} strides, {@code Resize} scales, the outer product of a
 * broadcasting {@code Add} or a {@code MatMul} of two small initializers ({@code [65536, 1]} and {@code
 * [1, 65536]}: 16 GB folded at load) do the same. HostileModelTest has a case for each of these; they
 * all pass only with the propagation, so it stays (see docs/SECURITY.md).
 */
final class SizeBounds {
    private static final int SMALL_CONSTANT = ModelValidator.SMALL_CONSTANT;

    private final Walk w;

    SizeBounds(Walk w) {
        this.w = w;
    }

    /**
     * Infers a lower bound of every tensor's shape, node by node, from the declared input shapes
     * (symbolic dimensions such as the batch count as 1), the initializers, small constants and the
     * attributes, and refuses a node whose output would exceed {@link ModelLimits#maxTensorBytes()}:
     * such a model makes ONNX Runtime allocate that much while constant-folding at load time or on its
     * first run, whatever its inputs. Every rule is monotone in its inputs' sizes, so a lower bound in
     * gives a lower bound out and a refusal is never a false alarm; an operator without a rule here
     * (or outside ai.onnx) ends the inference along its outputs.
     */
    void check(GraphInfo g, int[] order) throws Problem {
        Values v = new Values(w);
        for (int i = 0; i < g.inputs.size(); i++) {
            int in = g.inputs.get(i);
            double[] dims = g.inputDims.get(i);
            if (w.isEmpty(in) || dims == null) {
                continue;
            }
            boolean exact = true;
            double[] lower = dims.clone();
            for (int d = 0; d < lower.length; d++) {
                if (lower[d] < 0) {
                    lower[d] = 1;
                    exact = false;
                }
            }
            v.put(in, lower, DataType.dtype(g.inputTypes.get(i)), exact, null);
        }
        for (TensorInfo t : g.initializerInfo) {
            if (!w.isEmpty(t.name)) {
                v.put(t.name, t.dims, DataType.dtype(t.dataType), true, t.values);
            }
        }
        for (int k : order) {
            int dom = g.nodeDomain.get(k);
            if (dom >= 0 && !w.isEmpty(dom) && !w.nameEquals(dom, "ai.onnx")) {
                continue;
            }
            Node n = new Node(g, k, v);
            inferNode(n);
            if (n.outSequence != null && n.outShapes.length > 0 && n.output(0) >= 0 && !w.isEmpty(n.output(0))) {
                checkSequence(g, k, n);
                v.putSequence(n.output(0), n.outSequence, n.outTypes[0], n.exact);
                continue;
            }
            for (int j = 0; j < n.outShapes.length; j++) {
                double[] shape = n.outShapes[j];
                int out = n.output(j);
                if (shape == null || out < 0 || w.isEmpty(out)) {
                    continue;
                }
                DType type = n.outTypes[j];
                double elements = 1;
                for (double d : shape) {
                    elements *= d;
                }
                // a type the runtime has no DType for (uint32, complex, float8, ...) counts as its least, 1 byte
                int bits = type != null ? 8 * type.byteSize() : 8;
                double bytes = Math.ceil(elements * bits / 8);
                if (bytes > w.limits.maxTensorBytes()) {
                    throw w.refused("node " + w.label(g, k) + " would make a tensor of " + shapeText(shape) + " = "
                            + String.format(Locale.ROOT, "%.0f", elements) + " elements of "
                            + (type != null ? DataType.name(type.onnxElementType()) : "at least 1 byte") + " ("
                            + String.format(Locale.ROOT, "%.0f", bytes) + " bytes"
                            + (n.exact ? "" : ", counting every symbolic dimension as 1")
                            + "), more than ModelLimits.maxTensorBytes (" + w.limits.maxTensorBytes() + ")");
                }
                v.put(out, shape, type, n.exact, n.outValues[j]);
            }
        }
    }

    /**
     * A sequence holds copies of its tensors (ONNX Runtime's SequenceConstruct and SequenceInsert copy
     * them), so all of them together count as one tensor against {@link ModelLimits#maxTensorBytes()}: a
     * sequence of the same large initializer a hundred times is that allocation, and ConcatFromSequence
     * would make it one tensor.
     */
    private void checkSequence(GraphInfo g, int k, Node n) throws Problem {
        double elements = 0;
        for (double[] shape : n.outSequence) {
            double e = 1;
            for (double d : shape) {
                e *= d;
            }
            elements += e;
        }
        DType type = n.outTypes[0];
        int bits = type != null ? 8 * type.byteSize() : 8;
        double bytes = Math.ceil(elements * bits / 8);
        if (bytes > w.limits.maxTensorBytes()) {
            throw w.refused("node " + w.label(g, k) + " would make a sequence of " + n.outSequence.length
                    + " tensors holding " + String.format(Locale.ROOT, "%.0f", elements) + " elements of "
                    + (type != null ? DataType.name(type.onnxElementType()) : "at least 1 byte") + " ("
                    + String.format(Locale.ROOT, "%.0f", bytes) + " bytes"
                    + (n.exact ? "" : ", counting every symbolic dimension as 1")
                    + "), more than ModelLimits.maxTensorBytes (" + w.limits.maxTensorBytes() + ")");
        }
    }

    String shapeText(double[] shape) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < shape.length; i++) {
            sb.append(i == 0 ? "" : " x ").append(String.format(Locale.ROOT, "%.0f", shape[i]));
        }
        return shape.length == 0 ? "a scalar" : sb.toString();
    }

    /** One node during inference: its inputs' shapes, types and constants, and what it outputs. */
    final class Node {
        final GraphInfo g;
        final int k;
        final Values v;
        final String op;
        final NodeAttrs attrs;
        final int inCount;
        final double[][] outShapes;
        final DType[] outTypes;
        final double[][] outValues;
        /** The lower-bound shapes of the tensors of a sequence output, or null (no sequence, or unknown). */
        double[][] outSequence;

        boolean exact = true;

        Node(GraphInfo g, int k, Values v) {
            this.g = g;
            this.k = k;
            this.v = v;
            this.op = w.text(g.nodeOp.get(k));
            NodeAttrs a = g.attrs.get(k);
            this.attrs = a == null ? new NodeAttrs() : a;
            this.inCount = g.inCount.get(k);
            int outs = Math.min(g.outCount.get(k), 2);
            this.outShapes = new double[outs][];
            this.outTypes = new DType[outs];
            this.outValues = new double[outs][];
        }

        int output(int j) {
            return g.edges.get(g.inStart.get(k) + inCount + j);
        }

        int inputIndex(int j) {
            if (j >= inCount) {
                return -1;
            }
            int h = g.edges.get(g.inStart.get(k) + j);
            return w.isEmpty(h) ? -1 : v.index(h);
        }

        boolean has(int j) {
            return j < inCount && !w.isEmpty(g.edges.get(g.inStart.get(k) + j));
        }

        double[] shape(int j) {
            int i = inputIndex(j);
            if (i >= 0 && !v.exact(i)) {
                exact = false;
            }
            return i < 0 ? null : v.shape(i);
        }

        /** The input's element type, or null when unknown or not one the runtime has a DType for. */
        DType type(int j) {
            int i = inputIndex(j);
            return i < 0 ? null : v.type(i);
        }

        double[] constant(int j) {
            int i = inputIndex(j);
            return i < 0 ? null : v.constant(i);
        }

        /** The input's tensors' lower-bound shapes when it is a sequence whose tensors are all known, else null. */
        double[][] sequence(int j) {
            int i = inputIndex(j);
            if (i >= 0 && v.sequence(i) != null && !v.exact(i)) {
                exact = false;
            }
            return i < 0 ? null : v.sequence(i);
        }

        Attr attr(String key) {
            return attrs.map.get(key);
        }

        long i(String key, long otherwise) {
            Attr a = attr(key);
            return a != null && a.hasI ? a.i : otherwise;
        }

        /** A list attribute, or null when absent or too long to keep. */
        double[] ints(String key) {
            Attr a = attr(key);
            return a == null ? null : a.list;
        }

        boolean present(String key) {
            return attr(key) != null;
        }

        String str(String key) {
            Attr a = attr(key);
            return a == null || a.s < 0 ? null : w.text(a.s);
        }

        void out(double[] shape, DType type) {
            if (outShapes.length > 0 && shape != null) {
                for (int d = 0; d < shape.length; d++) {
                    double x = shape[d];
                    shape[d] = Double.isNaN(x) || x < 0 ? 0 : Math.min(x, 1e300);
                }
                outShapes[0] = shape;
                outTypes[0] = type;
            }
        }

        void value(double[] values) {
            if (outValues.length > 0 && values != null && values.length <= SMALL_CONSTANT && exact) {
                outValues[0] = values;
            }
        }
    }

    /** Shape rules; each leaves the outputs unknown when something it needs is unknown or odd. */
    void inferNode(Node n) {
        if (inferSequence(n)) {
            return;
        }
        double[] x = n.has(0) ? n.shape(0) : null;
        DType t = n.type(0);
        switch (n.op) {
            case "Constant": {
                // like ONNX Runtime: the first attribute, read according to its declared type, whatever its name
                Attr a = n.attrs.first;
                if (a == null) {
                    return;
                }
                if (a.type == AttributeType.TENSOR && a.t != null) {
                    n.out(a.t.dims.clone(), DataType.dtype(a.t.dataType));
                    n.value(a.t.values);
                } else if ((a.type == AttributeType.FLOATS || a.type == AttributeType.INTS) && a.list != null) {
                    n.out(new double[] {a.list.length}, a.type == AttributeType.FLOATS ? DType.FLOAT32 : DType.INT64);
                    n.value(a.list);
                } else if (a.type == AttributeType.FLOATS || a.type == AttributeType.INTS) {
                    n.out(
                            new double[] {a.listOverflow ? SMALL_CONSTANT + 1 : 0},
                            a.type == AttributeType.FLOATS ? DType.FLOAT32 : DType.INT64);
                } else if (a.type == AttributeType.FLOAT || a.type == AttributeType.INT) {
                    n.out(new double[0], a.type == AttributeType.FLOAT ? DType.FLOAT32 : DType.INT64);
                    n.value(new double[] {a.type == AttributeType.FLOAT ? a.f : a.i});
                }
                return;
            }
            case "Identity":
            case "Relu":
            case "LeakyRelu":
            case "Sigmoid":
            case "Tanh":
            case "Abs":
            case "Neg":
            case "Exp":
            case "Log":
            case "Sqrt":
            case "Reciprocal":
            case "Floor":
            case "Ceil":
            case "Round":
            case "Erf":
            case "Softplus":
            case "Softsign":
            case "Elu":
            case "Selu":
            case "Celu":
            case "HardSigmoid":
            case "HardSwish":
            case "Clip":
            case "Softmax":
            case "LogSoftmax":
            case "Hardmax":
            case "Sign":
            case "Sin":
            case "Cos":
            case "Tan":
            case "Asin":
            case "Acos":
            case "Atan":
            case "Sinh":
            case "Cosh":
            case "Asinh":
            case "Acosh":
            case "Atanh":
            case "Mish":
            case "Gelu":
            case "ThresholdedRelu":
            case "Shrink":
            case "LRN":
            case "InstanceNormalization":
            case "BatchNormalization":
            case "LayerNormalization":
            case "GroupNormalization":
            case "MeanVarianceNormalization":
            case "EyeLike":
            case "RandomNormalLike":
            case "RandomUniformLike":
            case "Bernoulli":
            case "CumSum":
                if (x != null) {
                    n.out(x.clone(), t);
                    if (n.op.equals("Identity")) {
                        n.value(n.constant(0));
                    }
                }
                return;
            case "Cast":
            case "CastLike":
                if (x != null) {
                    n.out(x.clone(), n.op.equals("Cast") ? DataType.dtype(n.i("to", 0)) : n.type(1));
                    n.value(n.constant(0));
                }
                return;
            case "Dropout":
                if (x != null) {
                    n.out(x.clone(), t);
                    if (n.outShapes.length > 1) {
                        n.outShapes[1] = x.clone();
                        n.outTypes[1] = DType.BOOL;
                    }
                }
                return;
            case "Not":
            case "IsNaN":
            case "IsInf":
                if (x != null) {
                    n.out(x.clone(), DType.BOOL);
                }
                return;
            case "Add":
            case "Sub":
            case "Mul":
            case "Div":
            case "Pow":
            case "Mod":
            case "PRelu":
            case "Max":
            case "Min":
            case "Sum":
            case "Mean":
            case "BitShift":
            case "Where":
            case "Equal":
            case "Greater":
            case "Less":
            case "GreaterOrEqual":
            case "LessOrEqual":
            case "And":
            case "Or":
            case "Xor": {
                double[] out = new double[0];
                for (int j = 0; j < n.inCount; j++) {
                    double[] s = n.has(j) ? n.shape(j) : null;
                    if (s == null) {
                        return;
                    }
                    out = broadcast(out, s);
                }
                boolean logical = n.op.matches("Equal|Greater|Less|GreaterOrEqual|LessOrEqual|And|Or|Xor");
                n.out(out, logical ? DType.BOOL : n.op.equals("Where") ? n.type(1) : t);
                return;
            }
            case "Conv":
            case "ConvInteger": {
                double[] w = n.shape(1);
                if (x == null || w == null || x.length < 3 || w.length != x.length) {
                    return;
                }
                double[] kernel =
                        n.ints("kernel_shape") != null ? n.ints("kernel_shape") : Arrays.copyOfRange(w, 2, w.length);
                n.out(spatial(n, x, kernel, false, w[0]), t);
                return;
            }
            case "ConvTranspose": {
                double[] w = n.shape(1);
                if (x == null || w == null || x.length < 3 || w.length != x.length) {
                    return;
                }
                int sp = x.length - 2;
                double[] kernel =
                        n.ints("kernel_shape") != null ? n.ints("kernel_shape") : Arrays.copyOfRange(w, 2, w.length);
                double[] strides = n.ints("strides");
                double[] dil = n.ints("dilations");
                double[] outPad = n.ints("output_padding");
                double[] outShape = n.ints("output_shape");
                double[] pads = n.ints("pads");
                if (kernel.length != sp) {
                    return;
                }
                double[] out = new double[x.length];
                out[0] = x[0];
                out[1] = w[1] * Math.max(1, n.i("group", 1));
                for (int d = 0; d < sp; d++) {
                    if (outShape != null && outShape.length == sp) {
                        out[d + 2] = outShape[d];
                        continue;
                    }
                    double s = strides != null && strides.length == sp ? strides[d] : 1;
                    double dl = dil != null && dil.length == sp ? dil[d] : 1;
                    double op = outPad != null && outPad.length == sp ? outPad[d] : 0;
                    double p = pads != null && pads.length == 2 * sp ? pads[d] + pads[d + sp] : 0;
                    if (s < 1 || dl < 1) {
                        return;
                    }
                    out[d + 2] = s * (x[d + 2] - 1) + op + (kernel[d] - 1) * dl + 1 - p;
                }
                n.out(out, t);
                return;
            }
            case "MaxPool":
            case "AveragePool":
            case "LpPool": {
                double[] kernel = n.ints("kernel_shape");
                if (x == null || kernel == null || x.length < 3) {
                    return;
                }
                n.out(spatial(n, x, kernel, n.i("ceil_mode", 0) != 0, x[1]), t);
                if (n.outShapes.length > 1 && n.outShapes[0] != null) {
                    n.outShapes[1] = n.outShapes[0].clone();
                    n.outTypes[1] = DType.INT64;
                }
                return;
            }
            case "GlobalAveragePool":
            case "GlobalMaxPool":
            case "GlobalLpPool":
                if (x != null && x.length >= 2) {
                    double[] out = x.clone();
                    for (int d = 2; d < out.length; d++) {
                        out[d] = 1;
                    }
                    n.out(out, t);
                }
                return;
            case "Pad": {
                double[] pads = n.has(1) ? n.constant(1) : n.ints("pads");
                if (x == null || pads == null) {
                    return;
                }
                double[] axes = n.has(3) ? n.constant(3) : null;
                if (n.has(3) && axes == null) {
                    return;
                }
                int count = axes == null ? x.length : axes.length;
                if (pads.length != 2 * count) {
                    return;
                }
                double[] out = x.clone();
                for (int j = 0; j < count; j++) {
                    int axis = axes == null ? j : axis(axes[j], x.length);
                    if (axis < 0) {
                        return;
                    }
                    out[axis] += pads[j] + pads[j + count];
                }
                n.out(out, t);
                return;
            }
            case "Resize":
            case "Upsample": {
                if (x == null) {
                    return;
                }
                double[] sizes = n.op.equals("Resize") && n.has(3) ? n.constant(3) : null;
                double[] scales = n.op.equals("Resize")
                        ? (n.has(2) ? n.constant(2) : n.inCount == 2 ? n.constant(1) : null)
                        : n.has(1) ? n.constant(1) : n.present("scales") ? n.ints("scales") : null;
                double[] axes = n.ints("axes");
                double[] out = x.clone();
                double[] by = sizes != null ? sizes : scales;
                if (by == null) {
                    return;
                }
                int count = axes == null ? x.length : axes.length;
                if (by.length != count) {
                    return;
                }
                for (int j = 0; j < count; j++) {
                    int axis = axes == null ? j : axis(axes[j], x.length);
                    if (axis < 0) {
                        return;
                    }
                    out[axis] = sizes != null ? sizes[j] : Math.floor(x[axis] * scales[j]);
                }
                n.out(out, t);
                return;
            }
            case "Tile": {
                double[] repeats = n.constant(1);
                if (x == null || repeats == null || repeats.length != x.length) {
                    return;
                }
                double[] out = x.clone();
                for (int d = 0; d < out.length; d++) {
                    out[d] *= repeats[d];
                }
                n.out(out, t);
                return;
            }
            case "Expand": {
                double[] shape = n.constant(1);
                if (shape != null) {
                    n.out(broadcast(x != null ? x : new double[0], shape.clone()), x != null ? t : null);
                }
                return;
            }
            case "ConstantOfShape": {
                double[] shape = n.constant(0);
                if (shape != null) {
                    Attr value = n.attr("value");
                    n.out(
                            shape.clone(),
                            value != null && value.t != null ? DataType.dtype(value.t.dataType) : DType.FLOAT32);
                }
                return;
            }
            case "RandomNormal":
            case "RandomUniform": {
                double[] shape = n.ints("shape");
                Attr a = n.attr("shape");
                if (a != null && a.listOverflow) {
                    n.out(new double[] {Double.POSITIVE_INFINITY}, DType.FLOAT32);
                } else if (shape != null) {
                    n.out(shape.clone(), DataType.dtype(n.i("dtype", DataType.FLOAT)));
                }
                return;
            }
            case "Range": {
                double[] s = n.constant(0);
                double[] l = n.constant(1);
                double[] d = n.constant(2);
                if (s != null
                        && l != null
                        && d != null
                        && s.length == 1
                        && l.length == 1
                        && d.length == 1
                        && d[0] != 0) {
                    n.out(new double[] {Math.ceil((l[0] - s[0]) / d[0])}, t);
                }
                return;
            }
            case "OneHot": {
                double[] depth = n.constant(1);
                if (x == null || depth == null || depth.length != 1) {
                    return;
                }
                int axis = axis(n.i("axis", -1), x.length + 1);
                if (axis < 0) {
                    return;
                }
                double[] out = new double[x.length + 1];
                for (int d = 0, j = 0; d < out.length; d++) {
                    out[d] = d == axis ? depth[0] : x[j++];
                }
                n.out(out, n.type(2));
                return;
            }
            case "Concat": {
                double[] out = null;
                int axis = -1;
                double[] values = new double[0];
                for (int j = 0; j < n.inCount; j++) {
                    double[] s = n.has(j) ? n.shape(j) : null;
                    if (s == null) {
                        return;
                    }
                    if (out == null) {
                        out = s.clone();
                        axis = axis(n.i("axis", 0), s.length);
                        if (axis < 0) {
                            return;
                        }
                    } else {
                        if (s.length != out.length) {
                            return;
                        }
                        for (int d = 0; d < out.length; d++) {
                            out[d] = d == axis ? out[d] + s[d] : Math.max(out[d], s[d]);
                        }
                    }
                    double[] c = n.constant(j);
                    values = values == null || c == null || values.length + c.length > SMALL_CONSTANT
                            ? null
                            : concat(values, c);
                }
                if (out != null) {
                    n.out(out, t);
                    n.value(out.length == 1 ? values : null);
                }
                return;
            }
            case "Gemm": {
                double[] a = x;
                double[] b = n.shape(1);
                if (a == null || b == null || a.length != 2 || b.length != 2) {
                    return;
                }
                n.out(new double[] {n.i("transA", 0) != 0 ? a[1] : a[0], n.i("transB", 0) != 0 ? b[0] : b[1]}, t);
                return;
            }
            case "MatMul":
            case "MatMulInteger": {
                double[] a = x;
                double[] b = n.shape(1);
                if (a == null || b == null || a.length == 0 || b.length == 0) {
                    return;
                }
                double[] a2 = a.length == 1 ? new double[] {1, a[0]} : a;
                double[] b2 = b.length == 1 ? new double[] {b[0], 1} : b;
                double[] batch = broadcast(Arrays.copyOf(a2, a2.length - 2), Arrays.copyOf(b2, b2.length - 2));
                double[] out = Arrays.copyOf(batch, batch.length + 2);
                out[batch.length] = a2[a2.length - 2];
                out[batch.length + 1] = b2[b2.length - 1];
                if (a.length == 1 || b.length == 1) {
                    out = Arrays.copyOf(batch, batch.length + (a.length == 1 && b.length == 1 ? 0 : 1));
                    if (out.length > batch.length) {
                        out[batch.length] = a.length == 1 ? b2[b2.length - 1] : a2[a2.length - 2];
                    }
                }
                n.out(out, n.op.equals("MatMul") ? t : DType.INT32);
                return;
            }
            case "Flatten": {
                if (x == null) {
                    return;
                }
                int axis = axis(n.i("axis", 1), x.length + 1);
                if (axis < 0) {
                    return;
                }
                double outer = 1;
                double inner = 1;
                for (int d = 0; d < x.length; d++) {
                    if (d < axis) {
                        outer *= x[d];
                    } else {
                        inner *= x[d];
                    }
                }
                n.out(new double[] {outer, inner}, t);
                n.value(n.constant(0));
                return;
            }
            case "Reshape": {
                double[] shape = n.constant(1);
                if (x == null || shape == null) {
                    return;
                }
                boolean exactIn = n.exact;
                double total = 1;
                for (double d : x) {
                    total *= d;
                }
                double known = 1;
                int infer = -1;
                double[] out = shape.clone();
                for (int d = 0; d < out.length; d++) {
                    if (out[d] == 0 && n.i("allowzero", 0) == 0) {
                        if (d >= x.length) {
                            return;
                        }
                        out[d] = x[d];
                    }
                    if (out[d] == -1) {
                        if (infer >= 0) {
                            return;
                        }
                        infer = d;
                    } else if (out[d] < 0) {
                        return;
                    } else {
                        known *= out[d];
                    }
                }
                if (infer >= 0) {
                    out[infer] = exactIn && known > 0 ? Math.floor(total / known) : 1;
                }
                n.out(out, t);
                n.value(n.constant(0));
                return;
            }
            case "Transpose": {
                if (x == null) {
                    return;
                }
                double[] perm = n.ints("perm");
                double[] out = new double[x.length];
                for (int d = 0; d < x.length; d++) {
                    int from = perm == null ? x.length - 1 - d : perm.length == x.length ? axis(perm[d], x.length) : -1;
                    if (from < 0) {
                        return;
                    }
                    out[d] = x[from];
                }
                n.out(out, t);
                return;
            }
            case "Squeeze":
            case "Unsqueeze": {
                double[] axes = n.has(1) ? n.constant(1) : n.ints("axes");
                if (x == null || (axes == null && (n.has(1) || n.op.equals("Unsqueeze")))) {
                    return;
                }
                double[] out;
                if (n.op.equals("Squeeze")) {
                    boolean[] drop = new boolean[x.length];
                    for (int d = 0; d < x.length; d++) {
                        drop[d] = axes == null && x[d] == 1;
                    }
                    if (axes != null) {
                        for (double a : axes) {
                            int ax = axis(a, x.length);
                            if (ax < 0) {
                                return;
                            }
                            drop[ax] = true;
                        }
                    }
                    out = new double[0];
                    for (int d = 0; d < x.length; d++) {
                        if (!drop[d]) {
                            out = concat(out, new double[] {x[d]});
                        }
                    }
                } else {
                    int rank = x.length + axes.length;
                    boolean[] added = new boolean[rank];
                    for (double a : axes) {
                        int ax = axis(a, rank);
                        if (ax < 0) {
                            return;
                        }
                        added[ax] = true;
                    }
                    out = new double[rank];
                    for (int d = 0, j = 0; d < rank; d++) {
                        out[d] = added[d] ? 1 : j < x.length ? x[j++] : 1;
                    }
                }
                n.out(out, t);
                n.value(n.constant(0));
                return;
            }
            case "Shape": {
                if (x != null) {
                    n.out(new double[] {x.length}, DType.INT64);
                    n.value(x.clone());
                }
                return;
            }
            case "Size":
                n.out(new double[0], DType.INT64);
                return;
            case "Gather": {
                double[] idx = n.shape(1);
                if (x == null || idx == null || x.length == 0) {
                    return;
                }
                int axis = axis(n.i("axis", 0), x.length);
                if (axis < 0) {
                    return;
                }
                double[] out = concat(concat(Arrays.copyOf(x, axis), idx), Arrays.copyOfRange(x, axis + 1, x.length));
                n.out(out, t);
                double[] data = n.constant(0);
                double[] at = n.constant(1);
                if (data != null && at != null && x.length == 1) {
                    double[] picked = new double[at.length];
                    for (int j = 0; j < at.length; j++) {
                        int i = (int) (at[j] < 0 ? at[j] + data.length : at[j]);
                        if (i < 0 || i >= data.length) {
                            return;
                        }
                        picked[j] = data[i];
                    }
                    n.value(picked);
                }
                return;
            }
            case "ReduceMean":
            case "ReduceSum":
            case "ReduceMax":
            case "ReduceMin":
            case "ReduceProd":
            case "ReduceL1":
            case "ReduceL2":
            case "ReduceLogSum":
            case "ReduceLogSumExp":
            case "ReduceSumSquare":
            case "ArgMax":
            case "ArgMin": {
                if (x == null) {
                    return;
                }
                boolean keep = n.i("keepdims", 1) != 0;
                boolean arg = n.op.startsWith("Arg");
                double[] axes = arg ? new double[] {n.i("axis", 0)} : n.has(1) ? n.constant(1) : n.ints("axes");
                if (axes == null && (n.has(1) || n.attr("axes") != null)) {
                    if (!keep) {
                        return;
                    }
                    double[] ones = x.clone();
                    Arrays.fill(ones, 1);
                    n.exact = false;
                    n.out(ones, arg ? DType.INT64 : t);
                    return;
                }
                boolean[] reduce = new boolean[x.length];
                if (axes == null || axes.length == 0) {
                    if (n.i("noop_with_empty_axes", 0) != 0) {
                        n.out(x.clone(), t);
                        return;
                    }
                    Arrays.fill(reduce, true);
                } else {
                    for (double a : axes) {
                        int ax = axis(a, x.length);
                        if (ax < 0) {
                            return;
                        }
                        reduce[ax] = true;
                    }
                }
                double[] out = new double[0];
                for (int d = 0; d < x.length; d++) {
                    if (!reduce[d]) {
                        out = concat(out, new double[] {x[d]});
                    } else if (keep) {
                        out = concat(out, new double[] {1});
                    }
                }
                n.out(out, arg ? DType.INT64 : t);
                return;
            }
            default:
                return;
        }
    }

    /**
     * The sequence operators that can gather constants into one allocation: SequenceEmpty,
     * SequenceConstruct and SequenceInsert (the tensors, see {@link #checkSequence}) and ConcatFromSequence
     * (one tensor, as Concat). True when {@code n} is one of them.
     */
    boolean inferSequence(Node n) {
        switch (n.op) {
            case "SequenceEmpty": {
                DType type = DataType.dtype(n.i("dtype", DataType.FLOAT));
                if (n.outShapes.length > 0) {
                    n.outSequence = new double[0][];
                    n.outTypes[0] = type;
                }
                return true;
            }
            case "SequenceConstruct": {
                double[][] shapes = new double[n.inCount][];
                for (int j = 0; j < n.inCount; j++) {
                    shapes[j] = n.has(j) ? n.shape(j) : null;
                    if (shapes[j] == null) {
                        return true;
                    }
                }
                if (n.outShapes.length > 0) {
                    n.outSequence = shapes;
                    n.outTypes[0] = n.inCount > 0 ? n.type(0) : null;
                }
                return true;
            }
            case "SequenceInsert": {
                double[][] seq = n.sequence(0);
                double[] x = n.has(1) ? n.shape(1) : null;
                if (seq != null && x != null && n.outShapes.length > 0) {
                    double[][] shapes = Arrays.copyOf(seq, seq.length + 1);
                    shapes[seq.length] = x;
                    n.outSequence = shapes;
                    n.outTypes[0] = n.type(1);
                }
                return true;
            }
            case "ConcatFromSequence": {
                double[][] seq = n.sequence(0);
                if (seq == null || seq.length == 0) {
                    return true;
                }
                boolean newAxis = n.i("new_axis", 0) != 0;
                int rank = seq[0].length;
                int axis = axis(n.i("axis", 0), newAxis ? rank + 1 : rank);
                if (axis < 0) {
                    return true;
                }
                double[] out = newAxis ? new double[rank + 1] : seq[0].clone();
                for (double[] s : seq) {
                    if (s.length != rank) {
                        return true;
                    }
                }
                if (newAxis) {
                    for (int d = 0, j = 0; d <= rank; d++) {
                        if (d == axis) {
                            out[d] = seq.length;
                        } else {
                            double m = 0;
                            for (double[] s : seq) {
                                m = Math.max(m, s[j]);
                            }
                            out[d] = m;
                            j++;
                        }
                    }
                } else {
                    for (int i = 1; i < seq.length; i++) {
                        for (int d = 0; d < rank; d++) {
                            out[d] = d == axis ? out[d] + seq[i][d] : Math.max(out[d], seq[i][d]);
                        }
                    }
                }
                int i = n.inputIndex(0);
                n.out(out, i < 0 ? null : n.v.type(i));
                return true;
            }
            default:
                return false;
        }
    }

    /** Output shape of a convolution or pooling window sweep, as ONNX defines it. */
    double[] spatial(Node n, double[] x, double[] kernel, boolean ceil, double channels) {
        int sp = x.length - 2;
        if (kernel.length != sp) {
            return null;
        }
        double[] strides = n.ints("strides");
        double[] dil = n.ints("dilations");
        double[] pads = n.ints("pads");
        String autoPad = n.str("auto_pad");
        double[] out = new double[x.length];
        out[0] = x[0];
        out[1] = channels;
        for (int d = 0; d < sp; d++) {
            double s = strides != null && strides.length == sp ? strides[d] : 1;
            double dl = dil != null && dil.length == sp ? dil[d] : 1;
            double p = pads != null && pads.length == 2 * sp ? pads[d] + pads[d + sp] : 0;
            if (s < 1 || dl < 1 || kernel[d] < 1) {
                return null;
            }
            double window = (kernel[d] - 1) * dl + 1;
            double in = x[d + 2];
            if ("SAME_UPPER".equals(autoPad) || "SAME_LOWER".equals(autoPad)) {
                out[d + 2] = Math.ceil(in / s);
            } else if ("VALID".equals(autoPad)) {
                out[d + 2] = Math.ceil((in - window + 1) / s);
            } else {
                double span = (in + p - window) / s;
                out[d + 2] = (ceil ? Math.ceil(span) : Math.floor(span)) + 1;
            }
        }
        return out;
    }

    /** An axis in [-rank, rank) as an index, or -1. */
    int axis(double a, int rank) {
        if (a != Math.floor(a) || a < -rank || a >= rank) {
            return -1;
        }
        return (int) (a < 0 ? a + rank : a);
    }

    /** Numpy-style broadcast of two lower-bound shapes: the larger of each aligned pair. */
    double[] broadcast(double[] a, double[] b) {
        double[] out = new double[Math.max(a.length, b.length)];
        for (int d = 0; d < out.length; d++) {
            double x = d < out.length - a.length ? 1 : a[d - (out.length - a.length)];
            double y = d < out.length - b.length ? 1 : b[d - (out.length - b.length)];
            out[d] = x == 0 || y == 0 ? 0 : Math.max(x, y);
        }
        return out;
    }

    double[] concat(double[] a, double[] b) {
        double[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** What the size inference knows of each value: a lower bound of its shape, its type, a small constant. */
    private static final class Values {
        private final NameTable names;
        private final List<double[]> shapes = new ArrayList<>();
        private final List<DType> types = new ArrayList<>();
        private final List<double[]> constants = new ArrayList<>();
        private final List<Boolean> exact = new ArrayList<>();
        private final List<double[][]> sequences = new ArrayList<>();

        Values(Walk w) {
            this.names = new NameTable(w);
        }

        void put(int handle, double[] shape, DType type, boolean isExact, double[] constant) {
            put(handle, shape, type, isExact, constant, null);
        }

        /** A sequence value: the lower-bound shapes of its tensors. */
        void putSequence(int handle, double[][] tensors, DType type, boolean isExact) {
            put(handle, null, type, isExact, null, tensors);
        }

        private void put(int handle, double[] shape, DType type, boolean isExact, double[] constant, double[][] seq) {
            int i = names.add(handle);
            if (i == shapes.size()) {
                shapes.add(shape);
                types.add(type);
                constants.add(constant);
                exact.add(isExact);
                sequences.add(seq);
            } else {
                shapes.set(i, shape);
                types.set(i, type);
                constants.set(i, constant);
                exact.set(i, isExact);
                sequences.set(i, seq);
            }
        }

        double[][] sequence(int i) {
            return sequences.get(i);
        }

        int index(int handle) {
            return names.index(handle);
        }

        double[] shape(int i) {
            return shapes.get(i);
        }

        DType type(int i) {
            return types.get(i);
        }

        double[] constant(int i) {
            return constants.get(i);
        }

        boolean exact(int i) {
            return exact.get(i);
        }
    }
}
