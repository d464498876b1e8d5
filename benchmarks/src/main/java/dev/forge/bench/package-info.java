/**
 * Benchmarks: JMH benchmarks of inference and training steps ({@link dev.forge.bench.InferenceBenchmark},
 * {@link dev.forge.bench.TrainingStepBenchmark}) and {@link dev.forge.bench.Compare}, the harness that
 * measures Forge and PyTorch alternately in one run and prints each figure's median and their ratio.
 */
package dev.forge.bench;
