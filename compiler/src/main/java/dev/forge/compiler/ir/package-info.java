/**
 * The graph IR: typed {@link dev.forge.compiler.ir.Value values} with {@link dev.forge.compiler.ir.Shape
 * shapes} that may carry a symbolic batch dimension, {@link dev.forge.compiler.ir.Node nodes} with typed
 * {@link dev.forge.compiler.ir.Attribute attributes}, and the {@link dev.forge.compiler.ir.Graph graph}
 * that owns them together with its initializers and model-level metadata.
 *
 * <p>The IR mirrors ONNX closely (same operator names, attribute names and input order) so reading and
 * writing ONNX is a direct translation, and constant tensors are {@link dev.forge.runtime.Tensor runtime
 * tensors} so the same data moves between stages without conversion.
 */
package dev.forge.compiler.ir;
