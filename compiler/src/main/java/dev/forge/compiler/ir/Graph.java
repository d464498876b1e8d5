package dev.forge.compiler.ir;

import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A model: a computation graph (inputs, nodes in topological order, outputs, initializers) plus what
 * ONNX keeps at model level (opset imports, producer, metadata). Mutable while it is being built or
 * transformed; {@link #copy()} gives an independent graph.
 *
 * <p>Every value that is a graph input, an initializer or a node output has a name unique in the graph;
 * {@link #type(String)} gives its inferred type.
 */
public final class Graph {
    /** The ONNX opset Forge writes by default. */
    public static final int DEFAULT_OPSET = 17;

    private String name;
    private String docString = "";
    private String producerName = "forge";
    private String producerVersion = "";
    private long modelVersion;
    private long irVersion = 8;
    private final List<ValueInfo> inputs = new ArrayList<>();
    private final List<ValueInfo> outputs = new ArrayList<>();
    private final List<Node> nodes = new ArrayList<>();
    private final LinkedHashMap<String, Tensor> initializers = new LinkedHashMap<>();
    private final Map<String, ValueType> types = new HashMap<>();
    private final LinkedHashMap<String, Long> opsets = new LinkedHashMap<>();
    private final LinkedHashMap<String, String> metadata = new LinkedHashMap<>();
    private final java.util.LinkedHashSet<String> parameters = new java.util.LinkedHashSet<>();

    /** An empty graph with the given name, importing the default ONNX opset. */
    public Graph(String name) {
        this.name = name;
        opsets.put("", (long) DEFAULT_OPSET);
    }

    public String name() {
        return name;
    }

    public void setName(String name) {
        this.name = name;
    }

    public String docString() {
        return docString;
    }

    public void setDocString(String docString) {
        this.docString = docString == null ? "" : docString;
    }

    public String producerName() {
        return producerName;
    }

    public void setProducerName(String producerName) {
        this.producerName = producerName == null ? "" : producerName;
    }

    public String producerVersion() {
        return producerVersion;
    }

    public void setProducerVersion(String producerVersion) {
        this.producerVersion = producerVersion == null ? "" : producerVersion;
    }

    public long modelVersion() {
        return modelVersion;
    }

    public void setModelVersion(long modelVersion) {
        this.modelVersion = modelVersion;
    }

    public long irVersion() {
        return irVersion;
    }

    public void setIrVersion(long irVersion) {
        this.irVersion = irVersion;
    }

    /** Opset imports, domain to version ({@code ""} is the default ONNX domain). */
    public Map<String, Long> opsets() {
        return opsets;
    }

    /** The version of the default ONNX opset this graph uses. */
    public int opset() {
        Long v = opsets.get("");
        if (v == null) {
            v = opsets.get("ai.onnx");
        }
        return v == null ? DEFAULT_OPSET : v.intValue();
    }

    /** Model metadata ({@code metadata_props}), in insertion order. */
    public Map<String, String> metadata() {
        return metadata;
    }

    public List<ValueInfo> inputs() {
        return Collections.unmodifiableList(inputs);
    }

    public List<ValueInfo> outputs() {
        return Collections.unmodifiableList(outputs);
    }

    public List<Node> nodes() {
        return Collections.unmodifiableList(nodes);
    }

    public Map<String, Tensor> initializers() {
        return Collections.unmodifiableMap(initializers);
    }

    /** Adds a graph input and records its type. */
    public void addInput(ValueInfo input) {
        requireNewName(input.name(), "input");
        inputs.add(input);
        types.put(input.name(), input.type());
    }

    /** Declares an existing value a graph output. */
    public void addOutput(ValueInfo output) {
        outputs.add(output);
        types.putIfAbsent(output.name(), output.type());
    }

    /** Removes every graph output. */
    public void clearOutputs() {
        outputs.clear();
    }

    /** Adds a constant tensor (weights, running statistics, shape constants). */
    public void addInitializer(String valueName, Tensor value) {
        requireNewName(valueName, "initializer");
        initializers.put(valueName, value);
        types.put(valueName, new ValueType(value.dtype(), Shape.fixed(value.shape())));
    }

    /** Replaces the data of an existing initializer; the shape and dtype must not change. */
    public void replaceInitializer(String valueName, Tensor value) {
        Tensor old = initializers.get(valueName);
        if (old == null) {
            throw new IllegalArgumentException("no initializer named '" + valueName + "'");
        }
        if (old.dtype() != value.dtype() || !java.util.Arrays.equals(old.shape(), value.shape())) {
            throw new IllegalArgumentException(
                    "initializer '" + valueName + "' is " + old.dtype() + Shape.format(old.shape())
                            + "; the replacement is " + value.dtype() + Shape.format(value.shape()));
        }
        initializers.put(valueName, value);
    }

    /**
     * Marks an initializer as a trainable parameter (weights and biases, not running statistics or shape
     * constants).
     */
    public void markParameter(String valueName) {
        if (!initializers.containsKey(valueName)) {
            throw new IllegalArgumentException("no initializer named '" + valueName + "' to mark as a parameter");
        }
        parameters.add(valueName);
    }

    /** Makes a parameter a constant again: it stays an initializer but is no longer trained (fine-tuning freezes). */
    public void unmarkParameter(String valueName) {
        if (!parameters.remove(valueName)) {
            throw new IllegalArgumentException(
                    "'" + valueName + "' is not a trainable parameter of graph '" + name + "'");
        }
    }

    /** The names of the trainable parameters, in creation order. */
    public Set<String> parameters() {
        return Collections.unmodifiableSet(parameters);
    }

    /**
     * Renames a value everywhere: its producer's output (or the input or initializer), every consumer,
     * and the graph outputs.
     */
    public void renameValue(String from, String to) {
        if (from.equals(to)) {
            return;
        }
        requireNewName(to, "renamed value");
        for (int i = 0; i < nodes.size(); i++) {
            Node n = nodes.get(i);
            if (n.inputs().contains(from) || n.outputs().contains(from)) {
                nodes.set(
                        i,
                        new Node(
                                n.opType(),
                                n.name(),
                                n.domain(),
                                replace(n.inputs(), from, to),
                                replace(n.outputs(), from, to),
                                n.attributes()));
            }
        }
        for (int i = 0; i < inputs.size(); i++) {
            if (inputs.get(i).name().equals(from)) {
                inputs.set(i, new ValueInfo(to, inputs.get(i).type()));
            }
        }
        for (int i = 0; i < outputs.size(); i++) {
            if (outputs.get(i).name().equals(from)) {
                outputs.set(i, new ValueInfo(to, outputs.get(i).type()));
            }
        }
        if (initializers.containsKey(from)) {
            LinkedHashMap<String, Tensor> copy = new LinkedHashMap<>();
            initializers.forEach((k, v) -> copy.put(k.equals(from) ? to : k, v));
            initializers.clear();
            initializers.putAll(copy);
            if (parameters.remove(from)) {
                parameters.add(to);
            }
        }
        ValueType t = types.remove(from);
        if (t != null) {
            types.put(to, t);
        }
    }

    private static List<String> replace(List<String> names, String from, String to) {
        List<String> out = new ArrayList<>(names.size());
        for (String n : names) {
            out.add(n.equals(from) ? to : n);
        }
        return out;
    }

    /** Removes an initializer (and its type, unless a node produces the same name). */
    public void removeInitializer(String valueName) {
        initializers.remove(valueName);
        parameters.remove(valueName);
        types.remove(valueName);
    }

    /** Appends a node; its inputs must already exist, and its output names must be new. */
    public void addNode(Node node, List<ValueType> outputTypes) {
        for (String in : node.inputs()) {
            if (!in.isEmpty() && !types.containsKey(in) && !hasValue(in)) {
                throw new IllegalArgumentException(
                        node.label() + ": input '" + in + "' is not defined before this node");
            }
        }
        for (int i = 0; i < node.outputs().size(); i++) {
            String out = node.outputs().get(i);
            if (out.isEmpty()) {
                continue;
            }
            requireNewName(out, "output of " + node.label());
            ValueType t = outputTypes == null || i >= outputTypes.size() ? null : outputTypes.get(i);
            if (t != null) {
                types.put(out, t);
            }
        }
        nodes.add(node);
    }

    /** Replaces every node (used by passes that rewrite the graph); types are kept. */
    public void setNodes(List<Node> newNodes) {
        nodes.clear();
        nodes.addAll(newNodes);
    }

    /** Records or overrides the type of a value. */
    public void setType(String valueName, ValueType type) {
        if (type == null) {
            types.remove(valueName);
        } else {
            types.put(valueName, type);
        }
    }

    /** The type of a value, or null when unknown. */
    public ValueType type(String valueName) {
        return types.get(valueName);
    }

    /** True if the name is a graph input, an initializer or a node output. */
    public boolean hasValue(String valueName) {
        if (initializers.containsKey(valueName)) {
            return true;
        }
        for (ValueInfo in : inputs) {
            if (in.name().equals(valueName)) {
                return true;
            }
        }
        return producer(valueName) != null;
    }

    /** The node producing a value, or null for inputs, initializers and unknown names. */
    public Node producer(String valueName) {
        for (Node n : nodes) {
            if (n.outputs().contains(valueName)) {
                return n;
            }
        }
        return null;
    }

    /** Every node that reads a value, in graph order. */
    public List<Node> consumers(String valueName) {
        List<Node> out = new ArrayList<>();
        for (Node n : nodes) {
            if (n.inputs().contains(valueName)) {
                out.add(n);
            }
        }
        return out;
    }

    /** The node with the given name, or null. */
    public Node node(String nodeName) {
        for (Node n : nodes) {
            if (n.name().equals(nodeName)) {
                return n;
            }
        }
        return null;
    }

    /** All value names in use (inputs, initializers, node outputs). */
    public Set<String> valueNames() {
        Set<String> names = new HashSet<>(initializers.keySet());
        inputs.forEach(i -> names.add(i.name()));
        for (Node n : nodes) {
            names.addAll(n.outputs());
        }
        names.remove("");
        return names;
    }

    /** An independent copy (tensors are immutable and shared). */
    public Graph copy() {
        Graph g = new Graph(name);
        g.docString = docString;
        g.producerName = producerName;
        g.producerVersion = producerVersion;
        g.modelVersion = modelVersion;
        g.irVersion = irVersion;
        g.inputs.addAll(inputs);
        g.outputs.addAll(outputs);
        g.nodes.addAll(nodes);
        g.initializers.putAll(initializers);
        g.types.putAll(types);
        g.opsets.clear();
        g.opsets.putAll(opsets);
        g.metadata.putAll(metadata);
        g.parameters.addAll(parameters);
        return g;
    }

    private void requireNewName(String valueName, String what) {
        if (valueName == null || valueName.isEmpty()) {
            throw new IllegalArgumentException(what + " needs a non-empty name");
        }
        if (initializers.containsKey(valueName)
                || inputs.stream().anyMatch(i -> i.name().equals(valueName))
                || nodes.stream().anyMatch(n -> n.outputs().contains(valueName))) {
            throw new IllegalArgumentException(
                    "value name '" + valueName + "' (" + what + ") is already used in graph '" + name + "'");
        }
    }

    @Override
    public String toString() {
        return "Graph(" + name + ": " + inputs + " -> " + outputs + ", " + nodes.size() + " nodes, "
                + initializers.size() + " initializers)";
    }
}
