package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class NpyTest {
    @TempDir
    Path dir;

    // Written by NumPy 2.4 (np.save, and numpy.lib.format.write_array with version=(2, 0)).
    /** np.array([[1,2,3],[4,5,6]], dtype='<f4'). */
    static final String F4_2X3 =
            "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000803f0000004000004040000080400000a0400000c040";
    /** np.array([1.5, -2.25], dtype='<f8'), format version 2.0. */
    static final String F8_V2 =
            "934e554d50590200740000007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000000000f83f00000000000002c0";
    /** np.array(3, dtype='<i8'), a 0-d scalar. */
    static final String I8_SCALAR =
            "934e554d5059010076007b276465736372273a20273c6938272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0300000000000000";
    /** np.array([True, False, True]). */
    static final String BOOL_3 =
            "934e554d5059010076007b276465736372273a20277c6231272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a010001";
    /** np.array([[7],[-8]], dtype='<i4'). */
    static final String I4_2X1 =
            "934e554d5059010076007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2031292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a07000000f8ffffff";
    /** np.array([1, 255], dtype='u1'). */
    static final String U1_2 =
            "934e554d5059010076007b276465736372273a20277c7531272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a01ff";

    /** np.array([[1, -2, 65504], [2**-24, inf, 0.1]], dtype='<f2') (NumPy 1.24). */
    static final String F2_2X3 =
            "934e554d5059010076007b276465736372273a20273c6632272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a003c00c0ff7b0100007c662e";
    /** np.array([-32768, 7], dtype='<i2') (NumPy 1.24). */
    static final String I2_2 =
            "934e554d5059010076007b276465736372273a20273c6932272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00800700";

    private static byte[] hex(String s) {
        return HexFormat.of().parseHex(s);
    }

    @Test
    void readsFilesWrittenByNumpy() {
        Tensor f4 = Npy.read(hex(F4_2X3), "f4.npy");
        assertEquals(DType.FLOAT32, f4.dtype());
        assertArrayEquals(new long[] {2, 3}, f4.shape());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, f4.toFloatArray());

        Tensor f8 = Npy.read(hex(F8_V2), "f8.npy");
        assertEquals(DType.FLOAT64, f8.dtype());
        assertArrayEquals(new double[] {1.5, -2.25}, f8.toDoubleArray());

        Tensor scalar = Npy.read(hex(I8_SCALAR), "s.npy");
        assertEquals(0, scalar.rank());
        assertArrayEquals(new long[] {3}, scalar.toLongArray());

        Tensor bool = Npy.read(hex(BOOL_3), "b.npy");
        assertEquals(DType.BOOL, bool.dtype());
        assertArrayEquals(new int[] {1, 0, 1}, bool.toIntArray());

        Tensor i4 = Npy.read(hex(I4_2X1), "i4.npy");
        assertArrayEquals(new long[] {2, 1}, i4.shape());
        assertArrayEquals(new int[] {7, -8}, i4.toIntArray());

        Tensor u1 = Npy.read(hex(U1_2), "u1.npy");
        assertArrayEquals(new long[] {1, 255}, u1.toLongArray());
    }

    @Test
    void writesExactlyWhatNumpyWrites() {
        // Same dict text, same padding to 64 bytes, same data.
        assertArrayEquals(hex(F4_2X3), Npy.toBytes(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)));
        assertArrayEquals(hex(I8_SCALAR), Npy.toBytes(Tensor.of(new long[] {3})));
        assertArrayEquals(hex(BOOL_3), Npy.toBytes(Tensor.ofBool(new boolean[] {true, false, true}, 3)));
        assertArrayEquals(hex(U1_2), Npy.toBytes(Tensor.ofUint8(new byte[] {1, (byte) 255}, 2)));
        assertArrayEquals(
                hex(F2_2X3),
                Npy.toBytes(
                        Tensor.ofFloat16(new float[] {1, -2, 65504, 0x1p-24f, Float.POSITIVE_INFINITY, 0.1f}, 2, 3)));
        assertArrayEquals(hex(I2_2), Npy.toBytes(Tensor.ofInt16(new short[] {Short.MIN_VALUE, 7}, 2)));
    }

    @Test
    void readsFloat16AndInt16FilesWrittenByNumpy() {
        Tensor f2 = Npy.read(hex(F2_2X3), "f2.npy");
        assertEquals(DType.FLOAT16, f2.dtype());
        assertArrayEquals(new long[] {2, 3}, f2.shape());
        // the bits NumPy stored (a.view('<u2')): 0.1 rounds to 0x2e66
        assertArrayEquals(new short[] {0x3c00, (short) 0xc000, 0x7bff, 0x0001, 0x7c00, 0x2e66}, f2.toShortArray());
        assertArrayEquals(
                new float[] {1, -2, 65504, 0x1p-24f, Float.POSITIVE_INFINITY, 0.0999755859375f}, f2.toFloatArray());
        Tensor i2 = Npy.read(hex(I2_2), "i2.npy");
        assertEquals(DType.INT16, i2.dtype());
        assertArrayEquals(new long[] {-32768, 7}, i2.toLongArray());
    }

    @Test
    void bfloat16IsWrittenAsExactFloat32() {
        Tensor bf = Tensor.ofBFloat16Bits(new short[] {0x3f80, (short) 0xc2f7, 0x7f80, 0x0001}, 4);
        Tensor back = Npy.read(Npy.toBytes(bf), "bf16.npy");
        assertEquals(DType.FLOAT32, back.dtype());
        assertArrayEquals(bf.toFloatArray(), back.toFloatArray());
        assertEquals(Tensor.of(bf.toFloatArray(), 4), back);
    }

    @Test
    void readsVersion3Headers() {
        byte[] v3 = build(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", floats(1, 2));
        assertArrayEquals(new float[] {1, 2}, Npy.read(v3, "v3.npy").toFloatArray());
    }

    static Stream<Tensor> everyDtype() {
        return Stream.of(
                Tensor.of(new float[] {1.5f, -0f, Float.NaN, Float.MAX_VALUE, 7, 8}, 2, 3),
                Tensor.of(new double[] {Math.PI, -1e300}, 2, 1),
                Tensor.of(new long[] {Long.MAX_VALUE, Long.MIN_VALUE, 0}, 3),
                Tensor.of(new int[] {Integer.MIN_VALUE, 5}, 1, 2),
                Tensor.ofUint8(new byte[] {0, (byte) 200, (byte) 255}, 3),
                Tensor.ofInt8(new byte[] {-128, 127}, 2),
                Tensor.ofBool(new boolean[] {true, false, false, true}, 2, 2),
                Tensor.ofFloat16Bits(new short[] {0x3c00, (short) 0x8001, 0x7e01, (short) 0xfc00}, 2, 2),
                Tensor.ofInt16(new short[] {Short.MIN_VALUE, Short.MAX_VALUE}, 2),
                Tensor.of(new float[] {2.5f}),
                Tensor.zeros(DType.INT32, 0, 4));
    }

    @ParameterizedTest
    @MethodSource("everyDtype")
    void roundTripsEveryDtypeThroughAFile(Tensor t) {
        Path file = dir.resolve(t.dtype().typeName() + ".npy");
        Npy.write(file, t);
        Tensor back = Npy.read(file);
        assertEquals(t, back);
        assertEquals(0, (Npy.toBytes(t).length - t.byteSize()) % 64, "data starts on a 64-byte boundary");
    }

    @Test
    void writeReplacesAtomicallyAndLeavesNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("a.npy");
        Files.writeString(file, "old");
        Npy.write(file, Tensor.of(new int[] {1, 2}, 2));
        assertArrayEquals(new int[] {1, 2}, Npy.read(file).toIntArray());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(
                    List.of("a.npy"), files.map(p -> p.getFileName().toString()).collect(Collectors.toList()));
        }
    }

    @Test
    void writeToAMissingDirectoryFailsNamingThePath() {
        Path file = dir.resolve("no/such/dir/a.npy");
        ForgeRuntimeException e =
                assertThrows(ForgeRuntimeException.class, () -> Npy.write(file, Tensor.of(new int[] {1}, 1)));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void writesVersion2WhenTheHeaderIsTooLongForVersion1() {
        long[] shape = new long[25_000];
        java.util.Arrays.fill(shape, 1);
        Tensor t = Tensor.zeros(DType.UINT8, shape);
        byte[] bytes = Npy.toBytes(t);
        assertEquals(2, bytes[6]);
        assertEquals(t, Npy.read(bytes, "long.npy"));
    }

    // ---------------------------------------------------------------- malformed files

    private static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b.array();
    }

    /** A .npy with the given version, header dict text (padded like NumPy) and data bytes. */
    static byte[] build(int major, String dict, byte[] data) {
        int preamble = major == 1 ? 10 : 12;
        byte[] d = dict.getBytes(major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        int total = (preamble + d.length + 1 + 63) / 64 * 64;
        int headerLen = total - preamble;
        ByteBuffer b = ByteBuffer.allocate(total + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        if (major == 1) {
            b.putShort((short) headerLen);
        } else {
            b.putInt(headerLen);
        }
        b.put(d);
        while (b.position() < total - 1) {
            b.put((byte) ' ');
        }
        b.put((byte) '\n');
        b.put(data);
        return b.array();
    }

    private static String failure(byte[] bytes) {
        NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read(bytes, "x.npy"));
        assertTrue(e.getMessage().startsWith("x.npy: "), e.getMessage());
        return e.getMessage();
    }

    private static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "expected '" + p + "' in: " + message);
        }
    }

    @Test
    void fortranOrderIsRefusedWithTheFix() {
        String m = failure(build(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", floats(1, 2, 3, 4)));
        assertContains(m, "fortran_order=True is not supported", "np.ascontiguousarray");
    }

    @Test
    void bigEndianIsRefusedWithTheFix() {
        String m = failure(build(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", floats(1, 2)));
        assertContains(m, "big-endian", "'>f4'", "astype('<f4')");
        // but byte order is meaningless for one-byte types
        Tensor t = Npy.read(
                build(1, "{'descr': '>u1', 'fortran_order': False, 'shape': (1,), }", new byte[] {9}), "u.npy");
        assertArrayEquals(new long[] {9}, t.toLongArray());
    }

    @Test
    void objectByteStringAndStructuredDtypesAreRefused() {
        assertContains(
                failure(build(1, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", new byte[8])),
                "unsupported dtype '|O'",
                "object arrays",
                "'<f4'");
        assertContains(
                failure(build(1, "{'descr': '|S3', 'fortran_order': False, 'shape': (1,), }", new byte[3])),
                "'|S3'",
                "byte strings",
                "'<U<n>'");
        assertContains(
                failure(build(1, "{'descr': '<U0', 'fortran_order': False, 'shape': (1,), }", new byte[0])),
                "invalid width");
        assertContains(
                failure(build(1, "{'descr': '<U2', 'fortran_order': False, 'shape': (2,), }", new byte[12])),
                "truncated");
        byte[] surrogate = ByteBuffer.allocate(4)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putInt(0xd800)
                .array();
        assertContains(
                failure(build(1, "{'descr': '<U1', 'fortran_order': False, 'shape': (1,), }", surrogate)),
                "not a Unicode code point");
        assertContains(
                failure(build(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new byte[4])),
                "structured dtype");
    }

    /** The bytes np.save wrote (NumPy 1.24) for a small array: its header padded to 128 bytes, then data. */
    private static byte[] numpySaved(String dict, String dataHex) {
        byte[] d = dict.getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(128 + dataHex.length() / 2).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0})
                .putShort((short) 118)
                .put(d);
        while (b.position() < 127) {
            b.put((byte) ' ');
        }
        b.put((byte) '\n').put(HexFormat.of().parseHex(dataHex));
        return b.array();
    }

    @Test
    void unsignedAndStringArraysSavedByNumpyAreReadAndRoundTrip() {
        // np.save(f, np.array(['a', 'h\u00e9llo', ''], dtype='<U5')): UTF-32, NUL-padded to 5 characters
        Tensor s = Npy.read(
                numpySaved(
                        "{'descr': '<U5', 'fortran_order': False, 'shape': (3,), }",
                        "6100000000000000000000000000000000000000"
                                + "68000000e90000006c0000006c0000006f000000"
                                + "0000000000000000000000000000000000000000"),
                "s.npy");
        assertArrayEquals(new String[] {"a", "h\u00e9llo", ""}, s.toStringArray());
        Tensor u16 = Npy.read(
                numpySaved("{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2), }", "0100ffff"), "u2.npy");
        assertEquals(Tensor.ofUint16(new short[] {1, -1}, 1, 2), u16);
        Tensor u32 = Npy.read(
                numpySaved("{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }", "00000000ffffffff"), "u4.npy");
        assertArrayEquals(new long[] {0, 4294967295L}, u32.toLongArray());
        Tensor u64 = Npy.read(
                numpySaved("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", "ffffffffffffffff"), "u8.npy");
        assertEquals(Tensor.ofUint64(new long[] {-1L}, 1), u64);
        for (Tensor t : List.of(s, u16, u32, u64, Tensor.ofStrings(new String[] {"\ud83d\ude00x", ""}, 1, 2))) {
            assertEquals(t, Npy.read(Npy.toBytes(t), "again.npy"), t.toString());
        }
        // the width is the longest element in code points (an emoji is one), at least 1
        assertTrue(header(Npy.toBytes(Tensor.ofStrings(new String[] {"\ud83d\ude00x", ""}, 2)))
                .contains("'<U2'"));
        assertTrue(header(Npy.toBytes(Tensor.ofStrings(new String[] {""}, 1))).contains("'<U1'"));
        assertTrue(header(Npy.toBytes(u32)).contains("'<u4'"));
    }

    private static String header(byte[] npy) {
        return new String(npy, 10, 60, StandardCharsets.ISO_8859_1);
    }

    @Test
    void equalsAndPipeAndNoOrderPrefixesAreAccepted() {
        assertArrayEquals(
                new float[] {1, 2},
                Npy.read(build(1, "{'descr': '=f4', 'fortran_order': False, 'shape': (2,), }", floats(1, 2)), "e.npy")
                        .toFloatArray());
        assertArrayEquals(
                new long[] {1, 0},
                Npy.read(
                                build(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", new byte[] {1, 0
                                }),
                                "p.npy")
                        .toLongArray());
        // keys in another order, double quotes, Python 2 long suffix, no trailing comma
        Tensor t = Npy.read(
                build(1, "{\"shape\": (2L,), \"fortran_order\": False, \"descr\": \"<f4\"}", floats(5, 6)), "q.npy");
        assertArrayEquals(new float[] {5, 6}, t.toFloatArray());
    }

    @Test
    void truncatedDataIsRefused() {
        byte[] full = hex(F4_2X3);
        byte[] cut = java.util.Arrays.copyOf(full, full.length - 5);
        assertContains(failure(cut), "truncated", "(2, 3)", "needs 24 data bytes", "only 19");
        assertContains(failure(java.util.Arrays.copyOf(full, 40)), "truncated", "header");
        assertContains(failure(java.util.Arrays.copyOf(full, 7)), "too short");
    }

    @Test
    void extraDataIsRefused() {
        byte[] full = hex(F4_2X3);
        byte[] longer = java.util.Arrays.copyOf(full, full.length + 4);
        assertContains(failure(longer), "needs 24 data bytes but 28 follow");
    }

    @Test
    void badMagicAndVersionAreRefused() {
        assertContains(
                failure("PK\u0003\u0004 this is a zip file".getBytes(StandardCharsets.ISO_8859_1)),
                "bad magic",
                ".npz");
        byte[] v9 = hex(F4_2X3);
        v9[6] = 9;
        assertContains(failure(v9), "version 9.0", "[1.0, 2.0, 3.0]");
    }

    @Test
    void malformedHeaderDictsAreRefused() {
        byte[] data = floats(1, 2);
        assertContains(failure(build(1, "{'descr': '<f4', 'fortran_order': False}", data)), "missing key 'shape'");
        assertContains(
                failure(build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", data)),
                "unexpected key 'extra'");
        assertContains(
                failure(build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", data)),
                "malformed header dict");
        assertContains(
                failure(build(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", data)),
                "'fortran_order' must be True or False");
        assertContains(
                failure(build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", data)),
                "'shape' must be a tuple");
        assertContains(
                failure(build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", data)), "not a tuple");
        assertContains(
                failure(build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }", data)),
                "not an integer");
        assertContains(
                failure(build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", data)),
                "negative dimension");
        assertContains(
                failure(build(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data)),
                "duplicate key");
        assertContains(failure(build(1, "__import__('os').system('x')", data)), "malformed header");
        assertContains(
                failure(build(1, "{'descr': 4, 'fortran_order': False, 'shape': (2,), }", data)),
                "'descr' must be a string");
    }

    @Test
    void hugeShapesAreRefusedBeforeAllocating() {
        assertContains(
                failure(build(
                        1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", floats(1))),
                "too large",
                "overflow");
        assertContains(
                failure(build(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", floats(1))),
                "too large");
        assertContains(
                failure(build(
                        1, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", floats(1))),
                "does not fit in 64 bits");
        byte[] bigHeader = hex(F4_2X3);
        bigHeader[8] = (byte) 0xff;
        bigHeader[9] = (byte) 0xff;
        assertContains(failure(bigHeader), "truncated", "65535");
    }

    @Test
    void boolBytesOtherThanZeroOrOneAreRefused() {
        assertContains(
                failure(build(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", new byte[] {1, 7})),
                "bool element 1",
                "0 or 1");
    }

    @Test
    void missingFilesAndDirectoriesNameThePath() {
        Path missing = dir.resolve("nope.npy");
        NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read(missing));
        assertContains(e.getMessage(), missing.toString(), "no such file");
        NpyFormatException d = assertThrows(NpyFormatException.class, () -> Npy.read(dir));
        assertContains(d.getMessage(), "directory");
    }

    @Test
    void npyFormatExceptionIsAForgeRuntimeException() {
        assertTrue(ForgeRuntimeException.class.isAssignableFrom(NpyFormatException.class));
    }
}
