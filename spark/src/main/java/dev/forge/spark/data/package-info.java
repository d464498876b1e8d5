/**
 * Image data sets as Spark tables: the shared schema ({@code id long, image array<float>, label int}) that Forge's
 * Spark scoring and training read, and {@link dev.forge.spark.data.ImageTables}, which writes a Forge data set to
 * Parquet in it and reads it back.
 */
package dev.forge.spark.data;
