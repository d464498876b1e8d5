package dev.forge.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Map;

/**
 * A cheap structural check that bytes look like a serialized ONNX {@code ModelProto}, done before the
 * bytes reach ONNX Runtime so that obviously wrong input (an image, a text file, random bytes, a cut
 * download) is refused with a clear message. ONNX Runtime remains the real parser: passing this check
 * proves nothing about validity.
 *
 * <p>It walks the top-level fields of the message only (a handful of reads, whatever the model size):
 * every tag must carry a valid wire type, the first field must be a {@code ModelProto} field, known
 * fields must have their declared wire type, and every length-delimited field must fit inside the data
 * (which catches truncation).
 */
final class ModelProtoCheck {
  private ModelProtoCheck() {}

  /** ModelProto field number -> name and wire type (0 = varint, 2 = length-delimited). */
  private static final Map<Integer, Field> FIELDS = Map.ofEntries(
      Map.entry(1, new Field("ir_version", 0)),
      Map.entry(2, new Field("producer_name", 2)),
      Map.entry(3, new Field("producer_version", 2)),
      Map.entry(4, new Field("domain", 2)),
      Map.entry(5, new Field("model_version", 0)),
      Map.entry(6, new Field("doc_string", 2)),
      Map.entry(7, new Field("graph", 2)),
      Map.entry(8, new Field("opset_import", 2)),
      Map.entry(14, new Field("metadata_props", 2)),
      Map.entry(20, new Field("training_info", 2)),
      Map.entry(25, new Field("functions", 2)),
      Map.entry(26, new Field("configuration", 2)));

  private static final class Field {
    final String name;
    final int wireType;

    Field(String name, int wireType) {
      this.name = name;
      this.wireType = wireType;
    }
  }

  /** Random access to the bytes being checked. */
  interface Bytes {
    long length();

    /** Reads up to {@code dst.length} bytes at {@code pos}; returns how many were read. */
    int read(long pos, byte[] dst) throws IOException;
  }

  static Bytes of(byte[] data) {
    return new Bytes() {
      @Override
      public long length() {
        return data.length;
      }

      @Override
      public int read(long pos, byte[] dst) {
        int n = (int) Math.min(dst.length, data.length - pos);
        System.arraycopy(data, (int) pos, dst, 0, n);
        return n;
      }
    };
  }

  static Bytes of(FileChannel channel) throws IOException {
    long size = channel.size();
    return new Bytes() {
      @Override
      public long length() {
        return size;
      }

      @Override
      public int read(long pos, byte[] dst) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(dst, 0, (int) Math.min(dst.length, size - pos));
        int total = 0;
        while (b.hasRemaining()) {
          int n = channel.read(b, pos + total);
          if (n < 0) {
            break;
          }
          total += n;
        }
        return total;
      }
    };
  }

  /**
   * Checks the bytes.
   *
   * @return null when they look like a ModelProto, else what is wrong (one line, no trailing period)
   */
  static String problem(Bytes bytes) throws IOException {
    long len = bytes.length();
    if (len == 0) {
      return "it is empty (0 bytes)";
    }
    byte[] buf = new byte[20];
    long pos = 0;
    int fields = 0;
    while (pos < len) {
      int n = bytes.read(pos, buf);
      long[] tagAndSize = varint(buf, 0, n);
      if (tagAndSize == null) {
        return fields == 0 ? notAModel(buf, n) : "truncated or corrupt: bad field tag at byte " + pos;
      }
      long tag = tagAndSize[0];
      int at = (int) tagAndSize[1];
      long fieldNo = tag >>> 3;
      int wireType = (int) (tag & 7);
      Field known = fieldNo <= Integer.MAX_VALUE ? FIELDS.get((int) fieldNo) : null;
      if (fields == 0 && (known == null || known.wireType != wireType)) {
        return notAModel(buf, n);
      }
      if (fieldNo == 0 || fieldNo > 536_870_911L) {
        return "corrupt: invalid field number " + fieldNo + " at byte " + pos;
      }
      if (known != null && known.wireType != wireType) {
        return "corrupt: ModelProto field " + fieldNo + " (" + known.name + ") at byte " + pos + " has wire type "
            + wireType + ", expected " + known.wireType;
      }
      long next;
      switch (wireType) {
        case 0: {
          long[] v = varint(buf, at, n);
          if (v == null) {
            return "truncated or corrupt: bad varint in field " + fieldNo + " at byte " + pos;
          }
          next = pos + v[1];
          break;
        }
        case 1:
          next = pos + at + 8;
          break;
        case 5:
          next = pos + at + 4;
          break;
        case 2: {
          long[] v = varint(buf, at, n);
          if (v == null) {
            return "truncated or corrupt: bad length in field " + fieldNo + " at byte " + pos;
          }
          long length = v[0];
          long start = pos + v[1];
          if (length < 0 || length > len - start) {
            return "truncated: field " + fieldNo + (known != null ? " (" + known.name + ")" : "") + " at byte " + pos
                + " declares " + (length < 0 ? "a negative number of" : Long.toString(length)) + " bytes but only "
                + (len - start) + " remain";
          }
          next = start + length;
          break;
        }
        default:
          return "corrupt: wire type " + wireType + " of field " + fieldNo + " at byte " + pos + " is not used by ONNX";
      }
      if (next > len) {
        return "truncated: field " + fieldNo + " at byte " + pos + " runs past the end of the data (" + len + " bytes)";
      }
      pos = next;
      fields++;
    }
    return null;
  }

  private static String notAModel(byte[] buf, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < Math.min(n, 8); i++) {
      sb.append(String.format("%02x", buf[i] & 0xff));
    }
    return "its bytes do not start like an ONNX ModelProto (first bytes 0x" + sb + ")";
  }

  /** Decodes a varint at buf[at..n); returns {value, index after it} or null if malformed or cut. */
  private static long[] varint(byte[] buf, int at, int n) {
    long value = 0;
    for (int i = 0; i < 10 && at + i < n; i++) {
      int b = buf[at + i] & 0xff;
      value |= (long) (b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) {
        return new long[] {value, at + i + 1};
      }
    }
    return null;
  }
}
