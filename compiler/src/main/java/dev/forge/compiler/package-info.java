/**
 * The Forge compiler: a graph IR for convolutional networks, a fluent builder with shape inference at
 * build time, ONNX import and export, reverse-mode autodiff emitted as standard ONNX operators, and
 * training on ONNX Runtime.
 *
 * <p>Sub-packages: {@code ir} (values, shapes, nodes, graphs), {@code ops} (the operator registry: one
 * definition per ONNX operator with its attribute schema, shape rule and gradient rule), {@code builder}
 * (layer helpers with PyTorch-style initialization), {@code onnx} (ONNX model reader and writer),
 * {@code autodiff} (the reverse-mode driver and the emitter its rules write with), {@code passes} (the
 * training and export pipelines of named passes), {@code train} (losses, optimizers, the trainer, the
 * fluent training API, checkpoints, export), {@code data} (data sets and the mini-batch loader).
 */
package dev.forge.compiler;
