package dev.forge.compiler.quant;

import dev.forge.runtime.DType;

/** The 8-bit integer types a tensor is quantized to, with the ranges of their stored values. */
public enum QuantType {
    /** Signed, stored values -128..127; weights use it symmetrically (zero point 0). */
    INT8(DType.INT8, -128, 127),
    /** Unsigned, stored values 0..255. */
    UINT8(DType.UINT8, 0, 255);

    private final DType dtype;
    private final int qmin;
    private final int qmax;

    QuantType(DType dtype, int qmin, int qmax) {
        this.dtype = dtype;
        this.qmin = qmin;
        this.qmax = qmax;
    }

    /**
     * The element type of the quantized tensor.
     *
     * @return {@link DType#INT8} or {@link DType#UINT8}
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * The smallest stored value.
     *
     * @return -128 or 0
     */
    public int qmin() {
        return qmin;
    }

    /**
     * The largest stored value.
     *
     * @return 127 or 255
     */
    public int qmax() {
        return qmax;
    }
}
