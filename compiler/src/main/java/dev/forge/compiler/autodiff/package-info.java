/**
 * Reverse-mode automatic differentiation that emits the backward pass as standard ONNX operators.
 *
 * <p>{@link dev.forge.compiler.autodiff.Autodiff} is the driver: it walks the graph backwards from the
 * loss, asks the rule of each operator in {@link dev.forge.compiler.autodiff.GradientRules} (one entry
 * per differentiable op) for the gradients of that node's inputs, sums gradients where a value has
 * several consumers, and emits only the gradients that lead to a requested value. The resulting graph
 * runs on any stock ONNX Runtime build, CPU or CUDA.
 */
package dev.forge.compiler.autodiff;
