/**
 * Reverse-mode automatic differentiation that emits the backward pass as standard ONNX operators.
 *
 * <p>{@link dev.forge.compiler.autodiff.Autodiff} is the driver: it walks the graph backwards from the
 * loss, asks each operator's gradient rule (held by its definition in
 * {@link dev.forge.compiler.ops.Ops}, next to its shape rule and attribute schema) for the gradients of
 * that node's inputs, sums gradients where a value has several consumers, and emits only the gradients
 * that lead to a requested value. {@link dev.forge.compiler.autodiff.GradContext} is what a rule sees and
 * {@link dev.forge.compiler.autodiff.Emitter} writes the backward nodes. The resulting graph runs on any
 * stock ONNX Runtime build, CPU or CUDA.
 */
package dev.forge.compiler.autodiff;
