package dev.forge.spark;

/**
 * A row that cannot be scored: a null input, an array of the wrong length, a non-finite value, bytes that are not
 * an image. Thrown inside the task (which Spark then reports as the job's failure, message included) unless the
 * transformer routes such rows to its error column.
 */
public final class MalformedRowException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String rowId;

    /**
     * @param rowId the row's id (its id column's value, or its position in the partition)
     * @param message what is wrong with it, naming the row
     */
    public MalformedRowException(String rowId, String message) {
        super(message);
        this.rowId = rowId;
    }

    /** The id of the row, as it appears in the message. */
    public String rowId() {
        return rowId;
    }
}
