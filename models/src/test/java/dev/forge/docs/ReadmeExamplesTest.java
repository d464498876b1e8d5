package dev.forge.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/** Every Java example of README.md compiles as written and runs (the "the README example is compiled and run"). */
class ReadmeExamplesTest {
    /** A README example may train a small net; a hung one fails rather than stalling the build. */
    private static final Duration TIMEOUT = Duration.ofMinutes(4);

    @TempDir
    Path tmp;

    private static Path readme() {
        // tests run in models/; the README is at the root of the tree
        Path p = Path.of("").toAbsolutePath().getParent().resolve("README.md");
        assertTrue(Files.isRegularFile(p), "README.md not found at " + p);
        return p;
    }

    @TestFactory
    Stream<DynamicTest> every_java_block_of_the_readme_compiles_and_runs() throws IOException {
        List<ReadmeExamples.Block> blocks = ReadmeExamples.javaBlocks("README.md", Files.readString(readme()));
        return blocks.stream()
                .map(b -> DynamicTest.dynamicTest("README.md line " + b.line(), () -> {
                    Path work = Files.createTempDirectory(tmp, "readme-" + b.line() + "-");
                    ReadmeExamples.compileAndRun(b, work, TIMEOUT);
                }));
    }

    @Test
    void the_readme_has_java_blocks_to_check() throws IOException {
        assertFalse(
                ReadmeExamples.javaBlocks("README.md", Files.readString(readme()))
                        .isEmpty(),
                "README.md has no ```java block: the library section should show one");
    }

    private static final String FIXTURE = """
            # A fixture

            Some prose, and a block in another language that is not checked:

            ```bash
            echo not java
            ```

            ```java
            import dev.forge.compiler.builder.GraphBuilder;
            import dev.forge.compiler.ir.Graph;
            import dev.forge.compiler.ir.Shape;
            import dev.forge.compiler.ir.Value;
            import dev.forge.compiler.onnx.OnnxWriter;
            import dev.forge.runtime.Model;
            import java.nio.file.Path;

            public class Tiny {
                public static void main(String[] args) {
                    GraphBuilder b = new GraphBuilder("tiny").seed(0);
                    Value x = b.input("input", Shape.of("N", 3));
                    Graph net = b.output(b.relu(x), "y").build();
                    OnnxWriter.write(net, Path.of("tiny.onnx"));
                    try (Model m = Model.load(Path.of("tiny.onnx"))) {
                        System.out.println("outputs " + m.outputs().size());
                    }
                }
            }
            ```

            ```java
            public class Broken {
                public static void main(String[] args) {
                    TrainingLoop.run(config);
                }
            }
            ```

            ```java
            public class Throws {
                public static void main(String[] args) {
                    throw new IllegalStateException("the example broke");
                }
            }
            ```

            ```java
            GraphBuilder b = new GraphBuilder("a fragment, not a unit");
            ```

            ```java
            public class Sleeps {
                public static void main(String[] args) throws Exception {
                    Thread.sleep(60_000);
                }
            }
            ```
            """;

    private static ReadmeExamples.Block fixtureBlock(int index) {
        return ReadmeExamples.javaBlocks("fixture.md", FIXTURE).get(index);
    }

    @Test
    void only_java_blocks_are_extracted_with_the_line_of_their_fence() {
        List<ReadmeExamples.Block> blocks = ReadmeExamples.javaBlocks("fixture.md", FIXTURE);
        assertEquals(5, blocks.size());
        assertEquals(9, blocks.get(0).line());
        assertTrue(blocks.get(0).code().startsWith("import dev.forge.compiler.builder.GraphBuilder;\n"));
        assertTrue(blocks.get(0).code().endsWith("}\n"));
        assertEquals("Tiny", ReadmeExamples.mainClass(blocks.get(0)));
    }

    @Test
    void a_complete_block_compiles_and_runs_in_its_own_working_directory() {
        String out = ReadmeExamples.compileAndRun(fixtureBlock(0), tmp, TIMEOUT);
        assertEquals("outputs 1", out.strip());
        assertTrue(
                Files.isRegularFile(tmp.resolve("tiny.onnx")),
                "the example's relative path should land in its working directory");
    }

    @Test
    void a_block_that_does_not_compile_fails_with_its_line_and_javacs_diagnostics() {
        AssertionError e =
                assertThrows(AssertionError.class, () -> ReadmeExamples.compileAndRun(fixtureBlock(1), tmp, TIMEOUT));
        // fence on line 31, so the block's third line (the call) is line 34 of the file
        assertTrue(e.getMessage().startsWith("fixture.md:31: the ```java block does not compile:"), e.getMessage());
        assertTrue(e.getMessage().contains("fixture.md:34: cannot find symbol"), e.getMessage());
        assertTrue(e.getMessage().contains("TrainingLoop"), e.getMessage());
    }

    @Test
    void a_block_whose_main_throws_fails_with_its_status_and_output() {
        AssertionError e =
                assertThrows(AssertionError.class, () -> ReadmeExamples.compileAndRun(fixtureBlock(2), tmp, TIMEOUT));
        assertTrue(e.getMessage().startsWith("fixture.md:39: Throws exited with status 1"), e.getMessage());
        assertTrue(e.getMessage().contains("IllegalStateException: the example broke"), e.getMessage());
    }

    @Test
    void a_fragment_is_refused_as_not_a_complete_unit() {
        AssertionError e =
                assertThrows(AssertionError.class, () -> ReadmeExamples.compileAndRun(fixtureBlock(3), tmp, TIMEOUT));
        assertTrue(
                e.getMessage().startsWith("fixture.md:47: the ```java block is not a complete compilation unit"),
                e.getMessage());
    }

    @Test
    void a_block_that_runs_too_long_is_stopped_and_fails() {
        AssertionError e = assertThrows(
                AssertionError.class, () -> ReadmeExamples.compileAndRun(fixtureBlock(4), tmp, Duration.ofSeconds(3)));
        assertTrue(e.getMessage().startsWith("fixture.md:51: Sleeps still ran after 3 s"), e.getMessage());
    }
}
