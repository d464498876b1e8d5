/**
 * Reading and writing standard ONNX models: {@link dev.forge.compiler.onnx.OnnxReader} turns a
 * {@code ModelProto} into the Forge IR and {@link dev.forge.compiler.onnx.OnnxWriter} turns the IR
 * back into a {@code ModelProto}, written atomically. The protobuf classes in
 * {@code dev.forge.compiler.onnx.proto} are generated from Forge's own {@code onnx.proto}.
 */
package dev.forge.compiler.onnx;
