package dev.forge.compiler.ir;

import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
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
 *
 * <p>Name, producer and consumer look-ups are indexed (kept up to date by every mutating method), so building
 * a graph node by node, and asking who produces or reads a value, costs constant time per step.
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
    private final Map<String, IrType> types = new HashMap<>();
    private final LinkedHashMap<String, Long> opsets = new LinkedHashMap<>();
    private final LinkedHashMap<String, String> metadata = new LinkedHashMap<>();
    private final java.util.LinkedHashSet<String> parameters = new java.util.LinkedHashSet<>();

    // Indexes over inputs and nodes; initializers are their own index. Rebuilt by setNodes and copy, updated by
    // addInput, addNode and renameValue. Value -> first producing node; value -> reading nodes in graph order
    // (each once); node name -> first node of that name; node -> its position in nodes.
    private final Set<String> inputNames = new HashSet<>();
    private final Map<String, Node> producers = new HashMap<>();
    private final Map<String, List<Node>> consumers = new HashMap<>();
    private final Map<String, Node> nodesByName = new HashMap<>();
    private final Map<Node, Integer> positions = new IdentityHashMap<>();

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
        inputNames.add(input.name());
        types.put(input.name(), input.irType());
    }

    /** Declares an existing value a graph output. */
    public void addOutput(ValueInfo output) {
        outputs.add(output);
        types.putIfAbsent(output.name(), output.irType());
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
        // only the producer and the consumers of `from` change, in place; their index entries are redone
        java.util.TreeSet<Integer> touched = new java.util.TreeSet<>();
        Node producer = producers.get(from);
        if (producer != null) {
            touched.add(positions.get(producer));
        }
        for (Node n : consumers.getOrDefault(from, List.of())) {
            touched.add(positions.get(n));
        }
        List<Node> renamedNodes = new ArrayList<>();
        for (int i : touched) {
            Node n = nodes.get(i);
            if (n.inputs().contains(from) || n.outputs().contains(from)) {
                Node renamed = new Node(
                        n.opType(),
                        n.name(),
                        n.domain(),
                        replace(n.inputs(), from, to),
                        replace(n.outputs(), from, to),
                        n.attributes());
                nodes.set(i, renamed);
                unindex(n);
                positions.put(renamed, i);
                renamedNodes.add(renamed);
            }
        }
        // re-index in graph order so that consumer lists and first producers keep the order of nodes
        renamedNodes.forEach(this::indexReplaced);
        for (int i = 0; i < inputs.size(); i++) {
            if (inputs.get(i).name().equals(from)) {
                inputs.set(i, new ValueInfo(to, inputs.get(i).irType()));
                inputNames.remove(from);
                inputNames.add(to);
            }
        }
        for (int i = 0; i < outputs.size(); i++) {
            if (outputs.get(i).name().equals(from)) {
                outputs.set(i, new ValueInfo(to, outputs.get(i).irType()));
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
        IrType t = types.remove(from);
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
        positions.put(node, nodes.size() - 1);
        index(node);
    }

    /** Replaces every node (used by passes that rewrite the graph); types are kept. */
    public void setNodes(List<Node> newNodes) {
        nodes.clear();
        nodes.addAll(newNodes);
        reindexNodes();
    }

    private void reindexNodes() {
        producers.clear();
        consumers.clear();
        nodesByName.clear();
        positions.clear();
        for (int i = 0; i < nodes.size(); i++) {
            positions.put(nodes.get(i), i);
            index(nodes.get(i));
        }
    }

    /** Adds a node appended at the end of the graph to the producer, consumer and name indexes. */
    private void index(Node node) {
        nodesByName.putIfAbsent(node.name(), node);
        for (String out : node.outputs()) {
            if (!out.isEmpty()) {
                producers.putIfAbsent(out, node);
            }
        }
        for (String in : distinct(node.inputs())) {
            consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(node);
        }
    }

    /** Drops a node that is being replaced from the indexes. */
    private void unindex(Node node) {
        positions.remove(node);
        nodesByName.remove(node.name(), node);
        for (String out : node.outputs()) {
            producers.remove(out, node);
        }
        for (String in : distinct(node.inputs())) {
            List<Node> readers = consumers.get(in);
            if (readers != null) {
                readers.removeIf(r -> r == node);
                if (readers.isEmpty()) {
                    consumers.remove(in);
                }
            }
        }
    }

    /** Indexes a node that replaced another at the same position, keeping every index in graph order. */
    private void indexReplaced(Node node) {
        int at = positions.get(node);
        Node byName = nodesByName.get(node.name());
        if (byName == null || positions.get(byName) > at) {
            nodesByName.put(node.name(), node);
        }
        for (String out : node.outputs()) {
            Node first = out.isEmpty() ? node : producers.get(out);
            if (!out.isEmpty() && (first == null || positions.get(first) > at)) {
                producers.put(out, node);
            }
        }
        for (String in : distinct(node.inputs())) {
            List<Node> readers = consumers.computeIfAbsent(in, k -> new ArrayList<>());
            int k = readers.size();
            while (k > 0 && positions.get(readers.get(k - 1)) > at) {
                k--;
            }
            readers.add(k, node);
        }
    }

    private static List<String> distinct(List<String> names) {
        if (names.size() <= 1) {
            return names;
        }
        return new ArrayList<>(new java.util.LinkedHashSet<>(names));
    }

    /** Records or overrides the type of a value. */
    public void setType(String valueName, ValueType type) {
        if (type == null) {
            types.remove(valueName);
        } else {
            types.put(valueName, type);
        }
    }

    /**
     * Records or overrides the type of a value, which may be a sequence or an optional (see {@link IrType}).
     */
    public void setIrType(String valueName, IrType type) {
        if (type == null) {
            types.remove(valueName);
        } else {
            types.put(valueName, type);
        }
    }

    /**
     * The tensor type of a value, or null when unknown or when the value is not a tensor (a sequence or an
     * optional, see {@link #irType(String)}): code that works on tensors sees such a value as untyped.
     */
    public ValueType type(String valueName) {
        return types.get(valueName) instanceof ValueType t ? t : null;
    }

    /** The type of a value (a tensor, a sequence or an optional), or null when unknown. */
    public IrType irType(String valueName) {
        return types.get(valueName);
    }

    /** True if the name is a graph input, an initializer or a node output. */
    public boolean hasValue(String valueName) {
        return initializers.containsKey(valueName)
                || inputNames.contains(valueName)
                || producers.containsKey(valueName);
    }

    /** The node producing a value, or null for inputs, initializers and unknown names. */
    public Node producer(String valueName) {
        return producers.get(valueName);
    }

    /** Every node that reads a value, in graph order. */
    public List<Node> consumers(String valueName) {
        return new ArrayList<>(consumers.getOrDefault(valueName, List.of()));
    }

    /** The node with the given name, or null. */
    public Node node(String nodeName) {
        return nodesByName.get(nodeName);
    }

    /**
     * All value names in use (inputs, initializers, node outputs): a new set, built in time linear in the graph;
     * to test one name use {@link #hasValue(String)}.
     */
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
        g.inputNames.addAll(inputNames);
        g.reindexNodes();
        return g;
    }

    private void requireNewName(String valueName, String what) {
        if (valueName == null || valueName.isEmpty()) {
            throw new IllegalArgumentException(what + " needs a non-empty name");
        }
        if (hasValue(valueName)) {
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
