/**
 * The {@code forge} command line ({@link dev.forge.cli.Forge}): {@code inspect} prints a network as
 * PyTorch's {@code print(net)} does plus a layer table and parameter totals, {@code export} writes a
 * built-in network as ONNX, {@code run} runs a model on {@code .npy} inputs and writes {@code .npy}
 * outputs, {@code bench} measures latency percentiles and throughput per batch size. Every user error
 * ends the command with one line {@code forge: error: ...} and exit code 1.
 */
package dev.forge.cli;
