package dev.forge.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.Model;
import dev.forge.runtime.ModelMetadata;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo of docs/TRANSFER.md end to end at a tiny budget: it runs, exports four models and prints its table. */
class TransferDemoTest {
    @Test
    void runs_every_arm_and_prints_the_table(@TempDir Path dir) throws Exception {
        String text = demo(
                "--pretrain-epochs",
                "1",
                "--pretrain-images",
                "200",
                "--labels",
                "10",
                "--epochs",
                "1",
                "--out",
                dir.toString());
        assertTrue(text.contains("task B: 50 labelled images (10 per class), 5000 test images"), text);
        assertEquals(1, text.lines().filter(l -> l.startsWith("| pretrain")).count(), text);
        assertEquals(3, text.lines().filter(l -> l.startsWith("| task B")).count(), text);
        for (String name : List.of("clothing", "scratch", "frozen", "whole")) {
            try (Model m = Model.load(dir.resolve(name + ".onnx"))) {
                assertEquals(5, m.outputs().get(0).shape()[1], name + " has five classes");
            }
        }
        try (Model m = Model.load(dir.resolve("frozen.onnx"))) {
            assertEquals(
                    List.of("Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
                    ModelMetadata.classLabels(m.metadata()),
                    "task B's class names travel with the export");
        }
        String again = demo(
                "--backbone",
                dir.resolve("clothing.onnx").toString(),
                "--labels",
                "2",
                "--epochs",
                "1",
                "--out",
                dir.resolve("again").toString());
        assertEquals(3, again.lines().filter(l -> l.startsWith("| task B")).count(), again);
        assertTrue(again.lines().noneMatch(l -> l.startsWith("| pretrain")), "--backbone skips pretraining: " + again);
    }

    static String demo(String... args) throws Exception {
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            TransferDemo.main(args);
        } finally {
            System.setOut(stdout);
        }
        return captured.toString(StandardCharsets.UTF_8);
    }
}
