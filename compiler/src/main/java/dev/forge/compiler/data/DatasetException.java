package dev.forge.compiler.data;

/**
 * A data source is missing, cannot be fetched, or is malformed: a file that does not exist, an {@code
 * npm} download that failed, an IDX file with a wrong magic number, a truncated CIFAR-10 batch, a
 * corrupt image, labels that do not match the inputs.
 *
 * <p>The message names the file (or the command), says what is wrong — expected versus actual — and
 * what to do about it.
 */
public class DatasetException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with a message.
     *
     * @param message what is wrong, naming the file
     */
    public DatasetException(String message) {
        super(message);
    }

    /**
     * An exception with a message and the underlying cause.
     *
     * @param message what is wrong, naming the file
     * @param cause the I/O or decoding error behind it
     */
    public DatasetException(String message, Throwable cause) {
        super(message, cause);
    }
}
