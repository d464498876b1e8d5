/**
 * Reading and writing standard ONNX models: {@link dev.forge.compiler.onnx.OnnxReader} turns ONNX
 * bytes or a file into the Forge IR and {@link dev.forge.compiler.onnx.OnnxWriter} turns the IR back
 * into ONNX bytes or a file, written atomically; {@link dev.forge.compiler.onnx.OnnxTensorFile} stores
 * named tensors with text metadata (checkpoints). The protobuf classes in
 * {@code dev.forge.compiler.onnx.proto} are generated from Forge's own {@code onnx.proto}; they are an
 * implementation detail and appear in no public signature.
 */
package dev.forge.compiler.onnx;
