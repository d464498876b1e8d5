package dev.forge.runtime;

import ai.onnxruntime.OnnxSequence;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.TensorInfo;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/** What a {@link Model} gives back: output tensors out of ONNX Runtime, top-k predictions and their labels. */
final class ModelResults {
    private static final System.Logger LOG = System.getLogger(Model.class.getName());
    /** A row of non-negative values is taken as probabilities when it sums to 1 within this. */
    static final double PROBABILITY_SUM_TOLERANCE = 1e-3;

    private ModelResults() {}

    /** An output of a run as a heap tensor (copied once out of ONNX Runtime). */
    static Tensor fromOrt(String sourceName, String name, OnnxValue value) {
        if (!(value instanceof OnnxTensor)) {
            throw new ForgeRuntimeException("Output '" + name + "' of " + sourceName + " is a " + value.getType()
                    + ", not a tensor; only tensor outputs are supported");
        }
        OnnxTensor t = (OnnxTensor) value;
        TensorInfo info = t.getInfo();
        DType dtype;
        try {
            dtype = DType.fromOnnxTensorType(info.onnxType);
        } catch (IllegalArgumentException e) {
            throw new ForgeRuntimeException("Output '" + name + "' of " + sourceName + ": " + e.getMessage());
        }
        if (dtype == DType.STRING) {
            List<String> flat = new ArrayList<>();
            try {
                flattenStrings(t.getValue(), flat);
            } catch (ai.onnxruntime.OrtException e) {
                throw new ForgeRuntimeException(
                        "Output '" + name + "' of " + sourceName + ": cannot read its strings: "
                                + ModelLoading.ortReason(e),
                        e);
            }
            return Tensor.ofStrings(flat.toArray(new String[0]), info.getShape());
        }
        // uint16/32/64 arrive under the signed Java type of their width; the bytes are the values
        return Tensor.fromNativeOrder(dtype, info.getShape(), t.getByteBuffer());
    }

    /**
     * A sequence or optional output from its carrier outputs (see {@link ModelSignature}): {@code present}
     * (a bool scalar, null for a sequence) and {@code value}, a tensor or a sequence with one extra empty
     * tensor at the end.
     */
    static Value fromCarrier(String sourceName, ModelSignature.Carrier c, OnnxValue present, OnnxValue value) {
        if (present != null) {
            Tensor flag = fromOrt(sourceName, c.output(), present);
            if (flag.dtype() != DType.BOOL || flag.size() != 1) {
                throw new ForgeRuntimeException("Output '" + c.output() + "' of " + sourceName
                        + ": its presence flag is " + flag + ", expected a bool scalar");
            }
            if (flag.toByteArray()[0] == 0) {
                return OptionalValue.empty(c.kind());
            }
        }
        Value content = c.kind().isSequence() ? sequence(sourceName, c, value) : fromOrt(sourceName, c.output(), value);
        return c.kind().isOptional() ? OptionalValue.of(content) : content;
    }

    /** The tensors of a carried sequence, without the empty tensor its carrier appended. */
    private static TensorSequence sequence(String sourceName, ModelSignature.Carrier c, OnnxValue value) {
        if (!(value instanceof OnnxSequence)) {
            throw new ForgeRuntimeException("Output '" + c.output() + "' of " + sourceName + " came back as a "
                    + value.getType() + ", expected a sequence");
        }
        List<? extends OnnxValue> elements;
        try {
            elements = ((OnnxSequence) value).getValue();
        } catch (ai.onnxruntime.OrtException e) {
            throw new ForgeRuntimeException(
                    "Output '" + c.output() + "' of " + sourceName + ": cannot read the sequence: "
                            + ModelLoading.ortReason(e),
                    e);
        }
        try {
            if (elements.isEmpty()) {
                throw new ForgeRuntimeException("Output '" + c.output() + "' of " + sourceName
                        + " came back without the tensor Forge appends to every sequence");
            }
            List<Tensor> tensors = new ArrayList<>(elements.size() - 1);
            for (int i = 0; i < elements.size() - 1; i++) {
                tensors.add(narrow(fromOrt(sourceName, c.output() + "[" + i + "]", elements.get(i)), c.elementType()));
            }
            return TensorSequence.of(c.elementType(), tensors);
        } finally {
            // each element is a native value of its own, made by getValue
            for (OnnxValue e : elements) {
                e.close();
            }
        }
    }

    /**
     * A tensor of a carried sequence back in its element type: the carrier widened it to int64 or float
     * exactly ({@link ModelSignature#wire}), so narrowing gives the original values (bits, for uint64).
     */
    static Tensor narrow(Tensor t, DType to) {
        if (t.dtype() == to) {
            return t;
        }
        long[] shape = t.shape();
        switch (to) {
            case FLOAT16:
                return Tensor.ofFloat16(t.toFloatArray(), shape);
            case BFLOAT16:
                return Tensor.ofBFloat16(t.toFloatArray(), shape);
            default:
                break;
        }
        long[] v = t.toLongArray();
        switch (to) {
            case BOOL: {
                boolean[] b = new boolean[v.length];
                for (int i = 0; i < v.length; i++) {
                    b[i] = v[i] != 0;
                }
                return Tensor.ofBool(b, shape);
            }
            case INT32:
            case UINT32: {
                int[] x = new int[v.length];
                for (int i = 0; i < v.length; i++) {
                    x[i] = (int) v[i];
                }
                return to == DType.INT32 ? Tensor.of(x, shape) : Tensor.ofUint32(x, shape);
            }
            case INT16:
            case UINT16: {
                short[] x = new short[v.length];
                for (int i = 0; i < v.length; i++) {
                    x[i] = (short) v[i];
                }
                return to == DType.INT16 ? Tensor.ofInt16(x, shape) : Tensor.ofUint16(x, shape);
            }
            case INT8:
            case UINT8: {
                byte[] x = new byte[v.length];
                for (int i = 0; i < v.length; i++) {
                    x[i] = (byte) v[i];
                }
                return to == DType.INT8 ? Tensor.ofInt8(x, shape) : Tensor.ofUint8(x, shape);
            }
            case UINT64:
                return Tensor.ofUint64(v, shape);
            default:
                throw new IllegalStateException("no narrowing from " + t.dtype() + " to " + to);
        }
    }

    /** ONNX Runtime returns a string tensor as nested String arrays, one level per dimension. */
    private static void flattenStrings(Object value, List<String> out) {
        if (value instanceof String) {
            out.add((String) value);
        } else if (value instanceof Object[]) {
            for (Object o : (Object[]) value) {
                flattenStrings(o, out);
            }
        }
    }

    /**
     * The {@code k} most likely classes of each row of {@code scores} ({@code [rows, classes]}): taken as
     * probabilities when every value is in [0, 1] and every row sums to 1 within {@value
     * #PROBABILITY_SUM_TOLERANCE}, else as logits (softmax per row); ties keep the lower index first.
     */
    static List<List<Prediction>> topK(
            Tensor scores,
            String outputName,
            int k,
            Map<String, String> metadata,
            String sourceName,
            AtomicBoolean labelWarningLogged) {
        long[] shape = scores.shape();
        if (shape.length != 2) {
            throw new InvalidInputException("topK: output '" + outputName + "' has shape " + Tensor.shapeString(shape)
                    + ", expected [batch, classes]");
        }
        int rows = (int) shape[0];
        int classes = (int) shape[1];
        checkK(k, classes);
        double[] v = scores.toDoubleArray();
        if (!areProbabilities(v, rows, classes)) {
            softmaxRows(v, rows, classes);
        }
        String[] labels = labels(metadata, classes, sourceName, labelWarningLogged);
        List<List<Prediction>> result = new ArrayList<>(rows);
        for (int r = 0; r < rows; r++) {
            Integer[] order = new Integer[classes];
            for (int c = 0; c < classes; c++) {
                order[c] = c;
            }
            final int base = r * classes;
            Arrays.sort(order, (a, b) -> {
                int cmp = Double.compare(v[base + b], v[base + a]);
                return cmp != 0 ? cmp : Integer.compare(a, b);
            });
            List<Prediction> row = new ArrayList<>(k);
            for (int i = 0; i < k; i++) {
                int c = order[i];
                row.add(new Prediction(c, labels[c], (float) v[base + c]));
            }
            result.add(Collections.unmodifiableList(row));
        }
        return Collections.unmodifiableList(result);
    }

    static void checkK(int k, long classes) {
        if (k < 1 || k > classes) {
            throw new IllegalArgumentException("k must be in [1, " + (classes == Long.MAX_VALUE ? "classes" : classes)
                    + "] (the number of classes), got " + k);
        }
    }

    /** True when every value is in [0, 1] and every row sums to about 1. */
    static boolean areProbabilities(double[] v, int rows, int classes) {
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                double x = v[r * classes + c];
                if (!(x >= 0 && x <= 1)) {
                    return false;
                }
                sum += x;
            }
            if (Math.abs(sum - 1) > PROBABILITY_SUM_TOLERANCE) {
                return false;
            }
        }
        return true;
    }

    static void softmaxRows(double[] v, int rows, int classes) {
        for (int r = 0; r < rows; r++) {
            int base = r * classes;
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                max = Math.max(max, v[base + c]);
            }
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                v[base + c] = Math.exp(v[base + c] - max);
                sum += v[base + c];
            }
            for (int c = 0; c < classes; c++) {
                v[base + c] /= sum;
            }
        }
    }

    /** Labels from the metadata key class_labels when it has one per class, else the class indices. */
    static String[] labels(
            Map<String, String> metadata, int classes, String sourceName, AtomicBoolean labelWarningLogged) {
        String[] labels = new String[classes];
        String text = metadata.get(ModelMetadata.CLASS_LABELS);
        String[] given = text == null ? null : text.split(",", -1);
        if (given != null && given.length != classes && labelWarningLogged.compareAndSet(false, true)) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    sourceName + ": metadata class_labels has " + given.length + " labels but the" + " model has "
                            + classes + " classes; using class indices");
        }
        for (int c = 0; c < classes; c++) {
            labels[c] = given != null && given.length == classes ? given[c].trim() : Integer.toString(c);
        }
        return labels;
    }
}
