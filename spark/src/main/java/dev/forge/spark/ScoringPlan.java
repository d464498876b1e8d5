package dev.forge.spark;

import java.io.Serializable;
import org.apache.spark.sql.types.DataType;

/**
 * What a scoring task needs besides the model bytes, decided on the driver from the DataFrame's schema, the
 * transformer's parameters and the model's signature: small, so it travels in every task's closure.
 *
 * @param name the transformer, for messages ({@code ForgeModelTransformer(uid)})
 * @param modelHash the SHA-256 of the model bytes, the executor cache key
 * @param intraOpThreads ONNX Runtime intra-op threads of the executor's session
 * @param inputCol the input column's name
 * @param inputIndex its position in the row
 * @param inputKind how its values become the model input
 * @param idIndex the id column's position, or -1 (rows are then named by their position in the partition)
 * @param idType the id column's type (null without one)
 * @param inputShape the model input's shape, batch axis first (free dimensions -1)
 * @param sampleSize the number of floats of one row (the input shape without its batch axis)
 * @param batchSize rows per model run
 * @param output the prediction column's form
 * @param k how many classes {@code topk} keeps
 * @param classes the number of classes (the first output's second axis), or -1 when it is not fixed
 * @param errorColumn whether malformed rows go to the error column instead of failing the task
 * @param rejectNonFinite whether a NaN or infinite input value makes the row malformed
 * @param elementsNullable whether the input array's type admits null elements ({@code containsNull}): when it
 *     does not, the per-value null check is skipped
 * @param keptColumns the input columns the output keeps, in order, or null for all of them (the input row is
 *     then emitted as it is, with the prediction appended)
 * @param keptTypes the types of {@code keptColumns} (null with it)
 */
record ScoringPlan(
        String name,
        String modelHash,
        int intraOpThreads,
        String inputCol,
        int inputIndex,
        InputKind inputKind,
        int idIndex,
        DataType idType,
        long[] inputShape,
        int sampleSize,
        int batchSize,
        Output output,
        int k,
        int classes,
        boolean errorColumn,
        boolean rejectNonFinite,
        boolean elementsNullable,
        int[] keptColumns,
        DataType[] keptTypes)
        implements Serializable {

    /** How the input column's values become the model's input. */
    enum InputKind {
        /** {@code array<float>}: the sample's values as they are. */
        FLOAT_ARRAY,
        /** {@code array<double>}: each value rounded to float32. */
        DOUBLE_ARRAY,
        /** {@code binary}: an encoded PNG or JPEG, prepared by the model's image preprocessing. */
        IMAGE_BYTES
    }

    /** The prediction column's form. */
    enum Output {
        /** The top-1 class index, {@code int}. */
        LABEL,
        /** Every class's probability (softmax of logits, as {@code Model.topK}), {@code array<float>}. */
        PROBABILITIES,
        /** The k most likely classes, {@code array<struct<index:int,label:string,probability:float>>}. */
        TOPK,
        /** The model's first output as it is ({@code Model.run}), flattened, {@code array<float>}. */
        SCORES
    }
}
