package dev.forge.compiler.ir;

import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * One operator application: an ONNX operator type, a unique node name, input and output value names (an
 * empty input name marks an omitted optional input, as in ONNX) and typed attributes. Immutable.
 */
public final class Node {
    private final String opType;
    private final String name;
    private final String domain;
    private final List<String> inputs;
    private final List<String> outputs;
    private final Map<String, Attribute> attributes;

    /**
     * Creates a node.
     *
     * @param opType ONNX operator type, e.g. {@code Conv}
     * @param name unique node name, e.g. {@code conv1}
     * @param domain operator domain, {@code ""} for the default ONNX domain
     * @param inputs input value names
     * @param outputs output value names
     * @param attributes attributes by name
     */
    public Node(
            String opType,
            String name,
            String domain,
            List<String> inputs,
            List<String> outputs,
            Map<String, Attribute> attributes) {
        this.opType = Objects.requireNonNull(opType, "opType");
        this.name = Objects.requireNonNull(name, "name");
        this.domain = domain == null ? "" : domain;
        this.inputs = List.copyOf(inputs);
        this.outputs = List.copyOf(outputs);
        this.attributes = Collections.unmodifiableMap(new LinkedHashMap<>(ordered(attributes)));
    }

    /**
     * {@code Map.of} and {@code HashMap} iterate in an order that changes from one JVM run to the next, so a
     * graph built from them would serialize differently every run; those are sorted by name. Ordered maps
     * (LinkedHashMap, SortedMap, another node's attributes) keep their order, so an imported model is
     * written back as it was read.
     */
    private static Map<String, Attribute> ordered(Map<String, Attribute> attributes) {
        boolean unordered = (attributes instanceof HashMap && !(attributes instanceof LinkedHashMap))
                || attributes.getClass().getName().startsWith("java.util.ImmutableCollections$");
        return unordered ? new TreeMap<>(attributes) : attributes;
    }

    /** Creates a node in the default ONNX domain. */
    public Node(
            String opType, String name, List<String> inputs, List<String> outputs, Map<String, Attribute> attributes) {
        this(opType, name, "", inputs, outputs, attributes);
    }

    public String opType() {
        return opType;
    }

    public String name() {
        return name;
    }

    public String domain() {
        return domain;
    }

    public List<String> inputs() {
        return inputs;
    }

    public List<String> outputs() {
        return outputs;
    }

    /** Input {@code i}, or {@code ""} if it is omitted or beyond the list. */
    public String input(int i) {
        return i < inputs.size() ? inputs.get(i) : "";
    }

    /** True if input {@code i} is given. */
    public boolean hasInput(int i) {
        return !input(i).isEmpty();
    }

    public String output(int i) {
        return outputs.get(i);
    }

    public Map<String, Attribute> attributes() {
        return attributes;
    }

    /** The op and node name as errors print them, e.g. {@code Conv(conv1)}. */
    public String label() {
        return opType + "(" + name + ")";
    }

    /** An integer attribute, or {@code defaultValue} when absent. */
    public long attrInt(String key, long defaultValue) {
        Attribute a = attributes.get(key);
        if (a == null) {
            return defaultValue;
        }
        if (a instanceof Attribute.Int i) {
            return i.value();
        }
        throw wrongType(key, "int", a);
    }

    /** A float attribute, or {@code defaultValue} when absent. */
    public float attrFloat(String key, float defaultValue) {
        Attribute a = attributes.get(key);
        if (a == null) {
            return defaultValue;
        }
        if (a instanceof Attribute.Float f) {
            return f.value();
        }
        throw wrongType(key, "float", a);
    }

    /** A string attribute, or {@code defaultValue} when absent. */
    public String attrString(String key, String defaultValue) {
        Attribute a = attributes.get(key);
        if (a == null) {
            return defaultValue;
        }
        if (a instanceof Attribute.Str s) {
            return s.value();
        }
        throw wrongType(key, "string", a);
    }

    /** An integer-list attribute, or {@code defaultValue} (may be null) when absent. */
    public long[] attrInts(String key, long[] defaultValue) {
        Attribute a = attributes.get(key);
        if (a == null) {
            return defaultValue == null ? null : defaultValue.clone();
        }
        if (a instanceof Attribute.Ints i) {
            return i.values();
        }
        throw wrongType(key, "ints", a);
    }

    /** The attribute with this name, or null. */
    public Attribute attr(String key) {
        return attributes.get(key);
    }

    private IllegalArgumentException wrongType(String key, String expected, Attribute actual) {
        return new IllegalArgumentException(label() + ": attribute '" + key + "' should be " + expected + " but is "
                + actual.getClass().getSimpleName() + " " + actual);
    }

    @Override
    public String toString() {
        return label() + " " + inputs + " -> " + outputs + (attributes.isEmpty() ? "" : " " + attributes);
    }
}
