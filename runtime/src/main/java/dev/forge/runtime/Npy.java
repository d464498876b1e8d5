package dev.forge.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reads and writes NumPy {@code .npy} files (format versions 1.0, 2.0 and 3.0) as {@link Tensor}s.
 *
 * <p>Supported: C-order arrays of {@code <f4}, {@code <f8}, {@code <f2}, {@code <i8}, {@code <i4},
 * {@code <i2}, {@code <u8}, {@code <u4}, {@code <u2}, {@code |u1}, {@code |i1}, {@code |b1} and
 * NumPy's fixed-width Unicode strings {@code <U<n>} (the byte-order character may be {@code <}, {@code
 * |} or {@code =}, and is ignored for one-byte types), any rank including 0-d scalars and empty arrays.
 * A string array is UTF-32 with every element padded with NULs to {@code n} characters; like NumPy,
 * reading drops the trailing NULs, and writing uses the longest element's length (at least 1). NumPy has
 * no bfloat16 dtype: a bfloat16 tensor is written as {@code <f4}, which holds every bfloat16 value
 * exactly, and reads back as float32. Anything else — Fortran order, big-endian data, object, byte-string
 * or structured dtypes, a malformed or truncated file — is refused with an {@link NpyFormatException}
 * that names the source, says what is wrong and how to fix it on the NumPy side.
 *
 * <p>The header is parsed by a small strict parser of the Python literal dict NumPy writes ({@code
 * {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }}); it never evaluates anything.
 *
 * <p>{@link #write} writes version 1.0 (2.0 when the header would not fit), pads the header so the data
 * starts on a 64-byte boundary as NumPy does, and replaces the target atomically.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final int ALIGN = 64;
    /** NumPy refuses headers longer than this by default (numpy.lib.format._MAX_HEADER_SIZE). */
    private static final int MAX_HEADER_LEN = 100_000;

    private Npy() {}

    /**
     * Reads a {@code .npy} file.
     *
     * @param path the file
     * @return the array as a heap tensor
     * @throws NpyFormatException if the file is malformed or unsupported, or cannot be read (the
     *     message names the file)
     */
    public static Tensor read(Path path) {
        Objects.requireNonNull(path, "path");
        String name = path.toString();
        byte[] bytes;
        try {
            if (Files.isDirectory(path)) {
                throw new NpyFormatException(name + ": is a directory, expected a .npy file");
            }
            long fileSize = Files.size(path);
            if (fileSize > Tensor.MAX_BYTES) {
                throw new NpyFormatException(name + ": file is " + fileSize + " bytes, larger than the "
                        + Tensor.MAX_BYTES + " bytes a tensor can hold; save the array in smaller pieces");
            }
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new NpyFormatException(name + ": no such file", e);
        } catch (IOException e) {
            throw new NpyFormatException(name + ": cannot be read (" + e + ")", e);
        }
        return read(bytes, name);
    }

    /**
     * Parses the bytes of a {@code .npy} file.
     *
     * @param bytes the whole file
     * @param sourceName a name for messages (a file name, a URL, a resource path)
     * @return the array as a heap tensor (a copy: later changes to {@code bytes} do not show)
     * @throws NpyFormatException if the bytes are malformed or unsupported
     */
    public static Tensor read(byte[] bytes, String sourceName) {
        Objects.requireNonNull(bytes, "bytes");
        String src = sourceName == null ? "<bytes>" : sourceName;
        if (bytes.length < MAGIC.length + 2) {
            throw fail(
                    src,
                    "file is " + bytes.length
                            + " bytes, too short to be a .npy file (it needs at least a 10-byte preamble)");
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (bytes[i] != MAGIC[i]) {
                throw fail(
                        src,
                        "bad magic: a .npy file starts with \\x93NUMPY, this one starts with " + printable(bytes, 6)
                                + "; is it a .npz archive (use np.load and save each array with np.save) or not NumPy data at all?");
            }
        }
        int major = bytes[6] & 0xff;
        int minor = bytes[7] & 0xff;
        int headerLenSize;
        if (major == 1 && minor == 0) {
            headerLenSize = 2;
        } else if ((major == 2 || major == 3) && minor == 0) {
            headerLenSize = 4;
        } else {
            throw fail(
                    src,
                    "unsupported .npy format version " + major + "." + minor + ", expected one of [1.0, 2.0, 3.0]");
        }
        int preamble = 8 + headerLenSize;
        if (bytes.length < preamble) {
            throw fail(src, "truncated: the file ends inside the header length field");
        }
        ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLen = headerLenSize == 2 ? bb.getShort(8) & 0xffff : bb.getInt(8) & 0xffffffffL;
        if (headerLen > MAX_HEADER_LEN) {
            throw fail(
                    src,
                    "header length " + headerLen + " is larger than " + MAX_HEADER_LEN + " bytes; the file is corrupt");
        }
        if (preamble + headerLen > bytes.length) {
            throw fail(
                    src,
                    "truncated: the header says it is " + headerLen + " bytes but only " + (bytes.length - preamble)
                            + " bytes follow the preamble");
        }
        String header = new String(
                bytes, preamble, (int) headerLen, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Header h = parseHeader(src, header);
        int stringWidth = stringWidth(src, h.descr);
        DType dtype = stringWidth >= 0 ? DType.STRING : dtypeOf(src, h.descr);
        if (h.fortranOrder) {
            throw fail(src, "fortran_order=True is not supported; save with np.save(path, np.ascontiguousarray(a))");
        }
        long count;
        try {
            count = Tensor.elementCount(h.shape, dtype);
        } catch (IllegalArgumentException e) {
            throw fail(src, "shape " + pyShape(h.shape) + " is too large: " + e.getMessage());
        }
        long dataStart = preamble + headerLen;
        // UTF-32: four bytes per character, stringWidth characters per element
        long expected = dtype == DType.STRING ? count * 4L * stringWidth : count * dtype.byteSize();
        if (expected > Tensor.MAX_BYTES) {
            throw fail(
                    src,
                    "shape " + pyShape(h.shape) + " of '" + h.descr + "' needs " + expected
                            + " data bytes, more than one array can hold");
        }
        long actual = bytes.length - dataStart;
        if (actual < expected) {
            throw fail(
                    src,
                    "truncated: shape " + pyShape(h.shape) + " of '" + h.descr + "' needs " + expected
                            + " data bytes but only " + actual
                            + " follow the header; the file was cut short, write it again");
        }
        if (actual > expected) {
            throw fail(
                    src,
                    "shape " + pyShape(h.shape) + " of '" + h.descr + "' needs " + expected + " data bytes but "
                            + actual
                            + " follow the header; the header and data do not match (several arrays appended to one file?)");
        }
        if (dtype == DType.STRING) {
            return Tensor.ofStrings(decodeStrings(src, bytes, (int) dataStart, (int) count, stringWidth), h.shape);
        }
        ByteBuffer data = ByteBuffer.allocate((int) expected).order(ByteOrder.LITTLE_ENDIAN);
        data.put(0, bytes, (int) dataStart, (int) expected);
        if (dtype == DType.BOOL) {
            for (int i = 0; i < expected; i++) {
                int v = data.get(i);
                if (v != 0 && v != 1) {
                    throw fail(src, "bool element " + i + " is the byte " + (v & 0xff) + "; bool data must be 0 or 1");
                }
            }
        }
        return Tensor.adoptLittleEndian(dtype, h.shape, data);
    }

    /**
     * Writes a tensor as a {@code .npy} file, atomically: the bytes go to a temporary file in the same
     * directory, which then replaces {@code path} in one move, so a reader never sees a half-written file.
     *
     * @param path the target file; its directory must exist
     * @param tensor the array
     * @throws ForgeRuntimeException if the file cannot be written (the message names it)
     */
    public static void write(Path path, Tensor tensor) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(tensor, "tensor");
        byte[] bytes = toBytes(tensor);
        try {
            AtomicFiles.write(path, bytes);
        } catch (IOException e) {
            throw new ForgeRuntimeException("Cannot write " + path + ": " + e, e);
        }
    }

    /**
     * Encodes a tensor as the bytes of a {@code .npy} file (version 1.0, or 2.0 when the header is too
     * long for 1.0).
     *
     * @param tensor the array
     * @return the file contents
     */
    public static byte[] toBytes(Tensor tensor) {
        Objects.requireNonNull(tensor, "tensor");
        if (tensor.dtype() == DType.BFLOAT16) {
            tensor = Tensor.of(tensor.toFloatArray(), tensor.shape()); // exact widening, see the class doc
        }
        String descr = tensor.dtype().npyDescr();
        ByteBuffer payload = tensor.buffer();
        if (tensor.dtype() == DType.STRING) {
            String[] values = tensor.toStringArray();
            int width = 1; // NumPy's narrowest string dtype is <U1, also for empty strings
            for (String v : values) {
                width = Math.max(width, v.codePointCount(0, v.length()));
            }
            long bytes = 4L * width * values.length;
            if (bytes > Tensor.MAX_BYTES) {
                throw new IllegalArgumentException(
                        "string tensor of " + values.length + " elements up to " + width + " characters needs " + bytes
                                + " bytes as '<U" + width + "', too large for one .npy byte array");
            }
            descr = descr + width;
            payload = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < values.length; i++) {
                int[] cps = values[i].codePoints().toArray();
                for (int c = 0; c < cps.length; c++) {
                    payload.putInt((i * width + c) * 4, cps[c]);
                }
            }
        }
        StringBuilder dict = new StringBuilder();
        dict.append("{'descr': '")
                .append(descr)
                .append("', 'fortran_order': False, 'shape': ")
                .append(pyShape(tensor.shape()))
                .append(", }");
        byte[] dictBytes = dict.toString().getBytes(StandardCharsets.ISO_8859_1);
        int version = 1;
        int preamble = 10;
        int headerLen = padded(preamble, dictBytes.length);
        if (headerLen > 0xffff) {
            version = 2;
            preamble = 12;
            headerLen = padded(preamble, dictBytes.length);
        }
        long total = (long) preamble + headerLen + payload.remaining();
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(
                    "Tensor of " + payload.remaining() + " bytes is too large for one .npy byte array");
        }
        ByteBuffer out = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).put((byte) version).put((byte) 0);
        if (version == 1) {
            out.putShort((short) headerLen);
        } else {
            out.putInt(headerLen);
        }
        out.put(dictBytes);
        for (int i = dictBytes.length; i < headerLen - 1; i++) {
            out.put((byte) ' ');
        }
        out.put((byte) '\n');
        out.put(payload);
        return out.array();
    }

    /** Header length (dict + spaces + newline) so that preamble + header is a multiple of 64. */
    private static int padded(int preamble, int dictLen) {
        int unpadded = preamble + dictLen + 1;
        int total = (unpadded + ALIGN - 1) / ALIGN * ALIGN;
        return total - preamble;
    }

    // ---------------------------------------------------------------- header

    private static final class Header {
        final String descr;
        final boolean fortranOrder;
        final long[] shape;

        Header(String descr, boolean fortranOrder, long[] shape) {
            this.descr = descr;
            this.fortranOrder = fortranOrder;
            this.shape = shape;
        }
    }

    private static Header parseHeader(String src, String header) {
        String text = header;
        // NumPy pads with spaces and ends the header with '\n'; older writers may pad with '\0'.
        int end = text.length();
        while (end > 0
                && (text.charAt(end - 1) == ' '
                        || text.charAt(end - 1) == '\n'
                        || text.charAt(end - 1) == '\0'
                        || text.charAt(end - 1) == '\r'
                        || text.charAt(end - 1) == '\t')) {
            end--;
        }
        text = text.substring(0, end);
        Object value;
        try {
            LiteralParser p = new LiteralParser(text);
            value = p.parseValue();
            p.skipSpace();
            if (!p.atEnd()) {
                throw p.error("unexpected text after the dict");
            }
        } catch (IllegalArgumentException e) {
            throw fail(src, "malformed header dict: " + e.getMessage() + "; header was " + abbreviate(text));
        }
        if (!(value instanceof Map)) {
            throw fail(
                    src,
                    "malformed header: expected a dict {'descr': ..., 'fortran_order': ..., 'shape': ...}, got "
                            + abbreviate(text));
        }
        @SuppressWarnings("unchecked")
        Map<Object, Object> dict = (Map<Object, Object>) value;
        for (Object key : dict.keySet()) {
            if (!(key instanceof String)
                    || !List.of("descr", "fortran_order", "shape").contains(key)) {
                throw fail(
                        src,
                        "malformed header: unexpected key " + pyRepr(key)
                                + ", expected exactly ['descr', 'fortran_order', 'shape']");
            }
        }
        for (String key : List.of("descr", "fortran_order", "shape")) {
            if (!dict.containsKey(key)) {
                throw fail(
                        src,
                        "malformed header: missing key '" + key
                                + "', expected exactly ['descr', 'fortran_order', 'shape']");
            }
        }
        Object descr = dict.get("descr");
        if (descr instanceof List || descr instanceof Tuple) {
            throw fail(
                    src,
                    "structured dtype " + abbreviate(pyRepr(descr))
                            + " is not supported; save each field as its own array");
        }
        if (!(descr instanceof String)) {
            throw fail(src, "malformed header: 'descr' must be a string such as '<f4', got " + pyRepr(descr));
        }
        Object fortran = dict.get("fortran_order");
        if (!(fortran instanceof Boolean)) {
            throw fail(src, "malformed header: 'fortran_order' must be True or False, got " + pyRepr(fortran));
        }
        Object shapeObj = dict.get("shape");
        if (!(shapeObj instanceof Tuple)) {
            throw fail(
                    src, "malformed header: 'shape' must be a tuple of ints such as (2, 3), got " + pyRepr(shapeObj));
        }
        List<Object> items = ((Tuple) shapeObj).items;
        long[] shape = new long[items.size()];
        for (int i = 0; i < shape.length; i++) {
            Object d = items.get(i);
            if (!(d instanceof Long)) {
                throw fail(
                        src,
                        "malformed header: shape " + pyRepr(shapeObj) + " has a non-integer dimension " + pyRepr(d));
            }
            long v = (Long) d;
            if (v < 0) {
                throw fail(src, "malformed header: shape " + pyRepr(shapeObj) + " has a negative dimension " + v);
            }
            shape[i] = v;
        }
        return new Header((String) descr, (Boolean) fortran, shape);
    }

    /** The width n of a {@code <U<n>} string dtype, or -1 for any other dtype. */
    private static int stringWidth(String src, String descr) {
        String code = descr.length() > 1 && "<>|=".indexOf(descr.charAt(0)) >= 0 ? descr.substring(1) : descr;
        if (code.length() < 2
                || code.charAt(0) != 'U'
                || !code.substring(1).chars().allMatch(Character::isDigit)) {
            return -1;
        }
        if (descr.charAt(0) == '>') {
            throw fail(
                    src, "big-endian strings ('" + descr + "') are not supported; save with a.astype('<" + code + "')");
        }
        long n;
        try {
            n = Long.parseLong(code.substring(1));
        } catch (NumberFormatException e) {
            n = Long.MAX_VALUE;
        }
        if (n < 1 || n > Tensor.MAX_BYTES / 4) {
            throw fail(src, "malformed header: string dtype '" + descr + "' has an invalid width " + code.substring(1));
        }
        return (int) n;
    }

    /** UTF-32LE elements of {@code width} characters each, trailing NULs dropped (as NumPy reads them). */
    private static String[] decodeStrings(String src, byte[] bytes, int start, int count, int width) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        String[] out = new String[count];
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < count; i++) {
            sb.setLength(0);
            int len = width;
            while (len > 0 && b.getInt(start + (i * width + len - 1) * 4) == 0) {
                len--;
            }
            for (int c = 0; c < len; c++) {
                int cp = b.getInt(start + (i * width + c) * 4);
                if (!Character.isValidCodePoint(cp) || (cp >= 0xd800 && cp <= 0xdfff)) {
                    throw fail(
                            src,
                            "string element " + i + " holds " + cp + " at character " + c
                                    + ", not a Unicode code point; the data is corrupt");
                }
                sb.appendCodePoint(cp);
            }
            out[i] = sb.toString();
        }
        return out;
    }

    private static DType dtypeOf(String src, String descr) {
        if (descr.isEmpty()) {
            throw fail(src, "malformed header: empty 'descr'");
        }
        char order = descr.charAt(0);
        String code = descr;
        if (order == '<' || order == '>' || order == '|' || order == '=') {
            code = descr.substring(1);
        } else {
            order = '=';
        }
        DType dtype;
        switch (code) {
            case "f4":
                dtype = DType.FLOAT32;
                break;
            case "f8":
                dtype = DType.FLOAT64;
                break;
            case "f2":
                dtype = DType.FLOAT16;
                break;
            case "i2":
                dtype = DType.INT16;
                break;
            case "u2":
                dtype = DType.UINT16;
                break;
            case "u4":
                dtype = DType.UINT32;
                break;
            case "u8":
                dtype = DType.UINT64;
                break;
            case "i8":
                dtype = DType.INT64;
                break;
            case "i4":
                dtype = DType.INT32;
                break;
            case "u1":
                dtype = DType.UINT8;
                break;
            case "i1":
                dtype = DType.INT8;
                break;
            case "b1":
            case "?":
                dtype = DType.BOOL;
                break;
            default:
                dtype = null;
        }
        if (dtype == null) {
            String hint;
            if (code.startsWith("O")) {
                hint =
                        "object arrays hold pickled Python objects and are not supported; convert to a numeric dtype, e.g. a.astype(np.float32)";
            } else if (code.startsWith("S")) {
                hint = "byte strings are not supported; save text as a Unicode array, a.astype(np.str_)";
            } else {
                hint = "convert with a.astype(...) to one of them";
            }
            throw fail(
                    src,
                    "unsupported dtype '" + descr + "', expected one of "
                            + "['<f4', '<f8', '<f2', '<i8', '<i4', '<i2', '<u8', '<u4', '<u2', '|u1', '|i1', '|b1',"
                            + " '<U<n>']; " + hint);
        }
        if (order == '>' && dtype.byteSize() > 1) {
            throw fail(src, "big-endian data ('" + descr + "') is not supported; save with a.astype('<" + code + "')");
        }
        if (order == '|' && dtype.byteSize() > 1) {
            throw fail(
                    src,
                    "malformed header: dtype '" + descr + "' has no byte order ('|') but is " + dtype.byteSize()
                            + " bytes wide; expected '<" + code + "'");
        }
        return dtype;
    }

    // ---------------------------------------------------------------- a strict Python-literal parser

    /** A parsed Python tuple; lists parse to java.util.List so the two can be told apart. */
    private static final class Tuple {
        final List<Object> items;

        Tuple(List<Object> items) {
            this.items = items;
        }
    }

    /**
     * Parses the Python literals a .npy header can contain: dicts, tuples, lists, strings, integers and
     * True/False/None. Anything else is an error.
     */
    private static final class LiteralParser {
        private final String s;
        private int pos;
        private int depth;

        LiteralParser(String s) {
            this.s = s;
        }

        boolean atEnd() {
            return pos >= s.length();
        }

        void skipSpace() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
                pos++;
            }
        }

        IllegalArgumentException error(String what) {
            return new IllegalArgumentException(what + " at character " + pos);
        }

        Object parseValue() {
            skipSpace();
            if (atEnd()) {
                throw error("unexpected end of header");
            }
            if (++depth > 32) {
                throw error("nesting too deep");
            }
            try {
                char c = s.charAt(pos);
                if (c == '{') {
                    return parseDict();
                } else if (c == '(') {
                    return new Tuple(parseSequence('(', ')'));
                } else if (c == '[') {
                    return parseSequence('[', ']');
                } else if (c == '\'' || c == '"') {
                    return parseString();
                } else if (c == '-' || c == '+' || Character.isDigit(c)) {
                    return parseInt();
                } else if (s.startsWith("True", pos)) {
                    pos += 4;
                    return Boolean.TRUE;
                } else if (s.startsWith("False", pos)) {
                    pos += 5;
                    return Boolean.FALSE;
                } else if (s.startsWith("None", pos)) {
                    pos += 4;
                    return NONE;
                }
                throw error("unexpected character '" + c + "'");
            } finally {
                depth--;
            }
        }

        private Map<Object, Object> parseDict() {
            pos++; // {
            Map<Object, Object> map = new LinkedHashMap<>();
            while (true) {
                skipSpace();
                if (atEnd()) {
                    throw error("unterminated dict");
                }
                if (s.charAt(pos) == '}') {
                    pos++;
                    return map;
                }
                Object key = parseValue();
                if (!(key instanceof String)) {
                    throw error("dict key " + pyRepr(key) + " is not a string");
                }
                skipSpace();
                expect(':');
                Object value = parseValue();
                if (map.put(key, value) != null) {
                    throw error("duplicate key " + pyRepr(key));
                }
                skipSpace();
                if (atEnd()) {
                    throw error("unterminated dict");
                }
                if (s.charAt(pos) == ',') {
                    pos++;
                } else if (s.charAt(pos) != '}') {
                    throw error("expected ',' or '}' in dict");
                }
            }
        }

        private List<Object> parseSequence(char open, char close) {
            pos++; // open
            List<Object> items = new ArrayList<>();
            boolean sawComma = false;
            while (true) {
                skipSpace();
                if (atEnd()) {
                    throw error("unterminated " + (open == '(' ? "tuple" : "list"));
                }
                if (s.charAt(pos) == close) {
                    pos++;
                    if (open == '(' && items.size() == 1 && !sawComma) {
                        // (3) is just 3 in Python, not a tuple
                        throw error("'(" + pyRepr(items.get(0)) + ")' is not a tuple; a one-element tuple is written ("
                                + pyRepr(items.get(0)) + ",)");
                    }
                    return items;
                }
                items.add(parseValue());
                skipSpace();
                if (atEnd()) {
                    throw error("unterminated " + (open == '(' ? "tuple" : "list"));
                }
                if (s.charAt(pos) == ',') {
                    pos++;
                    sawComma = true;
                } else if (s.charAt(pos) != close) {
                    throw error("expected ',' or '" + close + "'");
                }
            }
        }

        private String parseString() {
            char quote = s.charAt(pos++);
            StringBuilder sb = new StringBuilder();
            while (true) {
                if (atEnd()) {
                    throw error("unterminated string");
                }
                char c = s.charAt(pos++);
                if (c == quote) {
                    return sb.toString();
                }
                if (c == '\\') {
                    if (atEnd()) {
                        throw error("unterminated string");
                    }
                    char e = s.charAt(pos++);
                    switch (e) {
                        case '\\':
                        case '\'':
                        case '"':
                            sb.append(e);
                            break;
                        case 'n':
                            sb.append('\n');
                            break;
                        case 't':
                            sb.append('\t');
                            break;
                        default:
                            throw error("unsupported escape '\\" + e + "' in string");
                    }
                } else if (c == '\n') {
                    throw error("newline inside string");
                } else {
                    sb.append(c);
                }
            }
        }

        private Long parseInt() {
            int start = pos;
            if (s.charAt(pos) == '-' || s.charAt(pos) == '+') {
                pos++;
            }
            int digits = pos;
            while (pos < s.length() && Character.isDigit(s.charAt(pos))) {
                pos++;
            }
            if (pos == digits) {
                throw error("expected digits");
            }
            String num = s.substring(start, pos);
            // Python 2 NumPy wrote long integers with an L suffix: (3L, 4L)
            if (pos < s.length() && (s.charAt(pos) == 'L' || s.charAt(pos) == 'l')) {
                pos++;
            }
            if (pos < s.length() && (Character.isLetterOrDigit(s.charAt(pos)) || s.charAt(pos) == '.')) {
                throw error("'" + num + s.charAt(pos) + "...' is not an integer");
            }
            try {
                return Long.parseLong(num.startsWith("+") ? num.substring(1) : num);
            } catch (NumberFormatException e) {
                throw error("integer " + num + " does not fit in 64 bits");
            }
        }

        private void expect(char c) {
            if (atEnd() || s.charAt(pos) != c) {
                throw error("expected '" + c + "'");
            }
            pos++;
        }
    }

    private static final Object NONE = new Object() {
        @Override
        public String toString() {
            return "None";
        }
    };

    // ---------------------------------------------------------------- formatting

    private static NpyFormatException fail(String src, String what) {
        return new NpyFormatException(src + ": " + what);
    }

    /** Python's repr of a shape: (), (3,), (2, 3). */
    static String pyShape(long[] shape) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(shape[i]);
        }
        if (shape.length == 1) {
            sb.append(',');
        }
        return sb.append(')').toString();
    }

    private static String pyRepr(Object o) {
        if (o instanceof String) {
            return "'" + o + "'";
        }
        if (o instanceof Boolean) {
            return (Boolean) o ? "True" : "False";
        }
        if (o instanceof Tuple) {
            List<Object> items = ((Tuple) o).items;
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < items.size(); i++) {
                sb.append(i > 0 ? ", " : "").append(pyRepr(items.get(i)));
            }
            return sb.append(items.size() == 1 ? ",)" : ")").toString();
        }
        if (o instanceof List) {
            List<?> items = (List<?>) o;
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < items.size(); i++) {
                sb.append(i > 0 ? ", " : "").append(pyRepr(items.get(i)));
            }
            return sb.append(']').toString();
        }
        if (o instanceof Map) {
            return "{...}";
        }
        return String.valueOf(o);
    }

    private static String abbreviate(String s) {
        String t = s.replace("\n", "\\n");
        return t.length() > 120 ? t.substring(0, 117) + "..." : t;
    }

    private static String printable(byte[] b, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(n, b.length); i++) {
            int v = b[i] & 0xff;
            if (v >= 0x20 && v < 0x7f && v != '\\') {
                sb.append((char) v);
            } else {
                sb.append(String.format("\\x%02x", v));
            }
        }
        return sb.toString();
    }
}
