/**
 * Data-parallel training of a Forge model on Apache Spark by parameter averaging (local SGD): every round the
 * driver broadcasts the trainer's state, each partition trains its shard for {@code k} steps on its own cached
 * {@link dev.forge.compiler.train.Trainer}, and the states are averaged with {@code treeAggregate}.
 * {@link dev.forge.spark.train.SparkTrainer} is the entry point, {@link dev.forge.spark.train.TrainParquet} the
 * {@code spark-submit} job.
 */
package dev.forge.spark.train;
