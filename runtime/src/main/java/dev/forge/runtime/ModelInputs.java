package dev.forge.runtime;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a {@link Model} checks before native code: input names, element types, ranks, fixed dimensions,
 * one value per symbolic dimension across inputs, optionally finite values, and the requested output
 * names; then the stored normalization and the conversion into ONNX Runtime tensors.
 */
final class ModelInputs {
    private final List<TensorSpec> inputs;
    private final Map<String, TensorSpec> inputByName;
    private final List<String> outputNames;
    private final boolean rejectNonFinite;
    /** {mean, std} per channel when {@link ModelOptions#normalizeInputs()} is set, else null. */
    private final float[][] normalization;

    ModelInputs(
            String sourceName,
            List<TensorSpec> inputs,
            List<TensorSpec> outputs,
            ModelOptions options,
            Map<String, String> metadata) {
        this.inputs = inputs;
        Map<String, TensorSpec> byName = new LinkedHashMap<>();
        for (TensorSpec s : inputs) {
            byName.put(s.name(), s);
        }
        this.inputByName = Collections.unmodifiableMap(byName);
        List<String> outNames = new ArrayList<>();
        for (TensorSpec s : outputs) {
            outNames.add(s.name());
        }
        this.outputNames = Collections.unmodifiableList(outNames);
        this.rejectNonFinite = options.rejectNonFiniteInputs();
        this.normalization = options.normalizeInputs() ? normalizationOf(sourceName, metadata, inputs) : null;
    }

    /** The declared output names, in order. */
    List<String> outputNames() {
        return outputNames;
    }

    /**
     * The inputs as the session takes them: with the stored normalization applied to the single input
     * when the model was loaded with {@link ModelOptions#normalizeInputs()} and {@code normalize} is set
     * (images arrive normalized already).
     */
    Map<String, Tensor> prepared(Map<String, Tensor> in, boolean normalize) {
        if (normalization == null || !normalize) {
            return in;
        }
        Map<String, Tensor> out = new LinkedHashMap<>(in);
        String name = inputs.get(0).name();
        out.put(name, normalized(out.get(name)));
        return out;
    }

    /** The stored normalization, checked against the model's single float input [N, C, ...]. */
    static float[][] normalizationOf(String sourceName, Map<String, String> metadata, List<TensorSpec> inputs) {
        float[][] ms;
        try {
            ms = ModelMetadata.normalization(metadata)
                    .orElseThrow(() -> new ModelLoadException("Cannot load model " + sourceName
                            + ": ModelOptions.normalizeInputs is set but the model's metadata has no "
                            + ModelMetadata.INPUT_MEAN + " and "
                            + ModelMetadata.INPUT_STD + " (metadata keys: " + metadata.keySet()
                            + "); normalize the inputs yourself or"
                            + " export the model with its normalization"));
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException("Cannot load model " + sourceName + ": " + e.getMessage(), e);
        }
        if (inputs.size() != 1
                || inputs.get(0).dtype() != DType.FLOAT32
                || inputs.get(0).shape().length < 2) {
            throw new ModelLoadException(
                    "Cannot load model " + sourceName + ": ModelOptions.normalizeInputs needs one float32"
                            + " input [N, C, ...], but the model has inputs " + inputs);
        }
        long channels = inputs.get(0).shape()[1];
        if (channels >= 0 && channels != ms[0].length) {
            throw new ModelLoadException("Cannot load model " + sourceName + ": its metadata normalizes " + ms[0].length
                    + " channels but input " + inputs.get(0) + " has " + channels + "; fix " + ModelMetadata.INPUT_MEAN
                    + "/"
                    + ModelMetadata.INPUT_STD);
        }
        return ms;
    }

    /** (x - mean[c]) / std[c] over axis 1 of a validated input, as a new tensor. */
    private Tensor normalized(Tensor t) {
        long[] shape = t.shape();
        int channels = normalization[0].length;
        if (shape[1] != channels) {
            throw new InvalidInputException(
                    "input '" + inputs.get(0).name() + "' has " + shape[1] + " channels, but the model's"
                            + " normalization (" + ModelMetadata.INPUT_MEAN + ") has " + channels);
        }
        float[] x = t.toFloatArray();
        long inner = 1;
        for (int i = 2; i < shape.length; i++) {
            inner *= shape[i];
        }
        for (int i = 0; i < x.length; i++) {
            int c = (int) ((i / inner) % channels);
            x[i] = (x[i] - normalization[0][c]) / normalization[1][c];
        }
        return Tensor.of(x, shape);
    }

    /**
     * An ONNX Runtime tensor over the tensor's data: the tensor's own memory when it is direct (no
     * copy), else a one-time direct copy. The caller closes it.
     */
    static OnnxTensor toOrt(OrtEnvironment env, Tensor t) throws OrtException {
        ByteBuffer buf = t.directNativeBuffer();
        long[] shape = t.shape();
        switch (t.dtype()) {
            case FLOAT32:
                return OnnxTensor.createTensor(env, buf.asFloatBuffer(), shape);
            case FLOAT64:
                return OnnxTensor.createTensor(env, buf.asDoubleBuffer(), shape);
            case INT64:
                return OnnxTensor.createTensor(env, buf.asLongBuffer(), shape);
            case INT32:
                return OnnxTensor.createTensor(env, buf.asIntBuffer(), shape);
            case UINT8:
                return OnnxTensor.createTensor(env, buf, shape, OnnxJavaType.UINT8);
            case INT8:
                return OnnxTensor.createTensor(env, buf, shape, OnnxJavaType.INT8);
            case BOOL:
                return OnnxTensor.createTensor(env, buf, shape, OnnxJavaType.BOOL);
            case FLOAT16:
            case BFLOAT16:
            case INT16:
                // the bits as they are: ONNX Runtime takes 16-bit types through a buffer of that width
                return OnnxTensor.createTensor(env, buf, shape, t.dtype().toOnnxJavaType());
            case STRING:
                return OnnxTensor.createTensor(env, t.toStringArray(), shape);
            default:
                // uint16/32/64: refused when the model is loaded (ModelLoading's specs), so never fed
                throw new InvalidInputException(noJavaType(t.dtype()));
        }
    }

    /** Why an input of an unsigned 16-, 32- or 64-bit type cannot be fed. */
    static String noJavaType(DType dtype) {
        return dtype.typeName() + " tensors cannot be passed to ONNX Runtime from Java: its Java API (1.29) has no "
                + dtype.typeName() + " tensor type (OnnxJavaType has no unsigned type wider than 8 bits, and"
                + " OnnxTensor.createTensor makes no such tensor); change the model's input to int32 or int64 and"
                + " Cast it inside the model";
    }

    void checkOutputNames(List<String> wanted) {
        if (wanted.isEmpty()) {
            throw new InvalidInputException("No outputs requested; ask for at least one of " + outputNames);
        }
        Set<String> seen = new HashSet<>();
        for (String name : wanted) {
            if (name == null || !outputNames.contains(name)) {
                throw new InvalidInputException(
                        "Unknown output name " + quote(name) + ", expected one of " + outputNames);
            }
            if (!seen.add(name)) {
                throw new InvalidInputException("Output '" + name + "' is requested twice");
            }
        }
    }

    /** Checks names, dtypes, ranks, fixed dimensions and symbolic-dimension agreement. */
    void check(Map<String, Tensor> in) {
        for (String name : in.keySet()) {
            if (name == null || !inputByName.containsKey(name)) {
                throw new InvalidInputException(
                        "Unknown input name " + quote(name) + ", expected one of " + inputByName.keySet());
            }
        }
        List<String> missing = new ArrayList<>();
        for (TensorSpec spec : inputs) {
            if (!in.containsKey(spec.name())) {
                missing.add(spec.name());
            }
        }
        if (!missing.isEmpty()) {
            throw new InvalidInputException("Missing input" + (missing.size() > 1 ? "s " : " ") + quoteAll(missing)
                    + ": the model needs " + inputByName.keySet() + ", got " + in.keySet());
        }
        Map<String, Long> bound = new HashMap<>();
        Map<String, String> boundBy = new HashMap<>();
        for (TensorSpec spec : inputs) {
            Tensor t = in.get(spec.name());
            if (t == null) {
                throw new InvalidInputException("input '" + spec.name() + "' is null");
            }
            if (t.dtype() != spec.dtype()) {
                throw new InvalidInputException("input '" + spec.name() + "': expected "
                        + spec.dtype().typeName() + ", got " + t.dtype().typeName());
            }
            long[] want = spec.shape();
            long[] got = t.shape();
            boolean ok = want.length == got.length;
            for (int i = 0; ok && i < want.length; i++) {
                ok = want[i] < 0 || want[i] == got[i];
            }
            if (!ok) {
                throw new InvalidInputException("input '" + spec.name() + "': expected shape " + spec.shapeString()
                        + ", got " + Tensor.shapeString(got));
            }
            if (rejectNonFinite && t.dtype().isFloatingPoint()) {
                rejectNonFinite(spec.name(), t);
            }
            String[] dimNames = spec.dimNames();
            for (int i = 0; i < want.length; i++) {
                if (want[i] < 0 && dimNames[i] != null) {
                    Long prev = bound.putIfAbsent(dimNames[i], got[i]);
                    if (prev == null) {
                        boundBy.put(dimNames[i], spec.name());
                    } else if (prev != got[i]) {
                        throw new InvalidInputException(
                                "input '" + spec.name() + "': dimension " + dimNames[i] + " is " + got[i]
                                        + " but input '" + boundBy.get(dimNames[i]) + "' has " + dimNames[i] + " = "
                                        + prev + " (expected shape "
                                        + spec.shapeString() + ", got " + Tensor.shapeString(got) + ")");
                    }
                }
            }
        }
    }

    /** Throws when a float tensor holds NaN or an infinity, naming the first one and counting them all. */
    private static void rejectNonFinite(String name, Tensor t) {
        ByteBuffer b = t.buffer();
        long first = -1;
        double firstValue = 0;
        long count = 0;
        long n = t.size();
        boolean f32 = t.dtype() == DType.FLOAT32;
        boolean f64 = t.dtype() == DType.FLOAT64;
        for (int i = 0; i < n; i++) {
            double v = f32 ? b.getFloat(i * 4) : f64 ? b.getDouble(i * 8) : t.getDouble(i);
            if (!Double.isFinite(v)) {
                if (first < 0) {
                    first = i;
                    firstValue = v;
                }
                count++;
            }
        }
        if (count > 0) {
            throw new InvalidInputException(
                    "input '" + name + "': element " + first + " (index " + indexString(first, t.shape())
                            + ") is " + (Double.isNaN(firstValue) ? "NaN" : firstValue > 0 ? "+Infinity" : "-Infinity")
                            + "; " + count + " of "
                            + n + " values are not finite, and this model was loaded with rejectNonFiniteInputs");
        }
    }

    private static String indexString(long flat, long[] shape) {
        long[] idx = new long[shape.length];
        for (int i = shape.length - 1; i >= 0; i--) {
            idx[i] = shape[i] == 0 ? 0 : flat % shape[i];
            flat = shape[i] == 0 ? 0 : flat / shape[i];
        }
        return Tensor.shapeString(idx);
    }

    private static String quote(String s) {
        return s == null ? "null" : "'" + s + "'";
    }

    private static String quoteAll(List<String> names) {
        List<String> q = new ArrayList<>();
        for (String n : names) {
            q.add(quote(n));
        }
        return String.join(", ", q);
    }
}
