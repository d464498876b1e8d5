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
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            TransferDemo.main(new String[] {
                "--pretrain-epochs",
                "1",
                "--pretrain-images",
                "200",
                "--labels",
                "10",
                "--epochs",
                "1",
                "--out",
                dir.toString()
            });
        } finally {
            System.setOut(stdout);
        }
        String text = captured.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("task B: 50 labelled images (10 per class), 5000 test images"), text);
        assertEquals(
                4,
                text.lines()
                        .filter(l -> l.startsWith("| pretrain") || l.startsWith("| task B"))
                        .count(),
                text);
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
    }
}
