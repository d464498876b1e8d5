/**
 * Forge on Apache Spark: data-parallel training of a Forge model on a Spark {@code Dataset} and batch scoring
 * of any ONNX model as a Spark ML {@code Transformer}. Spark is a {@code provided} dependency: the cluster
 * supplies it, and local mode takes it from the Maven repository.
 */
package dev.forge.spark;
