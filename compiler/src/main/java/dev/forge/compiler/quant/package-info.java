/**
 * Quantization as compiler passes: post-training static INT8 in the QDQ format ({@code QuantizeLinear} /
 * {@code DequantizeLinear}, readable by any ONNX runtime) with activation ranges from calibration on real
 * data, dynamic INT8 for MatMul/Gemm-heavy models, FP16 conversion, and the report that says what each
 * of them cost in accuracy. {@code docs/QUANTIZATION.md} records the design and the measurements behind
 * its choices.
 */
package dev.forge.compiler.quant;
