package dev.forge.compiler.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ClassSubsetTest {
    /** Eight one-pixel samples whose pixel value is the sample index; labels 0 1 2 0 1 2 0 1. */
    static final ImageDataset DATA = ImageDataset.of(
            "toy",
            new byte[] {0, 1, 2, 3, 4, 5, 6, 7},
            new int[] {0, 1, 2, 0, 1, 2, 0, 1},
            new long[] {1, 1, 1},
            List.of("a", "b", "c"));

    static float pixel(Dataset d, int i) {
        float[] x = new float[1];
        d.copySample(i, x, 0);
        return x[0] * 255f;
    }

    @Test
    void keeps_the_classes_in_the_order_given_and_relabels_them() {
        Dataset d = DATA.classes(Integer.MAX_VALUE, 2, 0);
        assertEquals(List.of("c", "a"), d.classNames());
        assertEquals(2, d.numClasses());
        assertEquals(5, d.size());
        long[] labels = new long[d.size()];
        float[] pixels = new float[d.size()];
        for (int i = 0; i < d.size(); i++) {
            labels[i] = d.label(i);
            pixels[i] = pixel(d, i);
        }
        assertArrayEquals(new long[] {1, 0, 1, 0, 1}, labels, "c is now 0, a is 1");
        assertArrayEquals(new float[] {0, 2, 3, 5, 6}, pixels, "samples of a and c, in the data set's order");
    }

    @Test
    void keeps_at_most_per_class_samples_the_first_ones() {
        Dataset d = DATA.classes(2, 0, 1);
        assertEquals(4, d.size());
        for (int i = 0; i < d.size(); i++) {
            assertTrue(pixel(d, i) < 5, "the first two of each class are samples 0, 1, 3, 4");
        }
    }

    @Test
    void bad_class_lists_are_refused_with_the_reason() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DATA.classes(1, 3))
                .getMessage()
                .contains("class 3 is not one of the data set's 3 classes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DATA.classes(1, 1, 1))
                .getMessage()
                .contains("listed twice"));
        assertThrows(IllegalArgumentException.class, () -> DATA.classes(0, 1));
        assertThrows(IllegalArgumentException.class, () -> DATA.classes(1));
    }

    @Test
    void passes_the_augmentation_draw_through() {
        Dataset drawn = new Dataset() {
            public int size() {
                return DATA.size();
            }

            public long[] sampleShape() {
                return DATA.sampleShape();
            }

            public int numClasses() {
                return DATA.numClasses();
            }

            public List<String> classNames() {
                return DATA.classNames();
            }

            public void copySample(int index, float[] dst, int offset) {
                dst[offset] = -1;
            }

            public void copySample(int index, float[] dst, int offset, long draw) {
                dst[offset] = draw;
            }

            public long label(int index) {
                return DATA.label(index);
            }
        };
        float[] x = new float[1];
        drawn.classes(1, 2).copySample(0, x, 0, 42);
        assertEquals(42f, x[0]);
    }
}
