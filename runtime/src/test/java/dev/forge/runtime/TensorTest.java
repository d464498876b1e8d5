package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.TensorInfo.OnnxTensorType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ReadOnlyBufferException;
import org.junit.jupiter.api.Test;

class TensorTest {

    @Test
    void floatFactoryKeepsValuesShapeAndOrder() {
        float[] data = {1, 2, 3, 4, 5, 6};
        Tensor t = Tensor.of(data, 2, 3);
        data[0] = 99; // the tensor holds a copy
        assertEquals(DType.FLOAT32, t.dtype());
        assertArrayEquals(new long[] {2, 3}, t.shape());
        assertEquals(2, t.rank());
        assertEquals(6, t.size());
        assertEquals(24, t.byteSize());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, t.toFloatArray());
        assertEquals(6f, t.getFloat(5));
        assertEquals(4.0, t.getDouble(3));
        assertFalse(t.isDirect());
        // the buffer is little-endian and read-only
        ByteBuffer b = t.buffer();
        assertEquals(ByteOrder.LITTLE_ENDIAN, b.order());
        assertEquals(1f, b.getFloat(0));
        assertEquals((byte) 0x80, t.buffer().get(2));
        assertEquals((byte) 0x3f, t.buffer().get(3));
        assertThrows(ReadOnlyBufferException.class, () -> t.buffer().put(0, (byte) 1));
    }

    @Test
    void shapeIsCopiedBothWays() {
        long[] shape = {2, 2};
        Tensor t = Tensor.of(new float[4], shape);
        shape[0] = 4;
        assertArrayEquals(new long[] {2, 2}, t.shape());
        t.shape()[0] = 7;
        assertArrayEquals(new long[] {2, 2}, t.shape());
    }

    @Test
    void everyTypedFactoryRoundTrips() {
        assertArrayEquals(
                new double[] {1.5, -2.25},
                Tensor.of(new double[] {1.5, -2.25}, 2).toDoubleArray());
        assertArrayEquals(
                new long[] {Long.MIN_VALUE, 7},
                Tensor.of(new long[] {Long.MIN_VALUE, 7}, 2).toLongArray());
        assertArrayEquals(new int[] {-3, 4}, Tensor.of(new int[] {-3, 4}, 2).toIntArray());
        assertArrayEquals(
                new byte[] {1, (byte) 255},
                Tensor.ofUint8(new byte[] {1, (byte) 255}, 2).toByteArray());
        assertArrayEquals(
                new long[] {1, 255},
                Tensor.ofUint8(new byte[] {1, (byte) 255}, 2).toLongArray());
        assertArrayEquals(
                new long[] {-1, 127}, Tensor.ofInt8(new byte[] {-1, 127}, 2).toLongArray());
        assertArrayEquals(
                new int[] {1, 0, 1},
                Tensor.ofBool(new boolean[] {true, false, true}, 3).toIntArray());
        assertEquals(DType.UINT8, Tensor.ofUint8(new byte[1], 1).dtype());
        assertEquals(DType.INT8, Tensor.ofInt8(new byte[1], 1).dtype());
        assertEquals(DType.BOOL, Tensor.ofBool(new boolean[1], 1).dtype());
    }

    @Test
    void toDoubleArrayConvertsFromEveryNumericType() {
        assertArrayEquals(
                new double[] {255, 0},
                Tensor.ofUint8(new byte[] {(byte) 255, 0}, 2).toDoubleArray());
        assertArrayEquals(
                new double[] {-128}, Tensor.ofInt8(new byte[] {-128}, 1).toDoubleArray());
        assertArrayEquals(
                new double[] {1e12},
                Tensor.of(new long[] {1_000_000_000_000L}, 1).toDoubleArray());
        assertArrayEquals(new double[] {-5}, Tensor.of(new int[] {-5}, 1).toDoubleArray());
        assertArrayEquals(new double[] {0.5}, Tensor.of(new float[] {0.5f}, 1).toDoubleArray());
        assertArrayEquals(
                new double[] {1, 0},
                Tensor.ofBool(new boolean[] {true, false}, 2).toDoubleArray());
        assertArrayEquals(
                new float[] {255f}, Tensor.ofUint8(new byte[] {(byte) 255}, 1).toFloatArray());
        assertEquals(255f, Tensor.ofUint8(new byte[] {(byte) 255}, 1).getFloat(0));
    }

    @Test
    void integerAccessorsRefuseFloatTensors() {
        Tensor f = Tensor.of(new float[] {1}, 1);
        IllegalStateException e = assertThrows(IllegalStateException.class, f::toLongArray);
        assertTrue(e.getMessage().contains("float32"), e.getMessage());
        assertThrows(IllegalStateException.class, f::toIntArray);
        IllegalStateException b = assertThrows(IllegalStateException.class, f::toByteArray);
        assertTrue(b.getMessage().contains("buffer()"), b.getMessage());
        IllegalStateException big = assertThrows(
                IllegalStateException.class,
                () -> Tensor.of(new long[] {1L << 40}, 1).toIntArray());
        assertTrue(big.getMessage().contains("1099511627776"), big.getMessage());
    }

    @Test
    void scalarsHaveRankZeroAndOneElement() {
        Tensor s = Tensor.of(new float[] {3.5f});
        assertEquals(0, s.rank());
        assertEquals(1, s.size());
        assertEquals(3.5f, s.getFloat(0));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[] {1, 2, 3}));
        assertTrue(e.getMessage().contains("needs 1"), e.getMessage());
        assertTrue(e.getMessage().contains("Tensor.of(data, 3)"), e.getMessage());
    }

    @Test
    void emptyTensorsAreAllowed() {
        Tensor t = Tensor.zeros(DType.FLOAT32, 0, 3);
        assertEquals(0, t.size());
        assertEquals(0, t.toFloatArray().length);
    }

    @Test
    void badShapesAreRejectedWithTheShapeInTheMessage() {
        IllegalArgumentException neg =
                assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(DType.FLOAT32, 2, -1));
        assertTrue(neg.getMessage().contains("[2,-1]") && neg.getMessage().contains("axis 1"), neg.getMessage());
        IllegalArgumentException overflow =
                assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(DType.FLOAT32, 1L << 32, 1L << 32));
        assertTrue(overflow.getMessage().contains("overflows"), overflow.getMessage());
        IllegalArgumentException huge =
                assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(DType.FLOAT64, 1L << 20, 1L << 20));
        assertTrue(huge.getMessage().contains("more than one tensor can hold"), huge.getMessage());
        IllegalArgumentException mismatch =
                assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[5], 2, 3));
        assertTrue(
                mismatch.getMessage().contains("5 elements")
                        && mismatch.getMessage().contains("[2,3]"),
                mismatch.getMessage());
    }

    @Test
    void wrapOfADirectBufferSharesItAndIsPassedToOrtWithoutCopy() {
        ByteBuffer direct = ByteBuffer.allocateDirect(16).order(ByteOrder.LITTLE_ENDIAN);
        direct.asFloatBuffer().put(new float[] {1, 2, 3, 4});
        Tensor t = Tensor.wrap(DType.FLOAT32, direct, 2, 2);
        assertTrue(t.isDirect());
        ByteBuffer forOrt = t.directNativeBuffer();
        // The buffer handed to ONNX Runtime is the caller's memory: a write to it shows through.
        direct.putFloat(0, 42f);
        assertEquals(42f, forOrt.order(ByteOrder.LITTLE_ENDIAN).getFloat(0));
        assertEquals(42f, t.getFloat(0));
        assertEquals(0, direct.position(), "wrap must not move the caller's position");
    }

    @Test
    void heapTensorsAreCopiedOnceForOrt() {
        Tensor t = Tensor.of(new float[] {1, 2}, 2);
        ByteBuffer forOrt = t.directNativeBuffer();
        assertTrue(forOrt.isDirect());
        assertEquals(2f, forOrt.order(ByteOrder.LITTLE_ENDIAN).getFloat(4));
    }

    @Test
    void wrapUsesPositionToLimitAndCopiesHeapBuffers() {
        ByteBuffer heap = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        heap.putInt(0, 9).putInt(4, 10).putInt(8, 11);
        heap.position(4);
        Tensor t = Tensor.wrap(DType.INT32, heap, 2);
        heap.putInt(4, -1);
        assertArrayEquals(new int[] {10, 11}, t.toIntArray());
        assertFalse(t.isDirect());
    }

    @Test
    void wrapValidatesByteCountOrderAndBoolBytes() {
        IllegalArgumentException size = assertThrows(
                IllegalArgumentException.class,
                () -> Tensor.wrap(DType.FLOAT32, ByteBuffer.allocateDirect(20).order(ByteOrder.LITTLE_ENDIAN), 2, 3));
        assertTrue(
                size.getMessage().contains("needs 24 bytes")
                        && size.getMessage().contains("20 bytes"),
                size.getMessage());
        IllegalArgumentException order = assertThrows(
                IllegalArgumentException.class, () -> Tensor.wrap(DType.FLOAT32, ByteBuffer.allocateDirect(8), 2));
        assertTrue(order.getMessage().contains("LITTLE_ENDIAN"), order.getMessage());
        // one-byte types do not care about the order flag
        assertEquals(
                2, Tensor.wrap(DType.UINT8, ByteBuffer.allocateDirect(2), 2).size());
        IllegalArgumentException bool = assertThrows(
                IllegalArgumentException.class, () -> Tensor.wrap(DType.BOOL, ByteBuffer.wrap(new byte[] {0, 2}), 2));
        assertTrue(bool.getMessage().contains("element 1") && bool.getMessage().contains("0 or 1"), bool.getMessage());
    }

    @Test
    void equalsAndHashCodeCompareTypeShapeAndBytes() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        ByteBuffer direct = ByteBuffer.allocateDirect(16).order(ByteOrder.LITTLE_ENDIAN);
        direct.asFloatBuffer().put(new float[] {1, 2, 3, 4});
        Tensor c = Tensor.wrap(DType.FLOAT32, direct, 2, 2);
        assertEquals(a, b);
        assertEquals(a, c);
        assertEquals(a.hashCode(), b.hashCode());
        assertEquals(a.hashCode(), c.hashCode());
        assertNotEquals(a, Tensor.of(new float[] {1, 2, 3, 4}, 4));
        assertNotEquals(a, Tensor.of(new float[] {1, 2, 3, 5}, 2, 2));
        assertNotEquals(Tensor.of(new int[] {0}, 1), Tensor.of(new float[] {0}, 1));
    }

    @Test
    void reshapeSharesDataAndChecksCount() {
        Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertArrayEquals(new long[] {3, 2}, t.reshape(3, 2).shape());
        assertArrayEquals(t.toFloatArray(), t.reshape(6).toFloatArray());
        assertThrows(IllegalArgumentException.class, () -> t.reshape(4));
    }

    @Test
    void toStringIsShortAndInformative() {
        assertEquals(
                "Tensor(float32[2,2]: 1.0, 2.0, 3.0, 4.0)",
                Tensor.of(new float[] {1, 2, 3, 4}, 2, 2).toString());
        String big = Tensor.zeros(DType.INT64, 100).toString();
        assertTrue(big.startsWith("Tensor(int64[100]: 0, 0, 0, 0, 0, 0, ..."), big);
        assertTrue(big.length() < 80, big);
        assertEquals(
                "Tensor(bool[2]: true, false)",
                Tensor.ofBool(new boolean[] {true, false}, 2).toString());
    }

    @Test
    void indexChecks() {
        Tensor t = Tensor.of(new float[] {1, 2}, 2);
        assertThrows(IndexOutOfBoundsException.class, () -> t.getFloat(2));
        assertThrows(IndexOutOfBoundsException.class, () -> t.getDouble(-1));
    }

    @Test
    void dtypeMapsToOrtNumpyAndOnnx() {
        assertEquals(4, DType.FLOAT32.byteSize());
        assertEquals(8, DType.INT64.byteSize());
        assertEquals(1, DType.BOOL.byteSize());
        assertEquals("<f4", DType.FLOAT32.npyDescr());
        assertEquals("|u1", DType.UINT8.npyDescr());
        assertEquals("|b1", DType.BOOL.npyDescr());
        for (DType d : DType.values()) {
            if (!d.lacksOnnxJavaType()) {
                assertEquals(d, DType.fromOnnxJavaType(d.toOnnxJavaType()));
            }
            assertEquals(d, DType.fromOnnxTensorType(d.toOnnxTensorType()));
            assertEquals(d, DType.fromOnnxElementType(d.onnxElementType()));
        }
        assertEquals(OnnxJavaType.UINT8, DType.UINT8.toOnnxJavaType());
        assertEquals(OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE, DType.FLOAT64.toOnnxTensorType());
        // ONNX Runtime's Java API has no unsigned type wider than 8 bits
        for (DType u : new DType[] {DType.UINT16, DType.UINT32, DType.UINT64}) {
            assertTrue(u.lacksOnnxJavaType() && u.toOnnxJavaType() == null && u.isInteger(), u.typeName());
        }
        assertEquals(12, DType.UINT32.onnxElementType());
        assertEquals("<u8", DType.UINT64.npyDescr());
        assertEquals(OnnxJavaType.STRING, DType.STRING.toOnnxJavaType());
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> DType.fromOnnxTensorType(OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX64));
        assertTrue(e.getMessage().contains("complex64") && e.getMessage().contains("uint32"), e.getMessage());
    }

    @Test
    void sixteenBitFactoriesRoundWidenAndKeepBits() {
        Tensor h = Tensor.ofFloat16(new float[] {1f / 3, 70000f, -0f, 1e-8f}, 2, 2);
        assertEquals(DType.FLOAT16, h.dtype());
        assertEquals(8, h.byteSize());
        assertArrayEquals(new short[] {0x3555, 0x7c00, (short) 0x8000, 0x0000}, h.toShortArray());
        assertArrayEquals(new float[] {0.33325195f, Float.POSITIVE_INFINITY, -0f, 0f}, h.toFloatArray());
        assertEquals(0.33325195f, h.getFloat(0));
        assertEquals("Tensor(float16[2,2]: 0.33325195, Infinity, -0.0, 0.0)", h.toString());
        Tensor bf = Tensor.ofBFloat16(new float[] {1f / 3}, 1);
        assertArrayEquals(new short[] {0x3eab}, bf.toShortArray());
        assertEquals(0.333984375, bf.getDouble(0));
        assertEquals(h, Tensor.ofFloat16Bits(h.toShortArray(), 2, 2));
        assertArrayEquals(
                new long[] {-5, 9}, Tensor.ofInt16(new short[] {-5, 9}, 2).toLongArray());
        assertTrue(DType.FLOAT16.isFloatingPoint() && DType.BFLOAT16.isFloatingPoint());
        assertThrows(IllegalStateException.class, h::toLongArray);
        IllegalStateException e = assertThrows(
                IllegalStateException.class, () -> Tensor.of(new float[1], 1).toShortArray());
        assertTrue(e.getMessage().contains("float32"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.ofFloat16Bits(new short[3], 2, 2));
    }

    @Test
    void unsignedFactoriesKeepTheBitsAndReadThemUnsigned() {
        Tensor u16 = Tensor.ofUint16(new short[] {-1, 7}, 2);
        assertEquals(DType.UINT16, u16.dtype());
        assertArrayEquals(new long[] {65535, 7}, u16.toLongArray());
        assertArrayEquals(new int[] {65535, 7}, u16.toIntArray());
        assertArrayEquals(new short[] {-1, 7}, u16.toShortArray());
        assertEquals(65535.0, u16.getDouble(0));
        Tensor u32 = Tensor.ofUint32(new int[] {-1, 3}, 2);
        assertArrayEquals(new long[] {4294967295L, 3}, u32.toLongArray());
        assertArrayEquals(new float[] {4294967295f, 3f}, u32.toFloatArray());
        IllegalStateException big = assertThrows(IllegalStateException.class, u32::toIntArray);
        assertTrue(big.getMessage().contains("uint32") && big.getMessage().contains("4294967295"), big.getMessage());
        Tensor u64 = Tensor.ofUint64(new long[] {-1L, 1L << 63, 5}, 3);
        assertArrayEquals(new long[] {-1L, 1L << 63, 5}, u64.toLongArray(), "uint64 comes back as its bits");
        assertEquals(18446744073709551615.0, u64.getDouble(0));
        assertEquals(9223372036854775808.0, u64.getDouble(1));
        assertEquals(5L, u64.getLong(2));
        assertEquals("Tensor(uint64[3]: 18446744073709551615, 9223372036854775808, 5)", u64.toString());
        assertThrows(IllegalStateException.class, u64::toIntArray);
        assertEquals(24, u64.byteSize());
        assertNotEquals(Tensor.ofUint32(new int[] {1}, 1), Tensor.of(new int[] {1}, 1), "the type is part of equality");
        assertThrows(IllegalArgumentException.class, () -> Tensor.ofUint32(new int[3], 2));
    }

    @Test
    void stringTensorsHoldTextAndRefuseNumericAccess() {
        Tensor s = Tensor.ofStrings(new String[] {"a", "h\u00e9llo", "", "\ud83d\ude00"}, 2, 2);
        assertEquals(DType.STRING, s.dtype());
        assertArrayEquals(new long[] {2, 2}, s.shape());
        assertArrayEquals(new String[] {"a", "h\u00e9llo", "", "\ud83d\ude00"}, s.toStringArray());
        assertEquals("h\u00e9llo", s.getString(1));
        assertEquals(0, s.byteSize());
        assertEquals(0, s.buffer().remaining());
        assertEquals(s, Tensor.ofStrings(new String[] {"a", "h\u00e9llo", "", "\ud83d\ude00"}, 2, 2));
        assertNotEquals(s, Tensor.ofStrings(new String[] {"a", "hello", "", "\ud83d\ude00"}, 2, 2));
        assertEquals(
                Tensor.ofStrings(new String[] {"a", "h\u00e9llo", "", "\ud83d\ude00"}, 4)
                        .hashCode(),
                s.reshape(4).hashCode());
        assertArrayEquals(
                new String[] {"a", "h\u00e9llo", "", "\ud83d\ude00"},
                s.reshape(4).toStringArray());
        assertEquals("Tensor(string[2,2]: \"a\", \"h\u00e9llo\", \"\", \"\ud83d\ude00\")", s.toString());
        assertArrayEquals(new String[] {"", ""}, Tensor.zeros(DType.STRING, 2).toStringArray());
        for (org.junit.jupiter.api.function.Executable numeric : new org.junit.jupiter.api.function.Executable[] {
            s::toFloatArray, s::toDoubleArray, s::toLongArray, s::toIntArray, () -> s.getDouble(0)
        }) {
            IllegalStateException e = assertThrows(IllegalStateException.class, numeric);
            assertTrue(e.getMessage().contains("toStringArray"), e.getMessage());
        }
        assertThrows(
                IllegalStateException.class, () -> Tensor.of(new float[1], 1).toStringArray());
        assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(DType.STRING, ByteBuffer.allocate(0), 0));
        IllegalArgumentException nul =
                assertThrows(IllegalArgumentException.class, () -> Tensor.ofStrings(new String[] {"a", null}, 2));
        assertTrue(nul.getMessage().contains("element 1"), nul.getMessage());
        String[] mine = {"x"};
        Tensor copy = Tensor.ofStrings(mine, 1);
        mine[0] = "changed";
        assertEquals("x", copy.getString(0), "the factory copies");
    }
}
