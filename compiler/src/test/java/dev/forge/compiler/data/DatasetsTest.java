package dev.forge.compiler.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetsTest {
    @TempDir
    Path dir;

    @Test
    void random_is_the_seeds_one_sample_the_same_every_time_for_train_and_test() {
        Datasets.Split a = Datasets.open("random", new long[] {1, 4, 4}, 2, null);
        Datasets.Split b = Datasets.open("random", new long[] {1, 4, 4}, 2, null);
        assertSame(a.train(), a.test());
        assertEquals(1, a.train().size());
        assertArrayEquals(new long[] {1, 4, 4}, a.train().sampleShape());
        assertArrayEquals(new long[] {2}, a.train().targetShape());
        float[] x = new float[16];
        float[] y = new float[16];
        a.train().copySample(0, x, 0);
        b.train().copySample(0, y, 0);
        assertArrayEquals(x, y);
        assertTrue(x[0] != x[1], "standard-normal values, not a constant");
        assertNull(a.normalize());
        assertEquals(java.util.List.of(), a.classNames());
    }

    @Test
    void random_for_a_classifier_has_int64_labels_of_the_models_classes() {
        Datasets.Split a = Datasets.open("random", new long[] {1, 4, 4}, 3, true, null, null);
        assertSame(a.train(), a.test());
        assertEquals(Datasets.RANDOM_SAMPLES, a.train().size());
        assertEquals(3, a.train().numClasses());
        assertTrue(a.train().isClassification());
        java.util.Set<Long> seen = new java.util.TreeSet<>();
        for (int i = 0; i < a.train().size(); i++) {
            seen.add(a.train().label(i));
        }
        assertEquals(java.util.Set.of(0L, 1L, 2L), seen);
        // no output size (eval and predict of a model whose output is not [batch, K]): one clear error
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Datasets.open("random", new long[] {1, 4, 4}, -1, true, null, null));
        assertTrue(e.getMessage().contains("output size"), e.getMessage());
    }

    @Test
    void the_image_background_is_dark_for_light_on_dark_images_and_light_for_the_inverse() {
        byte[] dark = new byte[2 * 8 * 8];
        byte[] light = new byte[2 * 8 * 8];
        for (int i = 0; i < dark.length; i++) {
            int y = (i % 64) / 8;
            int x = i % 8;
            boolean ink = x > 2 && x < 5 && y > 1 && y < 6;
            dark[i] = (byte) (ink ? 255 : 10);
            light[i] = (byte) (255 - (dark[i] & 0xff));
        }
        long[] shape = {1, 8, 8};
        Dataset d = ImageDataset.of("dark", dark, new int[] {0, 1}, shape, java.util.List.of("a", "b"));
        Dataset l = ImageDataset.of("light", light, new int[] {0, 1}, shape, java.util.List.of("a", "b"));
        assertEquals(java.util.Optional.of("dark"), Datasets.imageBackground(d, null));
        assertEquals(java.util.Optional.of("light"), Datasets.imageBackground(l, null));
        // normalization is undone: MNIST normalized with its mean and std is still dark
        Normalize n = Normalize.of(0.1307f, 0.3081f);
        assertEquals(java.util.Optional.of("dark"), Datasets.imageBackground(n.apply(d), n));
    }

    @Test
    void an_explicit_normalization_is_applied_to_both_splits() {
        Datasets.Split plain = Datasets.open("random", new long[] {1, 2, 2}, 1, null);
        Datasets.Split norm = Datasets.open("random", new long[] {1, 2, 2}, 1, Normalize.of(1f, 2f));
        float[] x = new float[4];
        float[] n = new float[4];
        plain.train().copySample(0, x, 0);
        norm.test().copySample(0, n, 0);
        for (int i = 0; i < 4; i++) {
            assertEquals((x[i] - 1f) / 2f, n[i]);
        }
    }

    @Test
    void bad_specs_say_what_is_wrong_and_the_valid_forms() {
        long[] shape = {1, 28, 28};
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Datasets.open("imagenet", shape, 10, null));
        assertTrue(e.getMessage().startsWith("unknown data set 'imagenet'; use mnist, "), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Datasets.open("cifar10", shape, 10, null));
        assertTrue(e.getMessage().contains("'cifar10' needs a directory"), e.getMessage());
        Path missing = dir.resolve("missing");
        e = assertThrows(IllegalArgumentException.class, () -> Datasets.open("cifar10:" + missing, shape, 10, null));
        assertTrue(e.getMessage().contains(missing + ": no such directory"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Datasets.open("folder:" + dir, shape, 10, null));
        assertTrue(e.getMessage().contains("must contain train/ and test/ folders"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class, () -> Datasets.open("folder:" + dir, new long[] {784}, 10, null));
        assertTrue(e.getMessage().contains("needs a model input [N, C, H, W]"), e.getMessage());
    }

    @Test
    void samples_of_another_shape_than_the_model_input_are_refused() {
        // Fashion-MNIST (the Debian package the build installs) is 1x28x28; SimpleNet's input is 1x32x32
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> Datasets.open("fashion-mnist", new long[] {1, 32, 32}, 2, null));
        assertEquals(
                "data set 'fashion-mnist' has samples of shape [1, 28, 28] but the model expects [1, 32, 32]",
                e.getMessage());
        Datasets.Split ok = Datasets.open("fashion-mnist", new long[] {1, 28, 28}, 10, null);
        assertEquals("Bag", ok.classNames().get(8));
        assertEquals(10000, ok.test().size());
    }

    @Test
    void npy_files_give_one_split_for_both_or_a_train_and_a_test_split() {
        float[] x = new float[6 * 4];
        for (int i = 0; i < x.length; i++) {
            x[i] = i;
        }
        Path xs = dir.resolve("x.npy");
        Path ys = dir.resolve("y.npy");
        Path tx = dir.resolve("tx.npy");
        Path ty = dir.resolve("ty.npy");
        Npy.write(xs, Tensor.of(x, 6, 1, 2, 2));
        Npy.write(ys, Tensor.of(new long[] {0, 1, 2, 0, 1, 2}, 6));
        Npy.write(tx, Tensor.of(java.util.Arrays.copyOf(x, 8), 2, 1, 2, 2));
        Npy.write(ty, Tensor.of(new long[] {1, 0}, 2));
        long[] shape = {1, 2, 2};
        Datasets.Split one = Datasets.open("npy:" + xs + "," + ys, shape, -1, null);
        assertSame(one.train(), one.test());
        assertEquals(6, one.train().size());
        assertEquals(3, one.train().numClasses());
        Datasets.Split two = Datasets.open("npy:" + xs + "," + ys + "," + tx + "," + ty, shape, -1, null);
        assertEquals(2, two.test().size());
        assertEquals(3, two.test().numClasses());
        assertEquals(1, two.test().label(0));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Datasets.open("npy:" + xs, shape, -1, null));
        assertTrue(e.getMessage().contains("X.npy,Y.npy"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> Datasets.open("npy:" + xs + "," + ys, new long[] {1, 28, 28}, -1, null));
        assertTrue(e.getMessage().contains("[1, 2, 2]"), e.getMessage());
    }
}
