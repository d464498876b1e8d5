/**
 * The Forge compiler: a graph IR for convolutional networks, a fluent builder with shape inference at
 * build time, and a reader and writer between the IR and standard ONNX models.
 *
 * <p>Sub-packages: {@code ir} (values, shapes, nodes, graphs), {@code ops} (one shape rule per ONNX
 * operator), {@code builder} (layer helpers with PyTorch-style initialization), {@code onnx} (ONNX
 * {@code ModelProto} reader and writer).
 */
package dev.forge.compiler;
