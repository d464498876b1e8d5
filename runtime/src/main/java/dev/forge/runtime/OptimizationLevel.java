package dev.forge.runtime;

import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;

/**
 * How much ONNX Runtime rewrites a graph before running it (its "graph optimization level").
 *
 * <ul>
 *   <li>{@link #NONE}: run the graph as written.
 *   <li>{@link #BASIC}: semantics-preserving rewrites that any provider can run (constant folding,
 *       redundant node removal, Conv+BatchNorm/Add/Mul fusion).
 *   <li>{@link #EXTENDED}: also fusions into ONNX Runtime's own contrib operators (GELU, attention,
 *       ...).
 *   <li>{@link #ALL}: also layout optimizations (NCHWc blocked convolution on CPU) tuned to this CPU's
 *       vector width — the fastest, and hardware-specific, which is why the optimized-model cache key
 *       includes the CPU.
 * </ul>
 */
public enum OptimizationLevel {
    /** No graph optimizations. */
    NONE(OptLevel.NO_OPT),
    /** Provider-independent rewrites. */
    BASIC(OptLevel.BASIC_OPT),
    /** Basic plus fusions into ONNX Runtime contrib ops. */
    EXTENDED(OptLevel.EXTENDED_OPT),
    /** Everything, including hardware-specific layout optimizations; the default. */
    ALL(OptLevel.ALL_OPT);

    private final OptLevel ortLevel;

    OptimizationLevel(OptLevel ortLevel) {
        this.ortLevel = ortLevel;
    }

    /**
     * The ONNX Runtime level this maps to.
     *
     * @return the ORT {@code OptLevel}
     */
    public OptLevel toOrt() {
        return ortLevel;
    }
}
