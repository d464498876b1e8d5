package dev.forge.runtime;

import java.nio.charset.StandardCharsets;

/**
 * A bounded reader of the protobuf wire format over the bytes of one model, with the place in the
 * model for messages. Every message is read with the same loop:
 *
 * <pre>{@code
 * while (next(end)) {
 *     switch (field) {
 *         case ModelProto.IR_VERSION -> ir = uint64("ModelProto", "ir_version");
 *         case ModelProto.GRAPH -> { int stop = message("ModelProto", "graph"); ... }
 *         default -> skipField();
 *     }
 * }
 * }</pre>
 *
 * {@link #next} reads a tag and sets {@link #field} and {@link #wireType}; the typed readers ({@link
 * #uint64}, {@link #string}, {@link #message}, {@link #skipBytes}, {@link #countScalars}) check the wire
 * type the field must have and read its value, and {@link #skipField} passes over a field not needed.
 * They are valid until the next {@code next} (a nested message's loop moves them on). Every length is
 * compared with the bytes that are really there before it is used; nothing is allocated according to a
 * size the model declares. Strings stay handles: the offset of their length prefix in the bytes.
 */
class WireReader {
    /** Wire types that ONNX uses; 3 and 4 (groups), 6 and 7 are refused. */
    static final int VARINT = 0;

    static final int I64 = 1;
    static final int LEN = 2;
    static final int I32 = 5;

    /** A reason to refuse; the message already says which kind (malformed, unsupported, refused). */
    static final class Problem extends Exception {
        private static final long serialVersionUID = 1L;

        Problem(String message) {
            super(message, null, false, false);
        }
    }

    final byte[] b;
    int pos;
    /** The field {@link #next} read: its number and wire type, and the end of its message. */
    int field;

    int wireType;
    private int end;

    /** Where we are, for messages: labels and indexes, innermost last. */
    private final String[] whereLabel = new String[512];

    private final int[] whereIndex = new int[512];
    private int whereDepth;

    WireReader(byte[] b) {
        this.b = b;
    }

    // ------------------------------------------------------------ problems and the place they are at

    Problem malformed(String what) {
        return new Problem("not a valid ONNX model: " + what + where());
    }

    Problem refused(String what) {
        return new Problem("refused: " + what + where());
    }

    String where() {
        if (whereDepth == 0) {
            return "";
        }
        StringBuilder sb = new StringBuilder(" (in ");
        for (int i = 0; i < whereDepth; i++) {
            if (i > 0) {
                sb.append(" > ");
            }
            sb.append(whereLabel[i]);
            if (whereIndex[i] >= 0) {
                sb.append(" #").append(whereIndex[i]);
            }
        }
        return sb.append(')').toString();
    }

    void enter(String label, int index) throws Problem {
        if (whereDepth == whereLabel.length) {
            throw malformed("messages nested more than " + whereLabel.length + " deep");
        }
        whereLabel[whereDepth] = label;
        whereIndex[whereDepth] = index;
        whereDepth++;
    }

    void leave() {
        whereDepth--;
    }

    // ------------------------------------------------------------ the loop

    /**
     * Reads the next field's tag of the message that ends at {@code end}; false when the message is done.
     */
    final boolean next(int end) throws Problem {
        if (pos >= end) {
            return false;
        }
        int at = pos;
        long tag = varint(end);
        long number = tag >>> 3;
        if (number == 0 || number > 536_870_911L) {
            throw malformed("corrupt: invalid field number " + number + " at byte " + at);
        }
        this.field = (int) number;
        this.wireType = (int) (tag & 7);
        this.end = end;
        return true;
    }

    /** Passes over the current field, whatever it holds (refusing wire types ONNX does not use). */
    final void skipField() throws Problem {
        skip(wireType, end, field);
    }

    /** The current field as a varint. */
    final long uint64(String message, String name) throws Problem {
        expect(VARINT, message, name);
        return varint(end);
    }

    /** The current field as a fixed32 float. */
    final float float32(String message, String name) throws Problem {
        expect(I32, message, name);
        need(4, end, field);
        return Float.intBitsToFloat(le32(pos - 4));
    }

    /** The current field as a string: checks it and returns its handle (the offset of its length prefix). */
    final int string(String message, String name) throws Problem {
        expect(LEN, message, name);
        int handle = pos;
        pos = lengthEnd(end, field);
        return handle;
    }

    /** The current field as an embedded message: returns where it ends; its fields are read next. */
    final int message(String message, String name) throws Problem {
        expect(LEN, message, name);
        return lengthEnd(end, field);
    }

    /** Passes over a length-delimited field this reader does not look into, checking its wire type. */
    final void skipBytes(String message, String name) throws Problem {
        expect(LEN, message, name);
        pos = lengthEnd(end, field);
    }

    /** Counts the values of a repeated scalar field, packed (wire type 2) or not. */
    final long countScalars(int fixedBytes) throws Problem {
        if (wireType == LEN) {
            int stop = lengthEnd(end, field);
            int len = stop - pos;
            if (fixedBytes > 0) {
                if (len % fixedBytes != 0) {
                    throw malformed("corrupt: packed field " + field + " has " + len + " bytes, not a multiple of "
                            + fixedBytes);
                }
                pos = stop;
                return len / fixedBytes;
            }
            // count the numbers, holding each to what varint() accepts: at most 10 bytes and 64 bits
            long count = 0;
            int run = 0;
            for (int i = pos; i < stop; i++) {
                int x = b[i] & 0xff;
                if ((x & 0x80) == 0) {
                    if (run == 9 && x > 1) {
                        throw malformed(
                                "corrupt: a number over 64 bits at byte " + (i - 9) + " in packed field " + field);
                    }
                    count++;
                    run = 0;
                } else if (++run == 10) {
                    throw malformed(
                            "corrupt: a number longer than 10 bytes at byte " + (i - 9) + " in packed field " + field);
                }
            }
            if (len > 0 && (b[stop - 1] & 0x80) != 0) {
                throw malformed("truncated: packed field " + field + " ends inside a number");
            }
            pos = stop;
            return count;
        }
        int wanted = fixedBytes == 4 ? I32 : fixedBytes == 8 ? I64 : VARINT;
        if (wireType != wanted) {
            throw malformed("corrupt: repeated field " + field + " has wire type " + wireType + ", expected " + wanted
                    + " or 2");
        }
        skip(wireType, end, field);
        return 1;
    }

    /**
     * Decodes the current occurrence of a repeated scalar field (already checked by {@link #countScalars})
     * into {@code dst} from index {@code n}, as far as it has room; returns the new count.
     */
    final int decodeScalars(int fixedBytes, double[] dst, int n) throws Problem {
        if (wireType == LEN) {
            int stop = lengthEnd(end, field);
            while (pos < stop && n < dst.length) {
                dst[n++] = scalar(fixedBytes, stop);
            }
            pos = stop;
            return n;
        }
        if (n >= dst.length) {
            skip(wireType, end, field);
            return n;
        }
        dst[n++] = scalar(fixedBytes, end);
        return n;
    }

    private double scalar(int fixedBytes, int stop) throws Problem {
        if (fixedBytes == 4) {
            double v = Float.intBitsToFloat(le32(pos));
            pos += 4;
            return v;
        }
        if (fixedBytes == 8) {
            double v = Double.longBitsToDouble(le64(pos));
            pos += 8;
            return v;
        }
        return varint(stop);
    }

    private void expect(int wanted, String message, String name) throws Problem {
        if (wireType != wanted) {
            throw malformed("corrupt: " + message + " field " + field + " (" + name + ") has wire type " + wireType
                    + ", expected " + wanted);
        }
    }

    // ------------------------------------------------------------ primitives

    final long varint(int end) throws Problem {
        long value = 0;
        for (int i = 0; i < 10; i++) {
            if (pos >= end) {
                throw malformed("truncated: a number runs past the end of its message at byte " + pos);
            }
            int x = b[pos++] & 0xff;
            value |= (long) (x & 0x7f) << (7 * i);
            if ((x & 0x80) == 0) {
                if (i == 9 && x > 1) {
                    // the 10th byte holds bit 63 only; more would be a number over 64 bits, which protobuf drops
                    throw malformed("corrupt: a number over 64 bits at byte " + (pos - 10));
                }
                return value;
            }
        }
        throw malformed("corrupt: a number longer than 10 bytes at byte " + (pos - 10));
    }

    /** Reads the length of a length-delimited field and returns the end of its payload. */
    final int lengthEnd(int end, long field) throws Problem {
        int at = pos;
        long n = varint(end);
        if (n < 0 || n > end - pos) {
            throw malformed("truncated: field " + field + " at byte " + at + " declares "
                    + (n < 0 ? "a negative length" : n + " bytes") + " but only " + (end - pos)
                    + " remain in its message");
        }
        return pos + (int) n;
    }

    final void skip(int wireType, int end, long field) throws Problem {
        switch (wireType) {
            case VARINT:
                varint(end);
                break;
            case I64:
                need(8, end, field);
                break;
            case LEN:
                pos = lengthEnd(end, field);
                break;
            case I32:
                need(4, end, field);
                break;
            default:
                throw malformed("corrupt: wire type " + wireType + " of field " + field + " at byte " + pos
                        + " is not used by ONNX");
        }
    }

    final void need(int n, int end, long field) throws Problem {
        if (end - pos < n) {
            throw malformed("truncated: field " + field + " needs " + n + " bytes at byte " + pos + " but only "
                    + (end - pos) + " remain");
        }
        pos += n;
    }

    final int le32(int p) {
        return (b[p] & 0xff) | (b[p + 1] & 0xff) << 8 | (b[p + 2] & 0xff) << 16 | (b[p + 3] & 0xff) << 24;
    }

    final long le64(int p) {
        return (le32(p) & 0xffffffffL) | ((long) le32(p + 4)) << 32;
    }

    // ------------------------------------------------------------ names (offsets into the bytes)

    final int nameStart(int handle) {
        int p = handle;
        while ((b[p] & 0x80) != 0) {
            p++;
        }
        return p + 1;
    }

    final int nameLength(int handle) {
        long value = 0;
        int p = handle;
        for (int i = 0; i < 10; i++) {
            int x = b[p++] & 0xff;
            value |= (long) (x & 0x7f) << (7 * i);
            if ((x & 0x80) == 0) {
                break;
            }
        }
        return (int) value;
    }

    final boolean isEmpty(int handle) {
        return handle < 0 || b[handle] == 0;
    }

    final String text(int handle) {
        if (handle < 0) {
            return "";
        }
        return new String(b, nameStart(handle), nameLength(handle), StandardCharsets.UTF_8);
    }

    /** A name for messages: quoted, control characters escaped, at most 80 characters. */
    final String show(int handle) {
        if (handle < 0) {
            return "''";
        }
        int len = nameLength(handle);
        String s = new String(b, nameStart(handle), Math.min(len, 240), StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder("'");
        for (int i = 0; i < s.length() && sb.length() < 81; i++) {
            char c = s.charAt(i);
            sb.append(c < 0x20 || c == 0x7f ? String.format("\\x%02x", (int) c) : String.valueOf(c));
        }
        if (sb.length() >= 81 || len > 240) {
            sb.append("...");
        }
        return sb.append('\'').toString();
    }

    final boolean nameEquals(int handle, String ascii) {
        int len = nameLength(handle);
        if (len != ascii.length()) {
            return false;
        }
        int s = nameStart(handle);
        for (int i = 0; i < len; i++) {
            if (b[s + i] != (byte) ascii.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
