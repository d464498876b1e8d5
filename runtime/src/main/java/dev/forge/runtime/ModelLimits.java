package dev.forge.runtime;

import java.util.Objects;

/**
 * Size limits a model must respect before it reaches ONNX Runtime, so that a hostile or broken model
 * cannot exhaust memory while it loads. {@link ModelValidator} enforces them; set them with {@link
 * ModelOptions.Builder#limits(ModelLimits)}. Immutable; build with {@link #builder()}.
 *
 * <table>
 *   <caption>The limits and their defaults</caption>
 *   <tr><th>limit</th><th>default</th><th>what it bounds</th></tr>
 *   <tr><td>{@link #maxModelBytes()}</td><td>1 GiB</td><td>the size of the {@code .onnx} file or byte
 *       array (ONNX Runtime's own ceiling is 2 GiB; larger weights belong in external data)</td></tr>
 *   <tr><td>{@link #maxTensorBytes()}</td><td>1 GiB</td><td>any one tensor: an initializer, a constant
 *       attribute, or a tensor whose size is fixed by constants in the model (the output of {@code
 *       ConstantOfShape}, {@code Expand}, {@code Tile}, {@code Range}, {@code Resize}, {@code OneHot},
 *       {@code RandomNormal}, {@code RandomUniform}), which ONNX Runtime would allocate while loading
 *       (constant folding) or on the first run</td></tr>
 *   <tr><td>{@link #maxTotalInitializerBytes()}</td><td>4 GiB</td><td>all initializers and constant
 *       attributes together, embedded or in external data files</td></tr>
 *   <tr><td>{@link #maxNodes()}</td><td>100,000</td><td>nodes in the graph, its subgraphs and its
 *       functions together, each subgraph counting as one more; also the initializers (at most as many),
 *       graph inputs and outputs (as many) and node inputs and outputs (16 times as many)</td></tr>
 * </table>
 *
 * <p>Raise a limit only for models from a source you trust; lower them in a service that loads many
 * models at once.
 */
public final class ModelLimits {
    /** 1 GiB. */
    private static final long GIB = 1L << 30;
    /** ONNX Runtime refuses serialized models of 2 GiB or more; one Java array holds a little less. */
    public static final long MODEL_BYTES_CEILING = Integer.MAX_VALUE - 8;

    private static final ModelLimits DEFAULTS = builder().build();

    private final long maxModelBytes;
    private final long maxTensorBytes;
    private final long maxTotalInitializerBytes;
    private final int maxNodes;

    private ModelLimits(Builder b) {
        this.maxModelBytes = b.maxModelBytes;
        this.maxTensorBytes = b.maxTensorBytes;
        this.maxTotalInitializerBytes = b.maxTotalInitializerBytes;
        this.maxNodes = b.maxNodes;
    }

    /**
     * 1 GiB model, 1 GiB per tensor, 4 GiB of initializers, 100,000 nodes.
     *
     * @return the default limits
     */
    public static ModelLimits defaults() {
        return DEFAULTS;
    }

    /**
     * A builder starting from the defaults.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder starting from these limits.
     *
     * @return a new builder
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxModelBytes = maxModelBytes;
        b.maxTensorBytes = maxTensorBytes;
        b.maxTotalInitializerBytes = maxTotalInitializerBytes;
        b.maxNodes = maxNodes;
        return b;
    }

    /**
     * The largest serialized model accepted, in bytes.
     *
     * @return the limit
     */
    public long maxModelBytes() {
        return maxModelBytes;
    }

    /**
     * The largest single tensor accepted, in bytes.
     *
     * @return the limit
     */
    public long maxTensorBytes() {
        return maxTensorBytes;
    }

    /**
     * The largest total of initializer and constant data accepted, in bytes.
     *
     * @return the limit
     */
    public long maxTotalInitializerBytes() {
        return maxTotalInitializerBytes;
    }

    /**
     * The largest number of nodes accepted, counting the nodes of subgraphs and functions, and each
     * subgraph as one. It also bounds what the validator keeps in memory: at most this many
     * initializers, this many graph inputs and outputs, and 16 times this many node inputs and outputs.
     *
     * @return the limit
     */
    public int maxNodes() {
        return maxNodes;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ModelLimits)) {
            return false;
        }
        ModelLimits m = (ModelLimits) o;
        return maxModelBytes == m.maxModelBytes
                && maxTensorBytes == m.maxTensorBytes
                && maxTotalInitializerBytes == m.maxTotalInitializerBytes
                && maxNodes == m.maxNodes;
    }

    @Override
    public int hashCode() {
        return Objects.hash(maxModelBytes, maxTensorBytes, maxTotalInitializerBytes, maxNodes);
    }

    @Override
    public String toString() {
        return "ModelLimits[maxModelBytes=" + maxModelBytes + ", maxTensorBytes=" + maxTensorBytes
                + ", maxTotalInitializerBytes=" + maxTotalInitializerBytes + ", maxNodes=" + maxNodes + "]";
    }

    /** Builds {@link ModelLimits}; every setter checks its argument. */
    public static final class Builder {
        private long maxModelBytes = GIB;
        private long maxTensorBytes = GIB;
        private long maxTotalInitializerBytes = 4 * GIB;
        private int maxNodes = 100_000;

        private Builder() {}

        /**
         * The largest serialized model (default 1 GiB).
         *
         * @param bytes 1 to {@link #MODEL_BYTES_CEILING}
         * @return this builder
         * @throws IllegalArgumentException if out of range
         */
        public Builder maxModelBytes(long bytes) {
            if (bytes < 1 || bytes > MODEL_BYTES_CEILING) {
                throw new IllegalArgumentException("maxModelBytes must be in [1, " + MODEL_BYTES_CEILING
                        + "] (ONNX Runtime cannot parse a serialized model of 2 GiB; keep larger weights in external data), got "
                        + bytes);
            }
            this.maxModelBytes = bytes;
            return this;
        }

        /**
         * The largest single tensor (default 1 GiB).
         *
         * @param bytes at least 1
         * @return this builder
         * @throws IllegalArgumentException if less than 1
         */
        public Builder maxTensorBytes(long bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("maxTensorBytes must be at least 1, got " + bytes);
            }
            this.maxTensorBytes = bytes;
            return this;
        }

        /**
         * The largest total of initializer and constant data (default 4 GiB).
         *
         * @param bytes at least 1
         * @return this builder
         * @throws IllegalArgumentException if less than 1
         */
        public Builder maxTotalInitializerBytes(long bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("maxTotalInitializerBytes must be at least 1, got " + bytes);
            }
            this.maxTotalInitializerBytes = bytes;
            return this;
        }

        /**
         * The largest number of nodes, counting subgraphs and functions (default 100,000).
         *
         * @param nodes at least 1
         * @return this builder
         * @throws IllegalArgumentException if less than 1
         */
        public Builder maxNodes(int nodes) {
            if (nodes < 1) {
                throw new IllegalArgumentException("maxNodes must be at least 1, got " + nodes);
            }
            this.maxNodes = nodes;
            return this;
        }

        /**
         * Builds the limits.
         *
         * @return the limits
         */
        public ModelLimits build() {
            return new ModelLimits(this);
        }
    }
}
