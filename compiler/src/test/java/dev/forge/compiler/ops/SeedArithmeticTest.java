package dev.forge.compiler.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Padding;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import org.junit.jupiter.api.Test;

/** The seed's worked examples of the output-size formula H2 = (H1 - F + 2P)/S + 1 (section 5). */
class SeedArithmeticTest {

    @Test
    void example1_32x32x1_with_50_filters_5x5_stride1_pad1_gives_30x30x50() {
        GraphBuilder b = new GraphBuilder("ex1");
        Value x = b.input("input", Shape.of("N", 1, 32, 32));
        Value y = b.conv2d("conv", x, Conv2d.of(50, 5).stride(1).padding(1));
        assertEquals(Shape.of("N", 50, 30, 30), y.shape());
        assertEquals(30, ConvArithmetic.outputSize(32, 5, 1, 1, 1));
    }

    @Test
    void example2_3x3_filters_stride1_on_32x32_need_padding_1_for_same_output() {
        assertArrayEquals(new long[] {1, 1}, ConvArithmetic.samePadding(32, 3, 1, 1));
        GraphBuilder b = new GraphBuilder("ex2");
        Value x = b.input("input", Shape.of("N", 1, 32, 32));
        Value y = b.conv2d("conv", x, Conv2d.of(50, 3).padding(Padding.same()));
        assertEquals(Shape.of("N", 50, 32, 32), y.shape());
        Attribute.Ints pads = (Attribute.Ints) b.graph().node("conv").attr("pads");
        assertArrayEquals(new long[] {1, 1, 1, 1}, pads.values());
        // Solving 32 = (32 - 3 + 2P)/1 + 1 for P gives P = 1: the explicit form agrees.
        assertEquals(32, ConvArithmetic.outputSize(32, 3, 1, 1, 1));
    }

    @Test
    void pooling_224x224x64_window2_stride2_gives_112x112x64() {
        GraphBuilder b = new GraphBuilder("pool");
        Value x = b.input("input", Shape.of("N", 64, 224, 224));
        Value y = b.maxPool("pool", x, Pool2d.of(2).stride(2));
        assertEquals(Shape.of("N", 64, 112, 112), y.shape());
    }

    @Test
    void image5x5_filter3x3_gives_3x3_at_stride1_and_2x2_at_stride2() {
        GraphBuilder b = new GraphBuilder("small");
        Value x = b.input("input", Shape.of(1, 1, 5, 5));
        assertEquals(
                Shape.of(1, 1, 3, 3),
                b.conv2d("s1", x, Conv2d.of(1, 3).stride(1)).shape());
        assertEquals(
                Shape.of(1, 1, 2, 2),
                b.conv2d("s2", x, Conv2d.of(1, 3).stride(2)).shape());
    }

    @Test
    void fractional_output_is_rejected_with_the_arithmetic_and_a_fix() {
        GraphBuilder b = new GraphBuilder("bad");
        Value x = b.input("input", Shape.of("N", 1, 32, 32));
        ShapeException e = assertThrows(
                ShapeException.class, () -> b.conv2d("conv1", x, Conv2d.of(6, 5).stride(2)));
        assertTrue(
                e.getMessage()
                        .startsWith(
                                "Conv(conv1): output height (32 - 5 + 2*0)/2 + 1 = 14.5 is not a whole number; change stride or padding"),
                e.getMessage());
    }

    @Test
    void round_down_floors_like_pytorch() {
        GraphBuilder b = new GraphBuilder("floor").roundDown();
        Value x = b.input("input", Shape.of("N", 1, 32, 32));
        assertEquals(
                Shape.of("N", 6, 14, 14),
                b.conv2d("conv1", x, Conv2d.of(6, 5).stride(2)).shape());
    }

    @Test
    void output_below_one_is_rejected() {
        GraphBuilder b = new GraphBuilder("tiny");
        Value x = b.input("input", Shape.of("N", 1, 3, 3));
        ShapeException e = assertThrows(ShapeException.class, () -> b.conv2d("conv1", x, Conv2d.of(4, 5)));
        assertTrue(
                e.getMessage().contains("Conv(conv1): output height (3 - 5 + 2*0)/1 + 1 = -1 is below 1"),
                e.getMessage());
        assertTrue(e.getMessage().contains("add padding"), e.getMessage());
    }

    @Test
    void pooling_fraction_is_rejected_too() {
        GraphBuilder b = new GraphBuilder("pool");
        Value x = b.input("input", Shape.of("N", 3, 7, 7));
        ShapeException e = assertThrows(ShapeException.class, () -> b.maxPool("pool", x, Pool2d.of(2)));
        assertTrue(
                e.getMessage()
                        .startsWith("MaxPool(pool): output height (7 - 2 + 2*0)/2 + 1 = 3.5 is not a whole number"),
                e.getMessage());
    }

    @Test
    void dilation_uses_the_effective_window() {
        GraphBuilder b = new GraphBuilder("dil");
        Value x = b.input("input", Shape.of("N", 2, 9, 9));
        // effective window (3 - 1) * 2 + 1 = 5: (9 - 5 + 0)/1 + 1 = 5
        assertEquals(
                Shape.of("N", 4, 5, 5),
                b.conv2d("c", x, Conv2d.of(4, 3).dilation(2)).shape());
    }
}
