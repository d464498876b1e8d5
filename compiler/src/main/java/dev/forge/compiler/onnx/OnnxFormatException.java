package dev.forge.compiler.onnx;

/** An ONNX model that cannot be read: malformed bytes, unsupported types, an inconsistent graph. */
public class OnnxFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Creates an exception with a complete message. */
    public OnnxFormatException(String message) {
        super(message);
    }

    /** Creates an exception with a complete message and a cause. */
    public OnnxFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
