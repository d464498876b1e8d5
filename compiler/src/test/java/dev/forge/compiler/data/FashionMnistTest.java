package dev.forge.compiler.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reads the real Fashion-MNIST installed by the Debian package {@code dataset-fashion-mnist}. Without
 * the package the test fails, saying to install it — it is never skipped.
 */
class FashionMnistTest {
    @TempDir
    Path dir;

    @Test
    void readsTheDebianPackage() {
        ImageDataset train = FashionMnist.train();
        ImageDataset test = FashionMnist.test();
        assertEquals(60000, train.size());
        assertEquals(10000, test.size());
        assertEquals(10, train.numClasses());
        assertEquals("Sneaker", train.classNames().get(7));
        assertEquals("Bag", train.classNames().get(8));
        assertArrayEquals(new long[] {1, 28, 28}, test.sampleShape());
        assertArrayEquals(new int[] {6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000}, train.classCounts());
        assertArrayEquals(new int[] {1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}, test.classCounts());
        assertEquals(9, train.label(0), "the first training image is an ankle boot");
        float[] x = new float[784];
        train.copySample(0, x, 0);
        float max = 0;
        for (float v : x) {
            assertTrue(v >= 0f && v <= 1f);
            max = Math.max(max, v);
        }
        assertTrue(max > 0.5f);
    }

    @Test
    void missingFilesSayWhatToInstall() {
        DatasetException e = assertThrows(DatasetException.class, () -> FashionMnist.test(dir));
        assertTrue(e.getMessage().contains("t10k-images-idx3-ubyte.gz"), e.getMessage());
        assertTrue(e.getMessage().contains("dataset-fashion-mnist"), e.getMessage());
    }
}
