package dev.forge.compiler.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AugmentationTest {
    static final int C = 3;
    static final int H = 8;
    static final int W = 10;

    /** 12 random RGB images [3, 8, 10], 3 classes. */
    static ImageDataset images() {
        byte[] px = new byte[12 * C * H * W];
        new SplittableRandom(5).nextBytes(px);
        int[] labels = new int[12];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = i % 3;
        }
        return ImageDataset.of("random images", px, labels, new long[] {C, H, W}, List.of("a", "b", "c"));
    }

    /** Every batch of two epochs, as float arrays. */
    static List<float[]> batches(Dataset d, long seed, int prefetch) {
        List<float[]> out = new ArrayList<>();
        try (DataLoader l = DataLoader.builder(d, 5)
                .shuffle(true)
                .seed(seed)
                .prefetch(prefetch)
                .augment(true)
                .build()) {
            for (int e = 0; e < 2; e++) {
                for (Batch b : l.epoch(e)) {
                    out.add(b.inputs().toFloatArray());
                }
            }
        }
        return out;
    }

    static float[] sample(Dataset d, int i) {
        float[] x = new float[d.sampleSize()];
        d.copySample(i, x, 0);
        return x;
    }

    @Test
    void the_same_seed_gives_the_same_batches_with_or_without_the_producer_thread() {
        Dataset aug = Augmentation.parse("crop,flip,jitter")
                .apply(Normalize.of(0.5f, 0.25f).apply(images()));
        List<float[]> a = batches(aug, 7, 0);
        List<float[]> b = batches(aug, 7, 3);
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            assertArrayEquals(a.get(i), b.get(i), "batch " + i);
        }
        List<float[]> other = batches(aug, 8, 2);
        assertFalse(Arrays.equals(a.get(0), other.get(0)), "another seed gives other batches");
        // the two epochs of one run differ too: a sample is augmented anew each epoch
        float[] once = new float[aug.sampleSize()];
        float[] again = new float[aug.sampleSize()];
        aug.copySample(3, once, 0, DataLoader.draw(7, 0, 3));
        aug.copySample(3, again, 0, DataLoader.draw(7, 1, 3));
        assertFalse(Arrays.equals(once, again));
    }

    @Test
    void without_a_draw_and_in_a_loader_that_does_not_augment_the_images_are_unchanged() {
        ImageDataset d = images();
        Dataset aug = Augmentation.parse("crop,flip,jitter").apply(d);
        for (int i = 0; i < d.size(); i++) {
            assertArrayEquals(sample(d, i), sample(aug, i));
        }
        try (DataLoader plain = DataLoader.builder(aug, 12).build();
                DataLoader orig = DataLoader.builder(d, 12).build()) {
            assertArrayEquals(
                    orig.epoch(0).next().inputs().toFloatArray(),
                    plain.epoch(0).next().inputs().toFloatArray());
        }
    }

    @Test
    void the_flip_mirrors_every_row_and_a_coin_flip_gives_the_image_or_its_mirror() {
        ImageDataset d = images();
        Dataset always = Augmentation.builder().horizontalFlip(1).build().apply(d);
        float[] x = sample(d, 0);
        float[] y = new float[x.length];
        always.copySample(0, y, 0, 42);
        for (int c = 0; c < C; c++) {
            for (int r = 0; r < H; r++) {
                for (int k = 0; k < W; k++) {
                    assertEquals(x[(c * H + r) * W + k], y[(c * H + r) * W + (W - 1 - k)]);
                }
            }
        }
        Dataset half = Augmentation.builder().horizontalFlip(0.5).build().apply(d);
        int flipped = 0;
        for (int draw = 0; draw < 200; draw++) {
            half.copySample(0, y, 0, draw);
            float[] mirror = new float[x.length];
            always.copySample(0, mirror, 0, draw);
            boolean same = Arrays.equals(x, y);
            assertTrue(same || Arrays.equals(mirror, y));
            flipped += same ? 0 : 1;
        }
        assertTrue(flipped > 70 && flipped < 130, flipped + " of 200 flipped");
    }

    @Test
    void a_crop_keeps_the_shape_and_takes_its_pixels_from_inside_the_image() {
        // a horizontal ramp, the same in every row: x = (col + 0.5) / W
        byte[] px = new byte[C * H * W];
        for (int c = 0; c < C; c++) {
            for (int r = 0; r < H; r++) {
                for (int k = 0; k < W; k++) {
                    px[(c * H + r) * W + k] = (byte) (k * 25);
                }
            }
        }
        ImageDataset ramp = ImageDataset.of("ramp", px, new int[] {0}, new long[] {C, H, W}, List.of("a"));
        Augmentation crop = Augmentation.builder().randomResizedCrop().build();
        SplittableRandom r = new SplittableRandom(3);
        for (int t = 0; t < 50; t++) {
            long draw = r.nextLong();
            int[] box = crop.cropBox(H, W, new SplittableRandom(draw));
            assertTrue(box[0] >= 0 && box[1] >= 0 && box[2] >= 1 && box[3] >= 1, Arrays.toString(box));
            assertTrue(box[0] + box[2] <= H && box[1] + box[3] <= W, Arrays.toString(box));
            Dataset aug = crop.apply(ramp);
            float[] y = new float[aug.sampleSize()];
            aug.copySample(0, y, 0, draw);
            assertEquals(C * H * W, y.length);
            float lo = (box[1] * 25) / 255f;
            float hi = ((box[1] + box[3] - 1) * 25) / 255f;
            for (int c = 0; c < C; c++) {
                for (int row = 0; row < H; row++) {
                    for (int k = 0; k < W; k++) {
                        float v = y[(c * H + row) * W + k];
                        // every row the same ramp, within the crop's columns, never decreasing
                        assertEquals(y[k], v, 1e-6, "row " + row);
                        assertTrue(v >= lo - 1e-6 && v <= hi + 1e-6, v + " outside the crop's " + lo + ".." + hi);
                        if (k > 0) {
                            assertTrue(v >= y[(c * H + row) * W + k - 1] - 1e-6);
                        }
                    }
                }
            }
        }
        // scale 1 and ratio W/H: the crop is the whole image, returned unchanged
        Augmentation whole = Augmentation.builder()
                .randomResizedCrop(1, 1, (double) W / H, (double) W / H)
                .build();
        float[] y = new float[C * H * W];
        whole.apply(ramp).copySample(0, y, 0, 9);
        assertArrayEquals(sample(ramp, 0), y);
    }

    @Test
    void jitter_stays_in_the_unit_range_under_the_normalization() {
        ImageDataset d = images();
        Normalize norm = Normalize.of(new float[] {0.5f, 0.4f, 0.3f}, new float[] {0.2f, 0.2f, 0.2f});
        Dataset aug = Augmentation.builder().colorJitter(0.5, 0.5, 0.5).build().apply(norm.apply(d));
        float[] y = new float[aug.sampleSize()];
        aug.copySample(1, y, 0, 11);
        float[] x = sample(d, 1);
        boolean changed = false;
        for (int i = 0; i < y.length; i++) {
            int c = i / (H * W);
            float unit = y[i] * 0.2f + new float[] {0.5f, 0.4f, 0.3f}[c];
            assertTrue(unit >= -1e-5 && unit <= 1 + 1e-5, "value " + i + " = " + unit + " before normalization");
            changed |= Math.abs(unit - x[i]) > 1e-3;
        }
        assertTrue(changed);
    }

    @Test
    void names_parse_and_bad_ones_are_listed() {
        assertEquals("flip(0.500)", Augmentation.parse("flip").toString());
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Augmentation.parse("flip,rotate"));
        assertTrue(e.getMessage().contains("unknown 'rotate'; use a comma-separated list of crop, flip, jitter"));
        e = assertThrows(
                IllegalArgumentException.class,
                () -> Augmentation.parse("flip")
                        .apply(NpyDataset.of(
                                dev.forge.runtime.Tensor.of(new float[4], 1, 4),
                                dev.forge.runtime.Tensor.of(new float[1], 1, 1),
                                0)));
        assertTrue(e.getMessage().contains("images [1 or 3, H, W]"), e.getMessage());
    }
}
